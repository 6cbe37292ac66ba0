"""Eval inputs: question sets (with their dev and test parts) and labelled grounding pairs, read from
JSON Lines and checked line by line so that a malformed line is reported with its number."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from rag.errors import RagError

DATASETS = Path(__file__).resolve().parent / "datasets"
DEFAULT_DATASET = DATASETS / "fr_news.jsonl"
DEFAULT_PAIRS = DATASETS / "grounding_pairs.jsonl"
SPLITS = ("dev", "test")  # dev: read by tuning; test: held out, only reported and gated

T = TypeVar("T")


class DatasetError(RagError):
    """An eval input file is missing or malformed; the message names the file and the line."""

    code = "dataset_error"


@dataclass(frozen=True)
class Question:
    """One question of a set, with what a correct answer must contain and which files hold it."""

    id: str
    question: str
    answerable: bool
    sources: tuple[str, ...]
    must_include: tuple[tuple[str, ...], ...]
    reference: str = ""
    category: str = ""
    split: str = ""  # "dev", "test", or "" in a set without parts


@dataclass(frozen=True)
class GroundingPair:
    """A sentence, the passages it cites (and their articles' titles), and whether they support it."""

    id: str
    kind: str
    sentence: str
    passages: tuple[str, ...]
    context: tuple[str, ...]
    supported: bool


def _field(row: dict[str, Any], name: str, kind: type[T], check: Callable[[T], bool] | None = None) -> T:
    if name not in row:
        raise ValueError(f"missing field {name!r}")
    value = row[name]
    if not isinstance(value, kind) or (check is not None and not check(value)):
        raise ValueError(f"field {name!r} has an invalid value: {value!r}")
    return value


def _filled(value: str) -> bool:
    return bool(value.strip())


def _strings(value: list[Any]) -> bool:
    return all(isinstance(item, str) and item.strip() for item in value)


def _groups(value: list[Any]) -> bool:
    return all(isinstance(group, list) and group and _strings(group) for group in value)


def _question(row: dict[str, Any]) -> Question:
    answerable = _field(row, "answerable", bool)
    sources = _field(row, "sources", list, _strings)
    groups = _field(row, "must_include", list, _groups)
    if answerable and not sources:
        raise ValueError("an answerable question needs at least one file in 'sources'")
    if not answerable and (sources or groups):
        raise ValueError("an unanswerable question has empty 'sources' and 'must_include'")
    reference, category = row.get("reference", ""), row.get("category", "")
    split = row.get("split", "")
    if split not in ("", *SPLITS):
        raise ValueError(f"field 'split' must be one of {', '.join(SPLITS)}, not {split!r}")
    return Question(
        id=_field(row, "id", str, _filled),
        question=_field(row, "question", str, _filled),
        answerable=answerable,
        sources=tuple(sources),
        must_include=tuple(tuple(group) for group in groups),
        reference=reference if isinstance(reference, str) else "",
        category=category if isinstance(category, str) else "",
        split=split,
    )


def _pair(row: dict[str, Any]) -> GroundingPair:
    passages: list[str] = _field(row, "passages", list, lambda v: bool(v) and _strings(v))
    context: list[str] = _field(row, "context", list, _strings) if "context" in row else []
    return GroundingPair(
        id=_field(row, "id", str, _filled),
        kind=str(row.get("kind", "")),
        sentence=_field(row, "sentence", str, _filled),
        passages=tuple(passages),
        context=tuple(context),
        supported=_field(row, "supported", bool),
    )


def read_jsonl(path: Path, parse: Callable[[dict[str, Any]], T]) -> list[T]:
    """Parse every non-blank line of a JSON Lines file; DatasetError names the first bad line."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise DatasetError(f"The dataset {path} does not exist.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"The dataset {path} cannot be read: {exc}") from None
    items: list[T] = []
    ids: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict):
                raise ValueError("a line must be one JSON object")
            item = parse(row)
        except json.JSONDecodeError as exc:
            problem = f"invalid JSON ({exc.msg}, column {exc.colno})"
            raise DatasetError(f"{path}, line {number}: {problem}") from None
        except ValueError as exc:
            raise DatasetError(f"{path}, line {number}: {exc}") from None
        item_id = getattr(item, "id", None)
        if item_id in ids:
            raise DatasetError(f"{path}, line {number}: the id {item_id!r} is used twice")
        ids.add(str(item_id))
        items.append(item)
    if not items:
        raise DatasetError(f"The dataset {path} holds no question.")
    return items


def load_questions(path: Path = DEFAULT_DATASET, split: str | None = None) -> list[Question]:
    """Questions: {"id", "question", "answerable", "sources", "must_include", "reference", "category",
    "split"}. Either every question names its part (`split`) or none does. With `split`, only the
    questions of that part: tuning reads `split="dev"` and nothing else."""
    questions = read_jsonl(path, _question)
    parts = {q.split for q in questions}
    if "" in parts and len(parts) > 1:
        raise DatasetError(
            f"{path}: either every question has a 'split' ({' or '.join(SPLITS)}) or none has."
        )
    if split is None:
        return questions
    if split not in SPLITS:
        raise DatasetError(f"Unknown part {split!r} (known: {', '.join(SPLITS)}).")
    chosen = [q for q in questions if q.split == split]
    if not chosen:
        raise DatasetError(f"{path} has no question in the {split!r} part.")
    return chosen


def load_pairs(path: Path = DEFAULT_PAIRS) -> list[GroundingPair]:
    """Labelled pairs: {"id", "kind", "sentence", "passages", "context", "supported"}."""
    return read_jsonl(path, _pair)
