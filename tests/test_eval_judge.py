"""The optional LLM judge of `rag eval`: French- and English-safe parsing of its replies, a dead judge
recorded as unparsed rather than a crash, its report section outside the gate, `--judge` without an
endpoint as a usage error, and a real run against SmolLM2 on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from cli.main import main
from eval.dataset import DEFAULT_DATASET, Question, load_questions
from eval.gate import METRICS, Thresholds, breaches, load_thresholds
from eval.judge import judge_run, parse_score, parse_verdict
from eval.metrics import QuestionResult
from eval.report import markdown, report_data
from eval.runner import CheckerResult, EvalRun
from rag.answering.llms import build_judge_llm
from rag.settings import Settings
from rag.types import REFUSAL, Answer, Citation
from tests.live_server import free_port
from tests.llm_server import llama_server, require_llm_tier
from tests.test_eval_cli import rag, write_jsonl


@pytest.mark.parametrize(
    "reply",
    [
        "Oui",
        "OUI, chaque information figure dans les passages.",
        "**OUI**",
        "Yes.",
        "Vrai",
        "correct",
        "nonobstant la formulation, oui",
        "Réponse : oui\nLa réponse reprend le passage 1.",
    ],
)
def test_parse_verdict__yes_words_pass(reply: str) -> None:
    assert parse_verdict(reply) is True


@pytest.mark.parametrize(
    "reply",
    [
        "Non, la réponse n'est pas étayée",
        "La réponse est : NON.",
        "_Non_",
        "NO",
        "Faux.",
        "incorrect",
        "Non. Oui, le passage parle d'Amazon, mais pas du montant.",
    ],
)
def test_parse_verdict__no_words_fail(reply: str) -> None:
    assert parse_verdict(reply) is False


@pytest.mark.parametrize(
    "reply",
    [
        "",
        "Je ne sais pas.",
        "Bien sûr, mes yeux (eyes) voient tout hier (yesterday).",
        "nonobstant",
        "La réponse est incorrecte",
        "Ouiii",
        "noyes",
    ],
)
def test_parse_verdict__no_yes_no_word_is_unparsed(reply: str) -> None:
    assert parse_verdict(reply) is None


@pytest.mark.parametrize(
    ("reply", "score", "reasoning"),
    [
        ("4", 4.0, "4"),
        ("4/5", 4.0, "4/5"),
        ("4,5", 4.5, "4,5"),
        (
            "4.0\nThe generated answer matches the reference.",
            4.0,
            "The generated answer matches the reference.",
        ),
        ("Note : 4 sur 5. La réponse est exacte.", 4.0, "La réponse est exacte."),
        ("**2**\nIl manque le montant.", 2.0, "Il manque le montant."),
        ("Score: 3 out of 5", 3.0, "Score: 3 out of 5"),
    ],
)
def test_parse_score__reads_the_first_number(reply: str, score: float, reasoning: str) -> None:
    assert parse_score(reply) == (score, reasoning)


@pytest.mark.parametrize("reply", ["", "Très bonne réponse.", "0/5", "6", "10/10", "4/10", "Note : 7 sur 10"])
def test_parse_score__no_score_out_of_5_is_unparsed(reply: str) -> None:
    assert parse_score(reply) == (None, reply)


def _answer(question: str, text: str, citations: list[Citation]) -> Answer:
    return Answer(question=question, answer=text, refused=text == REFUSAL, citations=citations, passages=[])


def _result(question: Question, answer: Answer) -> QuestionResult:
    return QuestionResult(
        id=question.id,
        question=question.question,
        answerable=question.answerable,
        answer=answer.answer,
        refused=answer.refused,
        latency_ms=1.0,
        retrieved_files=[],
        cited_files=[c.file for c in answer.citations],
    )


@pytest.fixture
def small_run() -> tuple[EvalRun, list[Question]]:
    """Four questions: answered and cited (with a reference), answered without a reference, refused,
    and unanswerable."""
    quote = "Amazon a investi 4 milliards."
    citation = Citation(1, "004_d6bdbc85729e3bbc.txt", "Anthropic", quote, 0, len(quote), 1.0)
    questions = [
        Question(
            "a",
            "Combien Amazon a-t-il investi ?",
            True,
            ("004_d6bdbc85729e3bbc.txt",),
            (("4",),),
            reference="4 milliards de dollars.",
        ),
        Question(
            "b", "Combien Amazon a-t-il investi, encore ?", True, ("004_d6bdbc85729e3bbc.txt",), (("4",),)
        ),
        Question("c", "Qui a rejoint Anthropic ?", True, ("002_32947e2b12942824.txt",), (("Schulman",),)),
        Question("d", "Quelle est la capitale de l'Australie ?", False, (), ()),
    ]
    answers = [
        _answer(questions[0].question, "Amazon a investi 4 milliards. [1]", [citation]),
        _answer(questions[1].question, "Amazon a investi 4 milliards. [1]", [citation]),
        _answer(questions[2].question, REFUSAL, []),
        _answer(questions[3].question, REFUSAL, []),
    ]
    run = EvalRun(
        summary={"hit_at_k": 1.0},
        results=[_result(q, a) for q, a in zip(questions, answers, strict=True)],
        checker=CheckerResult(accuracy=1.0, by_kind={}),
        info={
            "questions": 4,
            "answerable": 3,
            "unanswerable": 1,
            "answerer": "extractive",
            "top_k": 8,
            "pairs": 0,
        },
        answers=answers,
    )
    return run, questions


def test_judge_run__an_unreachable_llm_is_unparsed_not_a_crash(small_run: tuple) -> None:
    run, questions = small_run
    settings = Settings(
        llm_base_url=f"http://127.0.0.1:{free_port()}/v1",
        llm_model="judge",
        llm_timeout_s=10.0,
        _env_file=None,
    )  # type: ignore[call-arg]
    judged = judge_run(run, questions, build_judge_llm(settings))
    assert judged["model"] == "judge"
    assert judged["summary"] == {
        "judged": 2,
        "faithful": 0,
        "unfaithful": 0,
        "unparsed": 2,
        "judge_faithful_rate": None,
        "judge_correctness_mean": None,
        "correctness_scored": 0,
        "correctness_unparsed": 1,
        "skipped": 2,
    }
    first, second = judged["questions"]
    assert [first["id"], second["id"]] == ["a", "b"]
    assert first["faithful"] is None and first["feedback"].startswith("judge error: ")
    assert first["correctness"] is None and first["correctness_feedback"].startswith("judge error: ")
    assert second["correctness_feedback"] is None  # no reference: correctness not asked


def test_report__judge_section_outside_the_gate(small_run: tuple) -> None:
    run, _ = small_run
    thresholds = Thresholds(minimum={"hit_at_k": 0.5}, maximum={})
    assert "judge" not in report_data(run, thresholds, [], "small.jsonl")
    assert "LLM judge" not in markdown(run, thresholds, [], "small.jsonl")
    run.judge = {
        "model": "judge",
        "summary": {
            "judged": 1,
            "faithful": 0,
            "unfaithful": 1,
            "unparsed": 0,
            "judge_faithful_rate": 0.0,
            "judge_correctness_mean": 1.0,
            "correctness_scored": 1,
            "correctness_unparsed": 0,
            "skipped": 3,
        },
        "questions": [
            {
                "id": "a",
                "question": "?",
                "faithful": False,
                "feedback": "NON | rien",
                "correctness": 1.0,
                "correctness_feedback": "Faux.",
            }
        ],
    }
    assert breaches(run.summary, thresholds) == []  # a judge at 0 does not fail the gate
    assert report_data(run, thresholds, [], "small.jsonl")["judge"] == run.judge
    text = markdown(run, thresholds, [], "small.jsonl")
    assert "## LLM judge (not gated)" in text and "| a | not faithful | NON / rien | 1 | Faux. |" in text


def test_thresholds__judge_metrics_cannot_be_gated(tmp_path: Path) -> None:
    path = tmp_path / "thresholds.json"
    path.write_text(json.dumps({"minimum": {"judge_faithful_rate": 0.5}}), encoding="utf-8")
    with pytest.raises(Exception, match="unknown metric 'judge_faithful_rate'"):
        load_thresholds(path)


def test_eval_judge__without_llm_settings_is_a_usage_error(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("RAG_LLM_BASE_URL", "")
    monkeypatch.setenv("RAG_LLM_MODEL", "")
    monkeypatch.setenv("RAG_INDEX_DIR", str(tmp_path / "no-index"))  # building the engine would fail too
    code = main(["eval", "--judge", "--answerer", "extractive", "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert "rag eval --judge needs RAG_LLM_BASE_URL" in err and "RAG_LLM_MODEL" in err
    assert not (tmp_path / "out").exists()


JUDGED_IDS = ["q02", "q03", "q04", "q63"]  # three answerable, one not


@pytest.fixture(scope="module")
def judged_eval(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    """`rag eval --judge` as a user runs it, SmolLM2 as the judge, against thresholds that pass."""
    model = require_llm_tier()
    work = tmp_path_factory.mktemp("eval-judge")
    env = {"RAG_INDEX_DIR": str(work / "index"), "RAG_COLLECTION": "eval-judge", "HF_HUB_OFFLINE": "1"}
    ingested = rag("ingest", env=env)
    assert ingested.returncode == 0, ingested.stderr
    rows = [json.loads(line) for line in DEFAULT_DATASET.read_text(encoding="utf-8").splitlines() if line]
    dataset = write_jsonl(work / "small.jsonl", [r for r in rows if r["id"] in JUDGED_IDS])
    assert [q.id for q in load_questions(dataset)] == JUDGED_IDS
    thresholds = work / "lenient.json"
    thresholds.write_text(json.dumps({"minimum": {"hit_at_k": 0.5}, "maximum": {}}), encoding="utf-8")
    with llama_server(model) as llm:
        result = rag(
            "eval",
            "--judge",
            "--answerer",
            "extractive",
            "--dataset",
            str(dataset),
            "--output",
            str(work / "out"),
            "--thresholds",
            str(thresholds),
            env={
                **env,
                "RAG_LLM_BASE_URL": llm.base_url,
                "RAG_LLM_MODEL": "smollm2",
                "RAG_LLM_TIMEOUT_S": "180",
                "RAG_LLM_MAX_TOKENS": "64",
            },
        )
    return result, work / "out"


@pytest.mark.llm
@pytest.mark.slow
def test_eval_judge__smollm2_judges_outside_the_gate(judged_eval: tuple) -> None:
    result, out = judged_eval
    assert result.returncode == 0, result.stdout + result.stderr  # the lenient gate alone decides
    assert "LLM judge (not gated)" in result.stdout
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["passed"] is True and report["breaches"] == []
    assert set(report["summary"]) == set(METRICS)  # no judge metric among the gated ones
    judge = report["judge"]
    summary, rows = judge["summary"], judge["questions"]
    assert judge["model"] == "smollm2"
    assert summary["judged"] >= 1 and summary["judged"] == len(rows)
    assert summary["judged"] + summary["skipped"] == len(JUDGED_IDS)
    assert "q63" not in {row["id"] for row in rows}
    verdicts = [row["faithful"] for row in rows]
    assert set(verdicts) <= {True, False, None}
    assert (summary["faithful"], summary["unfaithful"], summary["unparsed"]) == (
        verdicts.count(True),
        verdicts.count(False),
        verdicts.count(None),
    )
    decided = summary["faithful"] + summary["unfaithful"]
    assert summary["judge_faithful_rate"] == (summary["faithful"] / decided if decided else None)
    assert all(row["feedback"] for row in rows)
    scores = [row["correctness"] for row in rows if row["correctness"] is not None]
    assert summary["correctness_scored"] == len(scores) and all(1 <= s <= 5 for s in scores)
    text = (out / "report.md").read_text(encoding="utf-8")
    assert "## LLM judge (not gated)" in text and "Judge `smollm2`" in text
    assert all(f"| {row['id']} | " in text for row in rows)
