"""Assigning questions to the dev and test parts: stratified by category and answerability,
deterministic, and stable (a question keeps its part when others are added).

    python -m eval.split eval/datasets/fr_news.jsonl   # gives a part to every question without one
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eval.dataset import SPLITS, load_questions


def _digest(question_id: str) -> int:
    return int.from_bytes(hashlib.sha256(question_id.encode("utf-8")).digest()[:8], "big")


def stratum(row: dict[str, Any]) -> tuple[str, bool]:
    return str(row.get("category", "")), bool(row.get("answerable"))


def assign_splits(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with a `split` keep it. The others, taken in the order of their id's SHA-256, each go to
    the part holding fewer questions of their stratum (category, answerable); a tie goes to the part
    the hash's parity names. The field is placed right after `id`."""
    counts: Counter[tuple[tuple[str, bool], str]] = Counter(
        (stratum(row), row["split"]) for row in rows if row.get("split")
    )
    chosen: dict[str, str] = {}
    for row in sorted((r for r in rows if not r.get("split")), key=lambda r: _digest(str(r["id"]))):
        key = stratum(row)
        dev, test = counts[(key, "dev")], counts[(key, "test")]
        part = SPLITS[_digest(str(row["id"])) % 2] if dev == test else ("dev" if dev < test else "test")
        counts[(key, part)] += 1
        chosen[str(row["id"])] = part
    placed = []
    for row in rows:
        part = row.get("split") or chosen[str(row["id"])]
        rest = {k: v for k, v in row.items() if k not in ("id", "split")}
        placed.append({"id": row["id"], "split": part, **rest})
    return placed


def split_file(path: Path) -> Counter[tuple[str, bool, str]]:
    """Rewrite `path` with a part for every question; return the counts per (category, answerable,
    part). The rewritten file is loaded back, so a malformed result is an error, not a silent file."""
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = assign_splits([json.loads(line) for line in lines])
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return Counter((q.category, q.answerable, q.split) for q in load_questions(path))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.split", description=__doc__)
    parser.add_argument("dataset", type=Path, help="JSON Lines question set, rewritten in place")
    args = parser.parse_args(argv)
    counts = split_file(args.dataset)
    for category, answerable in sorted({(c, a) for c, a, _ in counts}):
        dev, test = counts[(category, answerable, "dev")], counts[(category, answerable, "test")]
        kind = "answerable" if answerable else "unanswerable"
        print(f"{category or '-':<28} {kind:<13} dev {dev:>3}  test {test:>3}")
    for part in SPLITS:
        total = sum(n for (_, _, p), n in counts.items() if p == part)
        unanswerable = sum(n for (_, a, p), n in counts.items() if p == part and not a)
        print(f"{part}: {total} questions, {unanswerable} unanswerable")
    return 0


if __name__ == "__main__":
    sys.exit(main())
