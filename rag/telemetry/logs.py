"""Logging set-up for the server: one JSON object per line (python-json-logger) on stderr, or plain
text; the request log (`REQUEST_LOG`) writes one line per HTTP request with its fields as keys."""

from __future__ import annotations

import logging
import sys
from typing import Literal, TextIO

from pythonjsonlogger.json import JsonFormatter

REQUEST_LOG = logging.getLogger("rag.requests")
LogFormat = Literal["json", "text"]


def json_formatter() -> logging.Formatter:
    """`{"time", "level", "logger", "message", ...}`: a record's `extra` fields become keys."""
    return JsonFormatter(
        ["levelname", "name", "message"],
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp="time",
        json_ensure_ascii=False,
    )


class _Ours(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler `setup_logging` installs (and replaces when called again)."""


def setup_logging(
    level: str = "INFO", fmt: LogFormat = "json", stream: TextIO | None = None
) -> logging.Handler:
    """Send every log record at `level` or above to `stream` (stderr) as JSON lines or as text.
    Servers whose loggers propagate (uvicorn with `log_config=None`) write through it too."""
    root = logging.getLogger()
    # Ours from an earlier call, and plain stream handlers (`logging.basicConfig`'s): one line per record.
    for handler in [h for h in root.handlers if isinstance(h, _Ours) or type(h) is logging.StreamHandler]:
        root.removeHandler(handler)
    handler = _Ours(stream or sys.stderr)
    handler.setFormatter(
        json_formatter()
        if fmt == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root.addHandler(handler)
    root.setLevel(level.upper())
    return handler


__all__ = ["REQUEST_LOG", "LogFormat", "json_formatter", "setup_logging"]
