"""The report's chart: the 0-1 metrics of each part side by side against the thresholds (which apply
to the gated part), and the latency percentiles per part."""

from __future__ import annotations

from pathlib import Path

from eval.gate import METRICS, Thresholds
from eval.parts import gated_part, parts
from eval.runner import EvalRun

LATENCY = ("latency_ms_p50", "latency_ms_p95")
RATES = tuple(m for m in METRICS if m not in LATENCY)


def shown(metric: str, value: float | None) -> str:
    if value is None:
        return "not measured"
    return f"{value:.0f} ms" if metric in LATENCY else f"{value:.3f}"


COLOURS = {"dev": "#8da0cb", "test": "#4c72b0", "all": "#4c72b0"}


def chart(run: EvalRun, thresholds: Thresholds, path: Path) -> None:
    """Bars of the 0-1 metrics per part with the thresholds (of the gated part), and the two latency
    percentiles per part."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    found = parts(run)
    figure, (rates, latency) = plt.subplots(
        1,
        2,
        figsize=(11, 6.5),
        gridspec_kw={"width_ratios": [4, 1]},
        layout="constrained",
    )
    height = 0.8 / len(found)
    rows = np.arange(len(RATES))
    for j, part in enumerate(found):
        values = [part.run.summary.get(m) or 0.0 for m in RATES]
        bars = rates.barh(
            rows + (j - (len(found) - 1) / 2) * height,
            values,
            height,
            color=COLOURS[part.name],
            label=part.label,
        )
        labels = [shown(m, part.run.summary.get(m)) for m in RATES]
        rates.bar_label(bars, labels=labels, padding=3, fontsize=7)
    gated = (found.index(gated_part(found)) - (len(found) - 1) / 2) * height  # the bar the bounds apply to
    for i, metric in enumerate(RATES):
        limit = thresholds.minimum.get(metric, thresholds.maximum.get(metric))
        if limit is not None:
            span = [i + gated - height / 2, i + gated + height / 2]
            rates.plot([limit, limit], span, color="#c44e52", linewidth=2)
    rates.set_yticks(rows, RATES)
    rates.set_xlim(0, 1.15)
    rates.invert_yaxis()
    rates.legend(loc="upper center", bbox_to_anchor=(0.5, -0.04), ncol=len(found), fontsize=8)
    rates.set_title(f"Quality (red: threshold on {gated_part(found).name}; false_refusal_rate: maximum)")
    for j, part in enumerate(found):
        times = [part.run.summary.get(m) or 0.0 for m in LATENCY]
        latency.bar(
            np.arange(2) + (j - (len(found) - 1) / 2) * height,
            times,
            height,
            color=COLOURS[part.name],
            label=part.name,
        )
    latency.set_xticks(np.arange(2), ["p50", "p95"])
    latency.set_ylabel("ms per question")
    latency.set_title("Latency")
    figure.suptitle(f"Eval: {run.info['questions']} questions, answerer {run.info['answerer']}")
    figure.savefig(path, dpi=110)
    plt.close(figure)
