"""Writing a run down, each part of the question set beside the other (dev tuned on, test held out
and gated): report.json (stable keys), report.md for a person (failures first) and a PNG chart."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eval.answerability import curve_chart, curve_markdown
from eval.chart import chart, shown
from eval.gate import METRICS, Breach, Thresholds
from eval.metrics import QuestionResult
from eval.parts import Part, gated_part, parts
from eval.runner import EvalRun
from eval.sentences import llm_sentences_markdown


def bound_of(metric: str, thresholds: Thresholds) -> str:
    if metric in thresholds.minimum:
        return f">= {thresholds.minimum[metric]:g}"
    if metric in thresholds.maximum:
        return f"<= {thresholds.maximum[metric]:g}"
    return ""


def _rounded(summary: dict[str, float | None]) -> dict[str, float | None]:
    return {m: (None if v is None else round(v, 4)) for m, v in summary.items()}


def _counts(part: Part) -> str:
    info = part.run.info
    return f"{info['questions']} ({info['answerable']} answerable, {info['unanswerable']} not)"


def report_data(
    run: EvalRun,
    thresholds: Thresholds,
    failed: Sequence[Breach],
    dataset: str,
) -> dict[str, Any]:
    """`summary` holds the gated part's metrics (the test part; the whole set when it has no parts),
    `parts` every part's, `questions` every question with its part."""
    found = parts(run)
    split_of = {r.id: part.name for part in found for r in part.run.results}
    return {
        "passed": not failed,
        "dataset": dataset,
        "gated_on": gated_part(found).name,
        "summary": _rounded(gated_part(found).run.summary),
        "parts": {
            part.name: {
                "label": part.label,
                "gated": part.gated,
                **{k: part.run.info[k] for k in ("questions", "answerable", "unanswerable")},
                "summary": _rounded(part.run.summary),
            }
            for part in found
        },
        "breaches": [str(b) for b in failed],
        "thresholds": {"minimum": thresholds.minimum, "maximum": thresholds.maximum},
        "run": {k: v for k, v in run.info.items() if k != "parts"},
        "grounding_checker": {
            "accuracy": round(run.checker.accuracy, 4),
            "by_kind": run.checker.by_kind,
            "misses": run.checker.misses,
            "llm_sentences": run.checker.llm_sentences,
        },
        "questions": [{**r.to_dict(), "split": split_of[r.id]} for r in run.results],
        **({"judge": run.judge} if run.judge is not None else {}),
        **({"answerability": run.answerability} if run.answerability is not None else {}),
    }


def _question_block(result: QuestionResult, part: str) -> list[str]:
    kind = "answerable" if result.answerable else "not answerable"
    lines = [f"### {result.id} — {result.question}", "", f"*{kind}*, {part}, {result.latency_ms:.0f} ms", ""]
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
        "## LLM judge (not gated)",
        "",
        f"Judge `{judge['model']}`, {s['judged']} answers judged ({s['skipped']} unanswerable or refused "
        "skipped). Small judges vary from run to run: these figures inform, the thresholds never "
        "read them.",
        "",
        "| metric | value |",
        "|---|---|",
        f"| judge_faithful_rate | {shown('judge_faithful_rate', s['judge_faithful_rate'])} "
        f"({s['faithful']} faithful, {s['unfaithful']} not, {s['unparsed']} unparsed) |",
        f"| judge_correctness_mean (1-5) | {shown('judge_correctness_mean', s['judge_correctness_mean'])} "
        f"({s['correctness_scored']} scored, {s['correctness_unparsed']} unparsed) |",
        "",
        "| id | faithfulness | judge's reply | correctness | judge's reasoning |",
        "|---|---|---|---|---|",
    ]
    for row in judge["questions"]:
        score = "—" if row["correctness"] is None else f"{row['correctness']:g}"
        lines.append(
            f"| {row['id']} | {_verdict(row['faithful'])} | {_cell(row['feedback'])} | {score} "
            f"| {_cell(row['correctness_feedback'])} |"
        )
    return lines


def metrics_table(found: Sequence[Part], thresholds: Thresholds) -> list[str]:
    """One column per part, then the bounds (which apply to the gated part only)."""
    gate = gated_part(found)
    head = " | ".join(part.label for part in found)
    lines = [f"| metric | {head} | threshold ({gate.name}) |", "|---|" + "---|" * (len(found) + 1)]
    for m in METRICS:
        cells = " | ".join(shown(m, part.run.summary.get(m)) for part in found)
        lines.append(f"| {m} | {cells} | {bound_of(m, thresholds)} |")
    return lines


def markdown(run: EvalRun, thresholds: Thresholds, failed: Sequence[Breach], dataset: str) -> str:
    found = parts(run)
    gate = gated_part(found)
    info = run.info
    sizes = "; ".join(f"{part.label}: {_counts(part)}" for part in found)
    lines = [
        f"# Eval report — {dataset}",
        "",
        f"**Gate on {gate.label}: {'PASSED' if not failed else 'FAILED'}** — {sizes}; answerer "
        f"`{info['answerer']}`, top_k {info['top_k']}.",
        "",
    ]
    if len(found) > 1:
        lines += [
            "Thresholds, decisions and prompts are fitted on the dev part only; the test part is "
            "never read by tuning, and only its figures are gated.",
            "",
        ]
    lines += [f"- below threshold: {b}" for b in failed] + ([""] if failed else [])
    lines += metrics_table(found, thresholds)
    for part in sorted(found, key=lambda p: not p.gated):
        failures = [r for r in part.run.results if not r.passed]
        lines += ["", f"## Questions with problems — {part.label} ({len(failures)})", ""]
        for result in failures:
            lines += _question_block(result, part.label)
    lines += [
        "## Grounding checker",
        "",
        f"Accuracy {run.checker.accuracy:.3f} on {info['pairs']} labelled sentence/passage pairs.",
        "",
        "| kind | accuracy |",
        "|---|---|",
    ]
    lines += [f"| {kind} | {value:.2f} |" for kind, value in run.checker.by_kind.items()]
    verdict = "Pairs the checker gets wrong:" if run.checker.misses else "The checker gets every pair right."
    lines += ["", verdict]
    for miss in run.checker.misses:
        expected = "supported" if miss["expected"] else "unsupported"
        lines.append(
            f"- {miss['id']} ({miss['kind']}, labelled {expected}): {miss['sentence']} "
            f"— {'; '.join(miss['reasons']) or 'no objection'}"
        )
    lines += llm_sentences_markdown(run.checker.llm_sentences)
    if run.answerability is not None:
        lines += ["", *curve_markdown(run.answerability)]
    if run.judge is not None:
        lines += ["", *judge_markdown(run.judge)]
    passed = [(part, r) for part in found for r in part.run.results if r.passed]
    lines += ["", f"## Questions without problems ({len(passed)})", ""]
    lines += ["| id | part | question | ms |", "|---|---|---|---|"]
    lines += [
        f"| {r.id} | {part.name} | {r.question.replace('|', '/')} | {r.latency_ms:.0f} |"
        for part, r in passed
    ]
    return "\n".join(lines) + "\n"


def write_report(
    run: EvalRun,
    output: Path,
    thresholds: Thresholds,
    failed: Sequence[Breach],
    dataset: str,
) -> dict[str, Path]:
    """Write report.json, report.md and metrics.png into `output`; return their paths."""
    output.mkdir(parents=True, exist_ok=True)
    names = {"json": "report.json", "markdown": "report.md", "chart": "metrics.png"}
    paths = {kind: output / name for kind, name in names.items()}
    data = report_data(run, thresholds, failed, dataset)
    paths["json"].write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    paths["markdown"].write_text(markdown(run, thresholds, failed, dataset), encoding="utf-8")
    chart(run, thresholds, paths["chart"])
    if run.answerability is not None:
        paths["answerability"] = output / "answerability.png"
        curve_chart(run.answerability, paths["answerability"])
    return paths


def terminal_summary(run: EvalRun, failed: Sequence[Breach], paths: dict[str, Path]) -> str:
    """One column per part; the gate's verdict names the part it read."""
    found = parts(run)
    gate = gated_part(found)
    lines = [f"{'':<28} " + "".join(f"{part.label:<20}" for part in found)]
    lines += [
        f"{m:<28} " + "".join(f"{shown(m, part.run.summary.get(m)):<20}" for part in found) for m in METRICS
    ]
    problems = ", ".join(
        f"{part.name} {sum(not r.passed for r in part.run.results)} of {len(part.run.results)}"
        for part in found
    )
    lines.append(f"questions with problems: {problems}; report: {paths['markdown']}")
    verdict = "passed" if not failed else "FAILED"
    lines.append(f"gate on {gate.label}: {verdict}")
    lines += [f"below threshold: {b}" for b in failed]
    if run.judge is not None:
        s = run.judge["summary"]
        lines.append(
            f"LLM judge (not gated): faithful rate {shown('judge', s['judge_faithful_rate'])}, "
            f"correctness {shown('judge', s['judge_correctness_mean'])}/5 on {s['judged']} answers, "
            f"{s['unparsed']} unparsed"
        )
    return "\n".join(lines)
