"""The quality gate: thresholds kept in the repository (eval/thresholds.json) and the metrics of a run
that fall short of them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from eval.dataset import DatasetError

DEFAULT_THRESHOLDS = Path(__file__).resolve().parent / "thresholds.json"
METRICS = (
    "answer_correct_rate",
    "citation_validity",
    "citation_precision",
    "citation_recall",
    "refusal_rate_unanswerable",
    "false_refusal_rate",
    "grounded_sentence_rate",
    "hit_at_k",
    "recall_at_k",
    "mrr",
    "latency_ms_p50",
    "latency_ms_p95",
    "grounding_checker_accuracy",
    # The grounding checker on sentences real LLMs wrote (eval/datasets/llm_sentences.jsonl, test part).
    "llm_sentence_unsupported_recall",
    "llm_sentence_false_alarm_rate",
    "llm_sentence_unsupported_reaching_rate",
)


@dataclass(frozen=True)
class Thresholds:
    """Lower bounds (`minimum`) and upper bounds (`maximum`) per metric."""

    minimum: dict[str, float]
    maximum: dict[str, float]


@dataclass(frozen=True)
class Breach:
    """A metric outside its bound."""

    metric: str
    value: float
    bound: str  # "minimum" | "maximum"
    limit: float

    def __str__(self) -> str:
        sign = ">=" if self.bound == "minimum" else "<="
        return f"{self.metric} = {self.value:.3f}, required {sign} {self.limit:g}"


def load_thresholds(path: Path = DEFAULT_THRESHOLDS) -> Thresholds:
    """Read {"minimum": {metric: value}, "maximum": {metric: value}}; unknown metrics are errors."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetError(f"The thresholds file {path} does not exist.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"The thresholds file {path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or set(data) - {"minimum", "maximum", "comment"}:
        raise DatasetError(f"{path}: expected an object with 'minimum' and 'maximum' (and 'comment').")
    bounds: dict[str, dict[str, float]] = {}
    for bound in ("minimum", "maximum"):
        values = data.get(bound, {})
        if not isinstance(values, dict):
            raise DatasetError(f"{path}: '{bound}' must map metric names to numbers.")
        for metric, value in values.items():
            if metric not in METRICS:
                raise DatasetError(f"{path}: unknown metric {metric!r} (known: {', '.join(METRICS)}).")
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise DatasetError(f"{path}: the {bound} of {metric} must be a number, not {value!r}.")
        bounds[bound] = {metric: float(value) for metric, value in values.items()}
    return Thresholds(minimum=bounds["minimum"], maximum=bounds["maximum"])


def breaches(summary: Mapping[str, float | None], thresholds: Thresholds) -> list[Breach]:
    """Every bound the run misses. A metric the question set cannot measure (refusals, when it has
    no unanswerable question) is left out: the report shows it as not measured."""
    found: list[Breach] = []
    for metric, limit in thresholds.minimum.items():
        value = summary.get(metric)
        if value is not None and value < limit:
            found.append(Breach(metric, value, "minimum", limit))
    for metric, limit in thresholds.maximum.items():
        value = summary.get(metric)
        if value is not None and value > limit:
            found.append(Breach(metric, value, "maximum", limit))
    return found
