"""Fit the answerability model on the dev part of the eval set, for the configured embedding model,
and write its coefficients into rag/answering/answerability.json.

    RAG_INDEX_DIR=.rag-eval rag ingest && RAG_INDEX_DIR=.rag-eval python -m eval.fit_answerability

An L2-regularised logistic regression over the standardised signals of `rag.answering.answerability`
(label: the articles answer the question), each weight held to the sign its signal must have; the
vetoes (`rag.answering.answerability.VETOES`) refuse on their own on top of it. The
L2 penalty is chosen by cross-validation on the dev part (`L2_GRID`, leave-one-out, the lowest
balanced log loss of the held-out probabilities; the stronger penalty on a tie): 77 questions make an
unpenalised fit over-confident (probabilities of 0 or 1). The
operating point is the lowest probability that answers at most 5% of the dev unanswerable questions
(rounded to whole questions: 1 of 16), read on leave-one-out probabilities (each question scored by a
fit that did not see it: a fit predicts its own questions too well); the intercept is then shifted so
that the point sits at 0.5.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import minimize

from eval.answerability import Row, collect
from eval.dataset import DEFAULT_DATASET, load_questions
from rag.answering.answerability import COEFFICIENTS, FEATURES, AnswerabilityModel
from rag.answering.extractive import ExtractiveAnswerer
from rag.compose import build_engine
from rag.errors import RagError
from rag.settings import Settings

MAX_ANSWERED_UNANSWERABLE = 0.05
L2_GRID = (0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)  # penalties tried by cross-validation
MIN_THRESHOLD = 0.01  # when the vetoes refuse every unanswerable dev question, the model nearly never
FITTED = [name for name in FEATURES if name != "llm"]  # no LLM verdict in an extractive run
# The sign each weight must have: more evidence never makes an answer less likely, a missing name
# or answer type never more. Without them 16 unanswerable questions are too few: a fit gives a
# weight the wrong sign to explain one question away (a low coverage "predicting" an answer).
SIGNS = {
    "best": 1,
    "margin": 1,
    "dense": 1,
    "passage_dense": 1,
    "lexical": 1,
    "coverage": 1,
    "no_overlap": -1,
    "type_missing": -1,
    "names_missing": -1,
    "names_absent": -1,
    "typed_names": -1,
    "unknown": -1,
    "instruction": -1,
    "unrelated": -1,
    "relation_missing": -1,
}


def standardise(rows: list[Row]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The signals as a matrix, its column means and scales (NaN: not measured, set to the mean)."""
    raw = np.array([[r.signals.as_dict()[name] for name in FITTED] for r in rows], dtype=float)
    means = np.nanmean(raw, axis=0)
    scales = np.nanstd(raw, axis=0)
    scales[~(scales > 1e-9)] = 1.0
    x = (raw - means) / scales
    return np.nan_to_num(x, nan=0.0), np.nan_to_num(means), scales


def fit(
    x: np.ndarray, y: np.ndarray, l2: float, signs: Sequence[int] | None = None
) -> tuple[float, np.ndarray]:
    """Intercept and weights minimising the log loss, both classes weighing the same (the operating
    point lies where few unanswerable questions pass), plus l2 times the squared weights; each
    weight of the sign given for its column (the signals', `SIGNS`, by default)."""
    signs = [SIGNS[n] for n in FITTED] if signs is None else signs
    balance = np.where(y > 0, len(y) / (2 * max(y.sum(), 1)), len(y) / (2 * max((1 - y).sum(), 1)))

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        z = theta[0] + x @ theta[1:]
        p = 1.0 / (1.0 + np.exp(-z))
        eps = 1e-12
        nll = -np.sum(balance * (y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps)))
        value = nll + l2 * theta[1:] @ theta[1:]
        residual = balance * (p - y)
        grad = np.concatenate([[np.sum(residual)], x.T @ residual + 2 * l2 * theta[1:]])
        return float(value), grad

    bounds = [(None, None)] + [(0, None) if sign > 0 else (None, 0) for sign in signs]
    theta = minimize(loss, np.zeros(x.shape[1] + 1), jac=True, method="L-BFGS-B", bounds=bounds).x
    return float(theta[0]), theta[1:]


def leave_one_out(x: np.ndarray, y: np.ndarray, l2: float, signs: Sequence[int] | None = None) -> np.ndarray:
    out = np.zeros(len(y))
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        bias, weights = fit(x[keep], y[keep], l2, signs)
        out[i] = 1.0 / (1.0 + math.exp(-(bias + x[i] @ weights)))
    return out


def log_loss(probabilities: np.ndarray, y: np.ndarray) -> float:
    """Mean log loss, both classes weighing the same (as in the fit)."""
    p = np.clip(probabilities, 1e-6, 1 - 1e-6)
    losses = [-np.mean(np.log(p[y == 1])), -np.mean(np.log(1 - p[y == 0]))]
    return float(np.mean(losses))


def choose_l2(
    x: np.ndarray, y: np.ndarray, grid: Sequence[float] = L2_GRID, signs: Sequence[int] | None = None
) -> tuple[float, dict[str, float]]:
    """The penalty of `grid` whose leave-one-out probabilities have the lowest log loss (within 1% of
    the best, the strongest such penalty: the simpler model), and each penalty's loss."""
    losses = {l2: log_loss(leave_one_out(x, y, l2, signs), y) for l2 in grid}
    best = min(losses.values())
    chosen = max(l2 for l2, loss in losses.items() if loss <= best * 1.01)
    return chosen, {f"{l2:g}": round(loss, 4) for l2, loss in losses.items()}


def operating_point(probabilities: np.ndarray, y: np.ndarray) -> float:
    """The lowest threshold that answers at most 5% of the unanswerable questions (rounded to whole
    questions), halfway between the probabilities on either side of it."""
    values = np.unique(probabilities)
    cuts = np.concatenate([[values[0] / 2], (values[1:] + values[:-1]) / 2, [(values[-1] + 1) / 2]])
    negatives = probabilities[y == 0]
    allowed = round(MAX_ANSWERED_UNANSWERABLE * len(negatives))
    return float(max(min(t for t in cuts if np.sum(negatives >= t) <= allowed), MIN_THRESHOLD))


def rates(probabilities: np.ndarray, rows: list[Row], threshold: float) -> dict[str, float]:
    """The rates of the decision as deployed: the model's probability, and the vetoes."""
    probabilities = np.where([bool(r.signals.vetoed()) for r in rows], 0.0, probabilities)
    answerable = [p for p, r in zip(probabilities, rows, strict=True) if r.answerable]
    correct = [p for p, r in zip(probabilities, rows, strict=True) if r.correct]
    negatives = [p for p, r in zip(probabilities, rows, strict=True) if not r.answerable]
    return {
        "false_refusal_rate": round(float(np.mean([p < threshold for p in answerable])), 4),
        "answer_correct_rate": round(sum(p >= threshold for p in correct) / len(answerable), 4),
        "answered_unanswerable_rate": round(float(np.mean([p >= threshold for p in negatives])), 4),
    }


def entry(rows: list[Row], l2: float | None = None) -> dict[str, Any]:
    """The JSON entry of one embedding model: coefficients and how they were chosen (the penalty by
    cross-validation unless given)."""
    x, means, scales = standardise(rows)
    y = np.array([r.answerable for r in rows], dtype=float)
    cross_validation: dict[str, float] = {}
    if l2 is None:
        l2, cross_validation = choose_l2(x, y)
    bias, weights = fit(x, y, l2)
    held_out = leave_one_out(x, y, l2)
    fitted = 1.0 / (1.0 + np.exp(-(bias + x @ weights)))
    # The point is chosen on the decision as deployed: a vetoed question is refused whatever the
    # model says, so only the others move it.
    vetoed = np.array([bool(r.signals.vetoed()) for r in rows])
    threshold = operating_point(np.where(vetoed, 0.0, held_out), y)
    columns = dict(zip(FITTED, range(len(FITTED)), strict=True))
    return {
        "fitted_on": f"{DEFAULT_DATASET.name}, dev part: {len(rows)} questions "
        f"({int(y.sum())} answerable), {date.today().isoformat()}",
        "l2": l2,
        "l2_leave_one_out_log_loss": cross_validation,
        "operating_point": {
            "probability": round(threshold, 4),
            "dev_leave_one_out": rates(held_out, rows, threshold),
            "dev_fitted": rates(fitted, rows, threshold),
        },
        # Shifted so that the operating point is a probability of 0.5 (RAG_REFUSAL_THRESHOLD's default).
        "bias": bias - math.log(threshold / (1 - threshold)),
        "weights": {n: (float(weights[columns[n]]) if n in columns else 0.0) for n in FEATURES},
        "means": {n: (float(means[columns[n]]) if n in columns else 0.0) for n in FEATURES},
        "scales": {n: (float(scales[columns[n]]) if n in columns else 1.0) for n in FEATURES},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument(
        "--l2",
        type=float,
        default=None,
        help="L2 penalty on the standardised weights (default: by cross-validation)",
    )
    parser.add_argument("--output", type=Path, default=COEFFICIENTS, help="coefficients file to update")
    parser.add_argument("--dry-run", action="store_true", help="print the fit, write nothing")
    args = parser.parse_args(argv)
    settings = Settings().model_copy(update={"answerer": "extractive"})
    try:
        # Any coefficients will do (the file may not exist yet): the fit reads signals, not verdicts.
        blank = AnswerabilityModel(
            0.0, (0.0,) * len(FEATURES), (0.0,) * len(FEATURES), (1.0,) * len(FEATURES)
        )
        answerer = ExtractiveAnswerer(model=blank, max_sentences=settings.max_answer_sentences)
        engine = build_engine(settings, answerer=answerer)
        rows = collect(engine, load_questions(DEFAULT_DATASET, split="dev"))
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    fitted = entry(rows, args.l2)
    print(json.dumps({settings.embed_model: fitted}, indent=2, ensure_ascii=False))
    if not args.dry_run:
        data = json.loads(args.output.read_text(encoding="utf-8")) if args.output.exists() else {}
        data.setdefault("default", settings.embed_model)
        data.setdefault("models", {})[settings.embed_model] = fitted
        args.output.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"written: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
