"""Sentences that real LLMs wrote on the eval questions, labelled by hand as supported or not by the
passages they could cite (one line per answer: question, passages, sentences), and how verification
judges them: recall on the unsupported ones, false
alarms on the supported ones, and the unsupported sentences that would reach a reader unflagged."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval.dataset import DATASETS, SPLITS, read_jsonl
from rag.answering.verify import find_support
from rag.grounding import GroundingChecker
from rag.types import Passage

DEFAULT_SENTENCES = DATASETS / "llm_sentences.jsonl"


@dataclass(frozen=True)
class LlmSentence:
    """One sentence an LLM wrote, its question, the passages it was given (its `markers` cite some
    of them) and the hand label. `supported`: all it asserts, read as an answer to its question (a
    bare « Anthropic » asserts the question's relation), is in those passages; `answers`: it gives
    what was asked. `kind` of an unsupported one: absent (not in the articles), wrong_entity /
    wrong_relation (a fact tied to someone else), bare_wrong, number, distorted (a garbled or
    altered copy), echo (the question repeated), nonsense; of a supported one: verbatim, paraphrase."""

    id: str
    model: str
    question_id: str
    split: str
    question: str
    sentence: str
    markers: tuple[int, ...]
    passages: tuple[Passage, ...]
    supported: bool
    answers: bool
    kind: str = ""
    note: str = ""


def _passage(row: dict[str, Any], n: int) -> Passage:
    for name in ("file", "title", "text"):
        if not isinstance(row.get(name), str):
            raise ValueError(f"passage {n} lacks its {name!r}")
    start, end = row.get("char_start"), row.get("char_end")
    if not isinstance(start, int) or not isinstance(end, int) or not 0 <= start < end:
        raise ValueError(f"passage {n} has an invalid span")
    return Passage(f"{row['file']}:{start}", row["file"], row["title"], row["text"], start, end, 0.0)


def _strings(row: dict[str, Any], *names: str) -> None:
    for name in names:
        if not isinstance(row.get(name), str) or not row[name].strip():
            raise ValueError(f"missing field {name!r}")


def _answer(row: dict[str, Any]) -> list[LlmSentence]:
    """One LLM answer (its question, passages and labelled sentences) as its sentences."""
    _strings(row, "id", "model", "question_id", "question")
    split, passages, sentences = row.get("split"), row.get("passages"), row.get("sentences")
    if split not in SPLITS:
        raise ValueError(f"field 'split' must be one of {', '.join(SPLITS)}, not {split!r}")
    if not isinstance(passages, list) or not passages:
        raise ValueError("field 'passages' must be a non-empty list")
    if not isinstance(sentences, list) or not sentences:
        raise ValueError("field 'sentences' must be a non-empty list")
    given = tuple(_passage(p, n) for n, p in enumerate(passages, start=1))
    found = []
    for item in sentences:
        _strings(item, "id", "text")
        marks = item.get("markers")
        if not isinstance(marks, list) or not all(isinstance(m, int) for m in marks):
            raise ValueError(f"sentence {item['id']}: 'markers' must be a list of integers")
        for name in ("supported", "answers"):
            if not isinstance(item.get(name), bool):
                raise ValueError(f"sentence {item['id']}: {name!r} must be true or false")
        found.append(
            LlmSentence(
                id=item["id"],
                model=row["model"],
                question_id=row["question_id"],
                split=split,
                question=row["question"],
                sentence=item["text"],
                markers=tuple(marks),
                passages=given,
                supported=item["supported"],
                answers=item["answers"],
                kind=str(item.get("kind", "")),
                note=str(item.get("note", "")),
            )
        )
    return found


def load_llm_sentences(path: Path = DEFAULT_SENTENCES) -> list[LlmSentence]:
    """The labelled sentences, one line per LLM answer; a malformed line is reported with its number."""
    return [sentence for answer in read_jsonl(path, _answer) for sentence in answer]


@dataclass
class SentenceScores:
    """Verification on labelled LLM sentences of one part: `recall` of the unsupported ones (flagged
    or dropped), `false_alarm` rate on the supported ones, and `reaching` the share of all sentences
    that are unsupported yet pass as supported."""

    sentences: int
    unsupported: int
    recall: float | None
    false_alarm: float | None
    reaching: float | None
    misses: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "sentences": self.sentences,
            "unsupported": self.unsupported,
            "unsupported_recall": self.recall,
            "false_alarm_rate": self.false_alarm,
            "unsupported_reaching_rate": self.reaching,
            "misses": self.misses,
        }


def judged_supported(checker: GroundingChecker, row: LlmSentence) -> bool:
    """What verification decides for the sentence: supported by a passage, as production does."""
    return bool(
        find_support(checker, row.sentence, row.markers, row.passages, question=row.question).passages
    )


def score_sentences(checker: GroundingChecker, rows: Sequence[LlmSentence]) -> dict[str, SentenceScores]:
    """Scores per part (dev, test) and over all sentences."""
    judged = [(row, judged_supported(checker, row)) for row in rows]
    scores = {}
    for part in (*SPLITS, "all"):
        chosen = [(r, ok) for r, ok in judged if part == "all" or r.split == part]
        unsupported = [ok for r, ok in chosen if not r.supported]
        supported = [ok for r, ok in chosen if r.supported]
        passed = sum(unsupported)
        scores[part] = SentenceScores(
            sentences=len(chosen),
            unsupported=len(unsupported),
            recall=1 - passed / len(unsupported) if unsupported else None,
            false_alarm=sum(not ok for ok in supported) / len(supported) if supported else None,
            reaching=passed / len(chosen) if chosen else None,
            misses=[
                {
                    "id": r.id,
                    "sentence": r.sentence,
                    "question": r.question,
                    "expected": r.supported,
                    "kind": r.kind,
                }
                for r, ok in chosen
                if ok != r.supported and part != "all"
            ],
        )
    return scores


def sentence_summary(scores: dict[str, SentenceScores]) -> dict[str, float | None]:
    """The run's summary keys, on the held-out test part's sentences (the dev part tunes them)."""
    held_out = scores["test"]
    return {
        "llm_sentence_unsupported_recall": held_out.recall,
        "llm_sentence_false_alarm_rate": held_out.false_alarm,
        "llm_sentence_unsupported_reaching_rate": held_out.reaching,
    }


def llm_sentences_markdown(parts: dict[str, dict[str, Any]]) -> list[str]:
    """The report's lines on the labelled LLM sentences, per part, with the test part's misses."""
    if not parts:
        return []

    def rate(value: float | None) -> str:
        return "—" if value is None else f"{value:.3f}"

    lines = [
        "",
        "### Sentences real LLMs wrote (eval/datasets/llm_sentences.jsonl)",
        "",
        "Verification's own decision on each labelled sentence (its markers mended as in production). "
        "Unsupported reaching: unsupported sentences passed as supported, as a share of all sentences.",
        "",
        "| part | sentences | unsupported | recall on unsupported | false alarms | unsupported reaching |",
        "|---|---|---|---|---|---|",
    ]
    for part, s in parts.items():
        lines.append(
            f"| {part} | {s['sentences']} | {s['unsupported']} | {rate(s['unsupported_recall'])} | "
            f"{rate(s['false_alarm_rate'])} | {rate(s['unsupported_reaching_rate'])} |"
        )
    misses = parts.get("test", {}).get("misses", [])
    if misses:
        lines += ["", "Test-part sentences verification gets wrong:"]
        lines += [
            f"- {m['id']} ({m['kind']}, labelled {'supported' if m['expected'] else 'unsupported'}): "
            f"{m['sentence']} — asked « {m['question']} »"
            for m in misses
        ]
    return lines
