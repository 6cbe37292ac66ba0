"""A run seen per part of its question set: dev (tuned on) and test (held out). The gate reads the
test part only; a set without parts is one part, "all", and is gated as a whole."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from eval.dataset import SPLITS, Question
from eval.metrics import summarize
from eval.runner import EvalRun

LABELS = {"dev": "dev (tuned on)", "test": "test (held out)", "all": "all questions"}
GATED = "test"


@dataclass(frozen=True)
class Part:
    """The questions of one part, as a run of their own (summary recomputed on them)."""

    name: str
    run: EvalRun

    @property
    def label(self) -> str:
        return LABELS[self.name]

    @property
    def gated(self) -> bool:
        return self.name in (GATED, "all")


def mark_parts(run: EvalRun, questions: Sequence[Question]) -> None:
    """Record in the run which question belongs to which part, so that a report, a comparison or a
    later reader can split it without the question set."""
    ids = {part: [q.id for q in questions if q.split == part] for part in SPLITS}
    if any(ids.values()):
        run.info["parts"] = {part: members for part, members in ids.items() if members}


def parts(run: EvalRun) -> list[Part]:
    """The run's parts in order dev, test; one part "all" when its questions do not span both. Metrics
    of a question (rates, latency) are recomputed per part; metrics of the run (the grounding
    checker's accuracy) are the same in every part."""
    members: dict[str, list[str]] = run.info.get("parts") or {}
    if len(members) < len(SPLITS):
        return [Part("all", run)]
    index = {result.id: i for i, result in enumerate(run.results)}
    found = []
    for name, ids in members.items():
        rows = [index[i] for i in ids if i in index]
        results = [run.results[i] for i in rows]
        answers = [run.answers[i] for i in rows] if len(run.answers) == len(run.results) else []
        info = {
            **{k: v for k, v in run.info.items() if k != "parts"},
            "questions": len(results),
            "answerable": sum(r.answerable for r in results),
            "unanswerable": sum(not r.answerable for r in results),
        }
        summary = {**run.summary, **summarize(results)}
        found.append(
            Part(
                name,
                EvalRun(summary=summary, results=results, checker=run.checker, info=info, answers=answers),
            )
        )
    return found


def gated_part(found: Sequence[Part]) -> Part:
    """The part the thresholds apply to: test when the set has parts, else the whole set."""
    return next(part for part in found if part.gated)
