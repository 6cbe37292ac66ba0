"""`rag eval` as a user runs it: a real subprocess on a real temporary index, a small question set,
the report files, the exit codes (1 below a threshold, 2 usage error), and a set with dev and test
parts, reported side by side and gated on the test part only."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from eval.gate import METRICS
from tests.conftest import run_rag

pytestmark = pytest.mark.slow

QUESTIONS = [
    {
        "id": "t1",
        "question": "Combien Amazon a-t-il investi dans Anthropic ?",
        "answerable": True,
        "sources": ["004_d6bdbc85729e3bbc.txt"],
        "must_include": [["4 milliards"]],
        "reference": "4 milliards",
    },
    {
        "id": "t2",
        "question": "Pourquoi John Schulman a-t-il quitté OpenAI ?",
        "answerable": True,
        "sources": ["000_f26d2272fd34496e.txt", "001_693cd8350728ec63.txt"],
        "must_include": [["alignement", "alignment"]],
    },
    {
        "id": "t3",
        "question": "Quelle est la capitale de l'Australie ?",
        "answerable": False,
        "sources": [],
        "must_include": [],
    },
]


def rag(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`rag ARGS` as another process, with the time a whole eval may take."""
    return run_rag(*args, env=env, timeout=600)


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("eval-cli")


@pytest.fixture(scope="module")
def env(workdir: Path) -> dict[str, str]:
    values = {"RAG_INDEX_DIR": str(workdir / "index"), "RAG_COLLECTION": "eval-cli", "HF_HUB_OFFLINE": "1"}
    ingested = rag("ingest", env=values)
    assert ingested.returncode == 0, ingested.stderr
    return values


@pytest.fixture(scope="module")
def dataset(workdir: Path) -> Path:
    return write_jsonl(workdir / "small.jsonl", QUESTIONS)


@pytest.fixture(scope="module")
def strict_run(workdir: Path, env: dict[str, str], dataset: Path) -> subprocess.CompletedProcess[str]:
    """One run against thresholds demanding perfection on every quality metric."""
    rates = [m for m in METRICS if not m.startswith("latency") and m != "false_refusal_rate"]
    limits = {"minimum": dict.fromkeys(rates, 1.0), "maximum": {"false_refusal_rate": 0.0}}
    (workdir / "strict.json").write_text(json.dumps(limits), encoding="utf-8")
    return rag(
        "eval",
        "--dataset",
        str(dataset),
        "--output",
        str(workdir / "strict"),
        "--thresholds",
        str(workdir / "strict.json"),
        env=env,
    )


Run = subprocess.CompletedProcess[str]


def test_eval__writes_report_json_markdown_and_chart(workdir: Path, strict_run: Run) -> None:
    assert strict_run.returncode in (0, 1), strict_run.stderr
    report = json.loads((workdir / "strict" / "report.json").read_text(encoding="utf-8"))
    assert set(report["summary"]) == set(METRICS)
    assert [q["id"] for q in report["questions"]] == ["t1", "t2", "t3"]
    assert {"answer", "failures", "sentences", "latency_ms", "passed"} <= set(report["questions"][0])
    assert report["run"]["answerer"] == "extractive" and report["run"]["pairs"] >= 40
    markdown = (workdir / "strict" / "report.md").read_text(encoding="utf-8")
    assert markdown.startswith("# Eval report — small.jsonl") and "grounding_checker_accuracy" in markdown
    assert all(str(q["question"]) in markdown for q in QUESTIONS)
    assert (workdir / "strict" / "metrics.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_eval__a_metric_below_its_threshold_exits_1(workdir: Path, strict_run: Run) -> None:
    assert strict_run.returncode == 1, strict_run.stdout + strict_run.stderr
    assert "below threshold: " in strict_run.stdout
    report = json.loads((workdir / "strict" / "report.json").read_text(encoding="utf-8"))
    assert report["passed"] is False and report["breaches"]


def test_eval__a_malformed_line_exits_2_and_names_it(workdir: Path, env: dict[str, str]) -> None:
    broken = workdir / "broken.jsonl"
    broken.write_text(
        json.dumps(QUESTIONS[0]) + "\n\n" + '{"id": "t2", "question": "Pourquoi ?", "answerable": tru}\n',
        encoding="utf-8",
    )
    result = rag("eval", "--dataset", str(broken), "--output", str(workdir / "broken"), env=env)
    assert result.returncode == 2
    assert "line 3: invalid JSON" in result.stderr and "Traceback" not in result.stderr
    assert not (workdir / "broken").exists()


def test_eval__a_missing_dataset_exits_2(workdir: Path, env: dict[str, str]) -> None:
    result = rag("eval", "--dataset", str(workdir / "absent.jsonl"), env=env)
    assert result.returncode == 2 and "does not exist" in result.stderr


def test_eval__a_set_with_parts_is_reported_per_part_and_gated_on_test_only(
    workdir: Path,
    env: dict[str, str],
) -> None:
    # dev holds the only unanswerable question: a bound on refusals no run can meet (1.1) is not gated.
    parts = ["test", "dev", "dev"]
    dataset = write_jsonl(
        workdir / "parts.jsonl", [{**q, "split": p} for q, p in zip(QUESTIONS, parts, strict=True)]
    )
    limits = workdir / "impossible-refusals.json"
    limits.write_text(json.dumps({"minimum": {"refusal_rate_unanswerable": 1.1}}), encoding="utf-8")
    out = workdir / "parts"
    result = rag(
        "eval",
        "--dataset",
        str(dataset),
        "--output",
        str(out),
        "--thresholds",
        str(limits),
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "dev (tuned on)" in result.stdout and "gate on test (held out): passed" in result.stdout
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["gated_on"] == "test" and report["summary"] == report["parts"]["test"]["summary"]
    assert report["parts"]["test"]["summary"]["refusal_rate_unanswerable"] is None
    assert report["parts"]["dev"]["summary"]["refusal_rate_unanswerable"] is not None
    assert [q["split"] for q in report["questions"]] == parts
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert "| metric | dev (tuned on) | test (held out) | threshold (test) |" in markdown
