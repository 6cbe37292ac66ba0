"""Writing a run down: report.json (stable keys), report.md for a person (failures first) and a
PNG chart of the metrics against their thresholds."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eval.gate import METRICS, Breach, Thresholds
from eval.metrics import QuestionResult
from eval.runner import EvalRun

LATENCY = ("latency_ms_p50", "latency_ms_p95")
RATES = tuple(m for m in METRICS if m not in LATENCY)


def shown(metric: str, value: float | None) -> str:
    if value is None:
        return "not measured"
    return f"{value:.0f} ms" if metric in LATENCY else f"{value:.3f}"


def bound_of(metric: str, thresholds: Thresholds) -> str:
    if metric in thresholds.minimum:
        return f">= {thresholds.minimum[metric]:g}"
    if metric in thresholds.maximum:
        return f"<= {thresholds.maximum[metric]:g}"
    return ""


def report_data(
    run: EvalRun, thresholds: Thresholds, failed: Sequence[Breach], dataset: str,
) -> dict[str, Any]:
    return {
        "passed": not failed,
        "dataset": dataset,
        "summary": {m: (None if v is None else round(v, 4)) for m, v in run.summary.items()},
        "breaches": [str(b) for b in failed],
        "thresholds": {"minimum": thresholds.minimum, "maximum": thresholds.maximum},
        "run": run.info,
        "grounding_checker": {
            "accuracy": round(run.checker.accuracy, 4), "by_kind": run.checker.by_kind,
            "misses": run.checker.misses,
        },
        "questions": [r.to_dict() for r in run.results],
        **({"judge": run.judge} if run.judge is not None else {}),
    }


def _question_block(result: QuestionResult) -> list[str]:
    kind = "answerable" if result.answerable else "not answerable"
    lines = [f"### {result.id} — {result.question}", "", f"*{kind}*, {result.latency_ms:.0f} ms", ""]
    lines += [f"> {result.answer}", ""]
    lines += [f"- **{failure}**" for failure in result.failures]
    lines.append(f"- retrieved: {', '.join(dict.fromkeys(result.retrieved_files)) or '—'}")
    lines.append(f"- cited: {', '.join(result.cited_files) or '—'}")
    return [*lines, ""]


def _verdict(faithful: bool | None) -> str:
    return {True: "faithful", False: "not faithful", None: "unparsed"}[faithful]


def _cell(text: str | None, limit: int = 200) -> str:
    """One table cell: on one line, and cut (report.json keeps the whole reply)."""
    flat = " ".join((text or "—").split()).replace("|", "/")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def judge_markdown(judge: dict[str, Any]) -> list[str]:
    """The LLM judge's section: its summary, then one row per judged question."""
    s = judge["summary"]
    lines = [
        "## LLM judge (not gated)", "",
        f"Judge `{judge['model']}`, {s['judged']} answers judged ({s['skipped']} unanswerable or refused "
        "skipped). Small judges vary from run to run: these figures inform, the thresholds never "
        "read them.", "",
        "| metric | value |", "|---|---|",
        f"| judge_faithful_rate | {shown('judge_faithful_rate', s['judge_faithful_rate'])} "
        f"({s['faithful']} faithful, {s['unfaithful']} not, {s['unparsed']} unparsed) |",
        f"| judge_correctness_mean (1-5) | {shown('judge_correctness_mean', s['judge_correctness_mean'])} "
        f"({s['correctness_scored']} scored, {s['correctness_unparsed']} unparsed) |", "",
        "| id | faithfulness | judge's reply | correctness | judge's reasoning |", "|---|---|---|---|---|",
    ]
    for row in judge["questions"]:
        score = "—" if row["correctness"] is None else f"{row['correctness']:g}"
        lines.append(f"| {row['id']} | {_verdict(row['faithful'])} | {_cell(row['feedback'])} | {score} "
                     f"| {_cell(row['correctness_feedback'])} |")
    return lines


def markdown(run: EvalRun, thresholds: Thresholds, failed: Sequence[Breach], dataset: str) -> str:
    failures = [r for r in run.results if not r.passed]
    info = run.info
    lines = [
        f"# Eval report — {dataset}", "",
        f"**Gate: {'PASSED' if not failed else 'FAILED'}** — {info['questions']} questions "
        f"({info['answerable']} answerable, {info['unanswerable']} not), answerer `{info['answerer']}`, "
        f"top_k {info['top_k']}, {len(failures)} with problems.", "",
    ]
    lines += [f"- below threshold: {b}" for b in failed] + ([""] if failed else [])
    lines += ["| metric | value | threshold |", "|---|---|---|"]
    lines += [f"| {m} | {shown(m, run.summary.get(m))} | {bound_of(m, thresholds)} |" for m in METRICS]
    lines += ["", f"## Questions with problems ({len(failures)})", ""]
    for result in failures:
        lines += _question_block(result)
    lines += [
        "## Grounding checker", "",
        f"Accuracy {run.checker.accuracy:.3f} on {info['pairs']} labelled sentence/passage pairs.", "",
        "| kind | accuracy |", "|---|---|",
    ]
    lines += [f"| {kind} | {value:.2f} |" for kind, value in run.checker.by_kind.items()]
    verdict = "Pairs the checker gets wrong:" if run.checker.misses else "The checker gets every pair right."
    lines += ["", verdict]
    for miss in run.checker.misses:
        expected = "supported" if miss["expected"] else "unsupported"
        lines.append(f"- {miss['id']} ({miss['kind']}, labelled {expected}): {miss['sentence']} "
                     f"— {'; '.join(miss['reasons']) or 'no objection'}")
    if run.judge is not None:
        lines += ["", *judge_markdown(run.judge)]
    passed = [r for r in run.results if r.passed]
    lines += ["", f"## Questions without problems ({len(passed)})", ""]
    lines += ["| id | question | ms |", "|---|---|---|"]
    lines += [f"| {r.id} | {r.question.replace('|', '/')} | {r.latency_ms:.0f} |" for r in passed]
    return "\n".join(lines) + "\n"


def chart(run: EvalRun, thresholds: Thresholds, path: Path) -> None:
    """Bars of the 0-1 metrics with their thresholds, and the two latency percentiles."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (rates, latency) = plt.subplots(
        1, 2, figsize=(11, 5.5), gridspec_kw={"width_ratios": [4, 1]}, layout="constrained",
    )
    values = [run.summary.get(m) or 0.0 for m in RATES]
    bars = rates.barh(RATES, values, color="#4c72b0")
    rates.bar_label(bars, labels=[shown(m, run.summary.get(m)) for m in RATES], padding=3, fontsize=8)
    for i, metric in enumerate(RATES):
        limit = thresholds.minimum.get(metric, thresholds.maximum.get(metric))
        if limit is not None:
            rates.plot([limit, limit], [i - 0.4, i + 0.4], color="#c44e52", linewidth=2)
    rates.set_xlim(0, 1.15)
    rates.invert_yaxis()
    rates.set_title("Quality (red: threshold; false_refusal_rate: maximum)")
    times = [run.summary.get(m) or 0.0 for m in LATENCY]
    latency.bar(["p50", "p95"], times, color="#55a868")
    latency.set_ylabel("ms per question")
    latency.set_title("Latency")
    figure.suptitle(f"Eval: {run.info['questions']} questions, answerer {run.info['answerer']}")
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_report(
    run: EvalRun, output: Path, thresholds: Thresholds, failed: Sequence[Breach], dataset: str,
) -> dict[str, Path]:
    """Write report.json, report.md and metrics.png into `output`; return their paths."""
    output.mkdir(parents=True, exist_ok=True)
    names = {"json": "report.json", "markdown": "report.md", "chart": "metrics.png"}
    paths = {kind: output / name for kind, name in names.items()}
    data = report_data(run, thresholds, failed, dataset)
    paths["json"].write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    paths["markdown"].write_text(markdown(run, thresholds, failed, dataset), encoding="utf-8")
    chart(run, thresholds, paths["chart"])
    return paths


def terminal_summary(run: EvalRun, failed: Sequence[Breach], paths: dict[str, Path]) -> str:
    lines = [f"{m:<28} {shown(m, run.summary.get(m))}" for m in METRICS]
    problems = sum(not r.passed for r in run.results)
    lines.append(f"{problems} of {len(run.results)} questions with problems; report: {paths['markdown']}")
    lines += [f"below threshold: {b}" for b in failed]
    if run.judge is not None:
        s = run.judge["summary"]
        lines.append(
            f"LLM judge (not gated): faithful rate {shown('judge', s['judge_faithful_rate'])}, "
            f"correctness {shown('judge', s['judge_correctness_mean'])}/5 on {s['judged']} answers, "
            f"{s['unparsed']} unparsed"
        )
    return "\n".join(lines)
