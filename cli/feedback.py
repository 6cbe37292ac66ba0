"""`rag feedback export` (thumbs-down, and thumbs-up marked, as eval JSONL cases to review) and
`rag feedback stats` (counts by day, share of thumbs-down, most-disliked questions)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rag.history.feedback import export_cases, feedback_stats, format_stats
from rag.settings import Settings


def _since(value: str) -> datetime:
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def _entries(settings: Settings, since: datetime | None) -> list[Any]:
    from rag.compose import open_history

    store = open_history(settings)
    try:
        return store.feedback_entries(since=since)
    finally:
        store.close()


def export(args: argparse.Namespace, settings: Settings) -> int:
    cases = export_cases(_entries(settings, args.since), with_up=not args.down_only)
    text = "".join(json.dumps(case, ensure_ascii=False) + "\n" for case in cases)
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
    down = sum(case["feedback"]["rating"] == "down" for case in cases)
    review = sum(bool(case["feedback"]["review"]) for case in cases)
    where = f" -> {args.output}" if args.output else ""
    print(
        f"{len(cases)} cases ({down} thumbs-down, {len(cases) - down} thumbs-up), "
        f"{review} to complete before they join the dev set{where}",
        file=sys.stderr,
    )
    return 0


def stats(args: argparse.Namespace, settings: Settings) -> int:
    result = feedback_stats(_entries(settings, args.since), top=args.top)
    print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2) if args.json else format_stats(result))
    return 0


def add_feedback_parser(sub: Any, settings: Callable[[], Settings]) -> argparse.ArgumentParser:
    """`rag feedback {export,stats}` on the subcommands `sub`, reading settings with `settings()`."""
    feedback = sub.add_parser("feedback", help="export feedback as eval cases, or summarize it")
    commands = feedback.add_subparsers(dest="feedback_command", required=True)

    out = commands.add_parser("export", help="write feedback as eval JSON Lines cases (fr_news.jsonl format)")
    out.add_argument("-o", "--output", type=Path, default=None, help="JSONL file (default: stdout)")
    out.add_argument("--down-only", action="store_true", help="only the thumbs-down")
    out.add_argument("--since", type=_since, default=None, help="only feedback from this day on (YYYY-MM-DD)")
    out.set_defaults(func=lambda args: export(args, settings()))

    summary = commands.add_parser(
        "stats", help="counts by day, share of thumbs-down, most-disliked questions"
    )
    summary.add_argument("--json", action="store_true", help="print one JSON object")
    summary.add_argument("--top", type=int, default=10, help="most-disliked questions shown (default: 10)")
    summary.add_argument(
        "--since", type=_since, default=None, help="only feedback from this day on (YYYY-MM-DD)"
    )
    summary.set_defaults(func=lambda args: stats(args, settings()))
    return feedback
