"""The answerability decision measured on a question set: each question's signals, probability and
would-be answer (the extractive one, refused or not), and the curve of false refusals against
wrong answers as the threshold moves. The fit (`eval.fit_answerability`) and the report read it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.dataset import Question
from eval.metrics import missing_groups
from rag.answering.answerability import FEATURES, Signals, measure
from rag.answering.extractive import ExtractiveAnswerer
from rag.engine import Engine

GRID = (0.0, 0.01, 0.1, 0.3, 0.5, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98, 0.99)
"""Thresholds of the curve: 0 answers everything (as RAG_REFUSAL_THRESHOLD=0 does), any threshold
above it lets the vetoes refuse, then the model."""


@dataclass(frozen=True)
class Row:
    """One question: its part, whether the articles answer it, whether the extractive answer would
    be right if given, its signals and the model's probability."""

    id: str
    split: str
    answerable: bool
    correct: bool
    signals: Signals
    probability: float


def scorer(engine: Engine) -> ExtractiveAnswerer | None:
    """The extractive answerer of an engine (a generative one keeps it as its fallback)."""
    answerer = engine.answerer
    if isinstance(answerer, ExtractiveAnswerer):
        return answerer
    fallback = getattr(answerer, "fallback", None)
    return fallback if isinstance(fallback, ExtractiveAnswerer) else None


def collect(engine: Engine, questions: Sequence[Question]) -> list[Row]:
    """Ask every question to the extractive scorer of the engine (no LLM), without refusing."""
    answerer = scorer(engine)
    if answerer is None:
        raise ValueError("the engine has no extractive answerer")
    rows = []
    for question in questions:
        passages, evidence, _ = engine.retrieve(question.question)
        reading = answerer.read(question.question, passages, evidence)
        chosen = answerer.choose(reading)
        signals = measure(reading, chosen, passages)
        text = " ".join(c.quote.quote for c in chosen)
        correct = question.answerable and bool(chosen) and not missing_groups(text, question.must_include)
        rows.append(
            Row(
                question.id,
                question.split,
                question.answerable,
                correct,
                signals,
                answerer.model.probability(signals),
            )
        )
    return rows


def point(rows: Sequence[Row], threshold: float) -> dict[str, float]:
    """Rates at one threshold (0: no refusal at all, vetoes included): answerable refused (false
    refusals), answerable answered wrong, answerable answered right, unanswerable answered."""
    answerable = [r for r in rows if r.answerable]
    unanswerable = [r for r in rows if not r.answerable]

    def answered(row: Row) -> bool:
        return threshold <= 0 or row.probability >= threshold  # a veto's 0 passes only at 0

    kept = [r for r in answerable if answered(r)]

    def rate(count: int, total: int) -> float:
        return round(count / total, 4) if total else 0.0

    return {
        "threshold": threshold,
        "false_refusal_rate": rate(len(answerable) - len(kept), len(answerable)),
        "answered_wrong_rate": rate(sum(not r.correct for r in kept), len(answerable)),
        "answer_correct_rate": rate(sum(r.correct for r in kept), len(answerable)),
        "answered_unanswerable_rate": rate(sum(answered(r) for r in unanswerable), len(unanswerable)),
    }


def curve(rows: Sequence[Row], thresholds: Sequence[float] = GRID) -> list[dict[str, float]]:
    return [point(rows, t) for t in sorted({*thresholds})]


def answerability_report(engine: Engine, questions: Sequence[Question], threshold: float) -> dict[str, Any]:
    """Per part (dev, test; or all): the curve and the operating point; per question: probability and
    signals, for report.json."""
    rows = collect(engine, questions)
    names = sorted({r.split for r in rows}) if all(r.split for r in rows) else [""]
    parts = {
        name or "all": {
            "curve": curve([r for r in rows if r.split == name], (*GRID, threshold)),
            "operating_point": point([r for r in rows if r.split == name], threshold),
        }
        for name in names
    }
    return {
        "threshold": threshold,
        "parts": parts,
        "questions": [
            {
                "id": r.id,
                "probability": round(r.probability, 4),
                "correct_if_answered": r.correct,
                "signals": {k: round(v, 4) for k, v in r.signals.as_dict().items()},
            }
            for r in rows
        ],
        "features": FEATURES,
    }


def curve_markdown(data: dict[str, Any]) -> list[str]:
    """The report's section: per part, the rates as the threshold moves (the operating point in bold)."""
    lines = [
        "## Answerability: false refusals against wrong answers",
        "",
        f"The extractive answer is given when its answerability reaches {data['threshold']:g} "
        "(`RAG_REFUSAL_THRESHOLD`; the model is fitted on the dev part, `python -m "
        "eval.fit_answerability`). Lower thresholds answer more: fewer false refusals, more wrong "
        "answers and answered unanswerable questions. Rates of the answerable questions (false "
        "refusals, answered wrong, answered right) and of the unanswerable ones (answered). At 0 the "
        "extractive answer is given always; above it, the vetoes refuse (a missing "
        "answer type or attribute, a name in no passage or missing from the sentence holding the answer, a "
        "name given for another relation than the one asked, an "
        "instruction, nothing shared with the question), then the model under the threshold.",
    ]
    for name, part in data["parts"].items():
        lines += [
            "",
            f"**{name}**",
            "",
            "| threshold | false refusals | answered wrong | answered right | unanswerable answered |",
            "|---|---|---|---|---|",
        ]
        for row in part["curve"]:
            label = "0 (never refuse)" if row["threshold"] <= 0 else f"{row['threshold']:g}"
            cells = [
                label,
                *(
                    f"{row[k]:.3f}"
                    for k in (
                        "false_refusal_rate",
                        "answered_wrong_rate",
                        "answer_correct_rate",
                        "answered_unanswerable_rate",
                    )
                ),
            ]
            if row["threshold"] == data["threshold"]:
                cells = [f"**{cell}**" for cell in cells]
            lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Plotted in `answerability.png`.", ""]
    return lines


def curve_chart(data: dict[str, Any], path: Path) -> None:
    """False refusals (x) against wrong answers (answered wrong or unanswerable answered, y) per part,
    one point per threshold, the operating point marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6.5, 5), layout="constrained")
    for name, part in data["parts"].items():
        rows = part["curve"]
        xs = [r["false_refusal_rate"] for r in rows]
        for key, style in (("answered_unanswerable_rate", "-o"), ("answered_wrong_rate", "--s")):
            axis.plot(xs, [r[key] for r in rows], style, label=f"{name}: {key.replace('_rate', '')}")
        op = part["operating_point"]
        axis.scatter(
            [op["false_refusal_rate"]] * 2,
            [op["answered_unanswerable_rate"], op["answered_wrong_rate"]],
            s=120,
            facecolors="none",
            edgecolors="black",
        )
    axis.set_xlabel("false refusals (share of answerable questions)")
    axis.set_ylabel("wrong: share answered")
    axis.set_title(f"Answerability threshold swept; circled: {data['threshold']:g}")
    axis.legend(fontsize=8)
    figure.savefig(path, dpi=110)
    plt.close(figure)
