"""The dev/test parts of the eval set: the shipped split is disjoint, stratified, large enough and
checked against the articles; assigning parts is deterministic and stable; a run is summarised per
part (report and comparison) and the gate reads the test part only."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from eval.compare import comparison_data, comparison_markdown
from eval.dataset import DEFAULT_DATASET, DatasetError, Question, load_questions
from eval.gate import Thresholds, breaches
from eval.metrics import QuestionResult, normalise, summarize
from eval.parts import gated_part, mark_parts, parts
from eval.report import markdown, report_data, terminal_summary
from eval.runner import CheckerResult, EvalRun
from eval.split import assign_splits, stratum
from rag.corpus import read_text
from tests.conftest import CORPUS

ROWS = [json.loads(line) for line in DEFAULT_DATASET.read_text(encoding="utf-8").splitlines() if line]


def test_shipped_set__dev_and_test_are_disjoint_and_each_large_enough() -> None:
    dev, test = load_questions(split="dev"), load_questions(split="test")
    assert {q.id for q in dev}.isdisjoint(q.id for q in test)
    assert len(dev) + len(test) == len(load_questions())
    for part in (dev, test):
        assert len(part) >= 60
        assert sum(not q.answerable for q in part) >= 12


def test_shipped_set__every_stratum_is_split_within_one_question() -> None:
    counts = Counter((q.category, q.answerable, q.split) for q in load_questions())
    for category, answerable in {(c, a) for c, a, _ in counts}:
        assert abs(counts[(category, answerable, "dev")] - counts[(category, answerable, "test")]) <= 1


def test_shipped_set__every_question_has_the_part_the_rule_gives() -> None:
    assert all(row.get("split") for row in ROWS)
    assert assign_splits(ROWS) == ROWS  # nothing left to assign, nothing reordered


def test_shipped_set__every_required_word_is_in_a_cited_article() -> None:
    texts = {path.name: normalise(read_text(path)) for path in CORPUS.glob("*.txt")}
    for q in load_questions():
        for group in q.must_include:
            cited = [texts[name] for name in q.sources]
            assert any(normalise(word) in text for word in group for text in cited), (q.id, group)


def test_assign_splits__stable_when_questions_are_added_and_balanced_per_stratum() -> None:
    rows = [{"id": f"x{i}", "category": "c", "answerable": i % 3 != 0} for i in range(30)]
    first = assign_splits(rows)
    assert assign_splits(rows) == first  # deterministic
    grown = assign_splits([*first, *({"id": f"y{i}", "category": "c", "answerable": True} for i in range(7))])
    assert grown[:30] == first  # earlier questions keep their part
    counts = Counter((stratum(r), r["split"]) for r in grown)
    for key in {stratum(r) for r in grown}:
        assert abs(counts[(key, "dev")] - counts[(key, "test")]) <= 1


def _write(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_load_questions__a_part_on_some_questions_only_is_an_error(tmp_path: Path) -> None:
    base = {"question": "Q ?", "answerable": False, "sources": [], "must_include": []}
    path = _write(tmp_path / "set.jsonl", [{"id": "a", "split": "dev", **base}, {"id": "b", **base}])
    with pytest.raises(DatasetError, match="either every question has a 'split'"):
        load_questions(path)
    _write(path, [{"id": "a", "split": "train", **base}])
    with pytest.raises(DatasetError, match="line 1: field 'split' must be one of dev, test"):
        load_questions(path)


def _question(qid: str, split: str, answerable: bool) -> Question:
    sources = ("004_d6bdbc85729e3bbc.txt",) if answerable else ()
    return Question(qid, f"{qid} ?", answerable, sources, (("x",),) if answerable else (), split=split)


def _result(q: Question, *, right: bool) -> QuestionResult:
    result = QuestionResult(
        id=q.id,
        question=q.question,
        answerable=q.answerable,
        answer="a",
        refused=not right and not q.answerable,
        latency_ms=10.0 if q.split == "dev" else 20.0,
        retrieved_files=[],
        cited_files=[],
    )
    if q.answerable:
        result.correct, result.hit, result.reciprocal_rank, result.recall = right, 1.0, 1.0, 1.0
    else:
        result.refusal_ok = right
    if not right:
        result.failures.append("wrong")
    return result


@pytest.fixture
def split_run() -> EvalRun:
    """Dev answers everything wrong, test everything right."""
    questions = [
        _question("d1", "dev", True),
        _question("t1", "test", True),
        _question("d2", "dev", False),
        _question("t2", "test", False),
    ]
    results = [_result(q, right=q.split == "test") for q in questions]
    run = EvalRun(
        summary={**summarize(results), "grounding_checker_accuracy": 0.9},
        results=results,
        checker=CheckerResult(accuracy=0.9, by_kind={}),
        info={
            "questions": 4,
            "answerable": 2,
            "unanswerable": 2,
            "answerer": "extractive",
            "top_k": 8,
            "pairs": 0,
        },
    )
    mark_parts(run, questions)
    return run


def test_parts__each_part_is_summarised_on_its_own_questions(split_run: EvalRun) -> None:
    dev, test = parts(split_run)
    assert (dev.label, test.label) == ("dev (tuned on)", "test (held out)")
    assert [r.id for r in dev.run.results] == ["d1", "d2"]
    assert [r.id for r in test.run.results] == ["t1", "t2"]
    assert dev.run.summary["answer_correct_rate"] == 0.0 and test.run.summary["answer_correct_rate"] == 1.0
    assert dev.run.summary["latency_ms_p50"] == 10.0 and test.run.summary["latency_ms_p50"] == 20.0
    assert dev.run.summary["grounding_checker_accuracy"] == 0.9  # a run-level figure, in every part


def test_gate__reads_the_test_part_only(split_run: EvalRun, tmp_path: Path) -> None:
    strict = Thresholds(minimum={"answer_correct_rate": 0.75, "refusal_rate_unanswerable": 0.75}, maximum={})
    assert breaches(split_run.summary, strict)  # the whole set (dev included) would fail
    gate = gated_part(parts(split_run))
    assert gate.name == "test" and breaches(gate.run.summary, strict) == []
    data = report_data(split_run, strict, [], "set.jsonl")
    assert data["gated_on"] == "test" and data["summary"] == data["parts"]["test"]["summary"]
    assert data["parts"]["dev"]["summary"]["answer_correct_rate"] == 0.0
    assert [q["split"] for q in data["questions"]] == ["dev", "test", "dev", "test"]
    text = markdown(split_run, strict, [], "set.jsonl")
    assert "| metric | dev (tuned on) | test (held out) | threshold (test) |" in text
    assert "| answer_correct_rate | 0.000 | 1.000 | >= 0.75 |" in text
    summary = terminal_summary(split_run, [], {"markdown": tmp_path / "report.md"})
    assert "dev (tuned on)" in summary and "gate on test (held out): passed" in summary


def test_parts__a_set_without_parts_is_one_part_gated_whole() -> None:
    q = Question("a", "a ?", True, ("004_d6bdbc85729e3bbc.txt",), (("x",),))
    result = _result(q, right=True)
    run = EvalRun(
        summary=summarize([result]),
        results=[result],
        checker=CheckerResult(1.0, {}),
        info={"questions": 1, "answerable": 1, "unanswerable": 0},
    )
    mark_parts(run, [q])
    (only,) = parts(run)
    assert only.name == "all" and only.gated and only.run is run


def test_comparison__a_table_per_part_and_the_test_part_as_summary(split_run: EvalRun) -> None:
    runs = {"a": split_run, "b": split_run}
    data = comparison_data(runs)
    assert data["gated_on"] == "test" and data["summary"] == data["parts"]["test"]["summary"]
    assert data["parts"]["dev"]["summary"]["answer_correct_rate"] == {"a": 0.0, "b": 0.0}
    assert [row["part"] for row in data["questions"]] == ["dev", "test", "dev", "test"]
    text = comparison_markdown(runs)
    assert text.index("## dev (tuned on)") < text.index("## test (held out)")
