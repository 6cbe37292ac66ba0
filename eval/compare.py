"""Answerers side by side: the same questions through several answerers, one table of metrics and
one row per question showing where they differ."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eval.gate import METRICS
from eval.report import shown
from eval.runner import EvalRun


def comparison_data(runs: dict[str, EvalRun]) -> dict[str, Any]:
    names = list(runs)
    first = runs[names[0]]
    questions = []
    for i, result in enumerate(first.results):
        row: dict[str, Any] = {"id": result.id, "question": result.question}
        for name in names:
            other = runs[name].results[i]
            row[name] = {"answer": other.answer, "passed": other.passed, "failures": other.failures}
        questions.append(row)
    return {
        "answerers": names,
        "summary": {m: {n: runs[n].summary.get(m) for n in names} for m in METRICS},
        "questions": questions,
    }


def comparison_markdown(runs: dict[str, EvalRun]) -> str:
    names = list(runs)
    lines = ["# Answerers side by side", "", "| metric | " + " | ".join(names) + " |",
             "|---|" + "---|" * len(names)]
    for metric in METRICS:
        cells = " | ".join(shown(metric, runs[n].summary.get(metric)) for n in names)
        lines.append(f"| {metric} | {cells} |")
    lines += ["", "## Questions where the answerers differ", ""]
    data = comparison_data(runs)
    for row in data["questions"]:
        if len({row[n]["passed"] for n in names}) == 1:
            continue
        lines += [f"### {row['id']} — {row['question']}", ""]
        for name in names:
            verdict = "ok" if row[name]["passed"] else "; ".join(row[name]["failures"])
            lines += [f"- **{name}** ({verdict}): {row[name]['answer']}"]
        lines.append("")
    return "\n".join(lines) + "\n"


def write_comparison(runs: dict[str, EvalRun], output: Path) -> dict[str, Path]:
    output.mkdir(parents=True, exist_ok=True)
    paths = {"json": output / "comparison.json", "markdown": output / "comparison.md"}
    data = comparison_data(runs)
    paths["json"].write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    paths["markdown"].write_text(comparison_markdown(runs), encoding="utf-8")
    return paths
