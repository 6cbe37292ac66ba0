"""Every setting is documented in .env.example with its default and a line of help."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import SecretStr

from rag.settings import Settings

EXAMPLE = Path(__file__).resolve().parents[1] / ".env.example"


def documented() -> dict[str, tuple[str, str]]:
    """RAG_NAME -> (default written, help line above it)."""
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    out: dict[str, tuple[str, str]] = {}
    for i, line in enumerate(lines):
        match = re.match(r"^#?\s*(RAG_[A-Z0-9_]+)=(.*)$", line)
        if match:
            help_line = lines[i - 1] if i else ""
            out[match.group(1)] = (match.group(2), help_line)
    return out


def default_text(value: object) -> str:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value)


def test_env_example__lists_every_setting_with_its_default_and_help() -> None:
    doc = documented()
    fields = Settings.model_fields
    names = {f"RAG_{name.upper()}" for name in fields}
    assert set(doc) == names, f"missing: {names - set(doc)}, unknown: {set(doc) - names}"
    for name, field in fields.items():
        written, help_line = doc[f"RAG_{name.upper()}"]
        assert written == default_text(field.default), name
        assert help_line.startswith("# ") and len(help_line) > 10, name
        assert field.description, name
