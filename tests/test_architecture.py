"""docs/ARCHITECTURE.md stays true: every dotted name it mentions imports, and layers do not leak."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
PACKAGES = ("rag", "api", "ui", "eval", "cli", "ingest", "vectorstore")
NAMES = sorted(set(re.findall(rf"\b(?:{'|'.join(PACKAGES)})(?:\.[A-Za-z_]\w*)+", DOC)))


def resolve(dotted: str) -> object:
    """Import the longest module prefix, then walk attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(dotted)


def test_architecture__mentions_enough_names_to_be_checked() -> None:
    assert len(NAMES) >= 25, NAMES


@pytest.mark.parametrize("dotted", NAMES)
def test_architecture__every_name_it_mentions_exists(dotted: str) -> None:
    resolve(dotted)


def imports_of(package: str) -> set[str]:
    found: set[str] = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
            elif isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
    return found


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("rag", {"fastapi", "gradio", "api", "ui", "eval", "cli", "ingest"}),
        ("vectorstore", {"rag", "llama_index", "api", "ui"}),
        ("api", {"ui", "eval", "cli", "ingest", "gradio"}),
        ("ui", {"api", "eval", "cli", "ingest"}),
        ("eval", {"api", "ui", "cli", "ingest"}),
        ("ingest", {"api", "ui", "eval", "cli"}),
    ],
)
def test_architecture__layers_import_only_downwards(package: str, forbidden: set[str]) -> None:
    assert not imports_of(package) & forbidden
