"""Answerers side by side: the same questions through several answerers, one table of metrics per
part of the question set (dev tuned on, test held out) and one row per question where they differ."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eval.chart import shown
from eval.gate import METRICS
from eval.parts import Part, gated_part, parts
from eval.runner import EvalRun


def _parts(runs: dict[str, EvalRun]) -> dict[str, list[Part]]:
    return {name: parts(run) for name, run in runs.items()}


def _table(split: dict[str, list[Part]], index: int) -> dict[str, dict[str, float | None]]:
    return {m: {n: found[index].run.summary.get(m) for n, found in split.items()} for m in METRICS}


def comparison_data(runs: dict[str, EvalRun]) -> dict[str, Any]:
    """`summary` holds the gated part's metrics per answerer, `parts` every part's."""
    names = list(runs)
    first = runs[names[0]]
    split = _parts(runs)
    part_of = {r.id: part.name for part in split[names[0]] for r in part.run.results}
    questions = []
    for i, result in enumerate(first.results):
        row: dict[str, Any] = {"id": result.id, "part": part_of[result.id], "question": result.question}
        for name in names:
            other = runs[name].results[i]
            row[name] = {"answer": other.answer, "passed": other.passed, "failures": other.failures}
        questions.append(row)
    found = split[names[0]]
    gated = found.index(gated_part(found))
    return {
        "answerers": names,
        "gated_on": found[gated].name,
        "summary": _table(split, gated),
        "parts": {
            part.name: {"label": part.label, "summary": _table(split, j)} for j, part in enumerate(found)
        },
        "questions": questions,
    }


def comparison_markdown(runs: dict[str, EvalRun]) -> str:
    names = list(runs)
    data = comparison_data(runs)
    lines = ["# Answerers side by side"]
    for part in data["parts"].values():
        lines += [
            "",
            f"## {part['label']}",
            "",
            "| metric | " + " | ".join(names) + " |",
            "|---|" + "---|" * len(names),
        ]
        for metric in METRICS:
            cells = " | ".join(shown(metric, part["summary"][metric][n]) for n in names)
            lines.append(f"| {metric} | {cells} |")
    lines += ["", "## Questions where the answerers differ", ""]
    for row in data["questions"]:
        if len({row[n]["passed"] for n in names}) == 1:
            continue
        lines += [f"### {row['id']} ({row['part']}) — {row['question']}", ""]
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
