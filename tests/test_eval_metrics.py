"""Eval metrics on hand-built answers quoting the real corpus, scored with the real grounding checker:
answers that must pass and answers that must fail (a quote off its span, a marker pointing nowhere,
an unsupported number, a missed refusal), plus the dataset reader and the threshold gate."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from eval import evaluate, prepare
from eval.dataset import DatasetError, Question, load_questions
from eval.gate import METRICS, Thresholds, breaches, load_thresholds
from eval.metrics import (
    QuestionResult,
    answer_sentences,
    missing_groups,
    retrieval_scores,
    score_question,
    summarize,
)
from eval.runner import build_checker
from rag.answering.prompts import REFUSALS
from rag.answering.verify import verify
from rag.corpus import Corpus, read_text, title_of
from rag.engine import Engine
from rag.grounding import GroundingChecker
from rag.types import REFUSAL, Answer, Citation, Passage, Sentence
from tests.conftest import CORPUS

TEXTS = {path.name: read_text(path) for path in sorted(CORPUS.glob("*.txt"))}
A000, A004 = "000_f26d2272fd34496e.txt", "004_d6bdbc85729e3bbc.txt"
AMAZON = (
    "Anthropic, créée en 2021 par d'anciens employés et dirigeants d'OpenAI, a récemment obtenu un "
    "investissement de 4 milliards de dollars d'Amazon."
)
SCHULMAN = (
    "Après neuf années passées en tant que cofondateur chez OpenAI aux côtés de Sam Altman, John Schulman "
    "a décidé de quitter son poste pour rejoindre Anthropic, le concurrent direct de l’entreprise."
)
INVESTED = Question("q1", "Combien Amazon a-t-il investi ?", True, (A004,), (("4 milliards",),))
ABSENT = Question("q2", "Quel est le salaire de John Schulman ?", False, (), ())


Score = Callable[..., QuestionResult]


@pytest.fixture(scope="module")
def checker(engine: Engine) -> GroundingChecker:
    """The eval's own checker on the indexed corpus."""
    return build_checker(engine)


@pytest.fixture(scope="module")
def score(checker: GroundingChecker) -> Score:
    def run(question: Question, given: Answer, latency_ms: float = 1.0) -> QuestionResult:
        return score_question(question, given, latency_ms, checker=checker, source=source)

    return run


def source(name: str) -> str | None:
    return TEXTS.get(name)


def cite(n: int, file: str, quote: str, *, shift: int = 0) -> Citation:
    start = TEXTS[file].index(quote) + shift
    return Citation(n, file, title_of(TEXTS[file]), quote, start, start + len(quote), 0.9)


def passages(*files: str) -> list[Passage]:
    return [Passage(f"{f}:{i}", f, "", "", 0, 0, 1.0 / (i + 1)) for i, f in enumerate(files)]


def answer(sentences: list[tuple[str, tuple[int, ...]]], citations: list[Citation], *files: str) -> Answer:
    text = " ".join(s + "".join(f" [{n}]" for n in marks) for s, marks in sentences)
    return Answer(
        question="",
        answer=text,
        refused=False,
        citations=citations,
        passages=passages(*files),
        sentences=[Sentence(s, marks) for s, marks in sentences],
    )


def refusal(*files: str) -> Answer:
    return Answer(question="", answer=REFUSAL, refused=True, citations=[], passages=passages(*files))


def test_retrieval_scores__first_gold_rank_and_share_of_gold_files() -> None:
    assert retrieval_scores(["a", "b", "a", "c"], ["b", "d"]) == (1.0, 0.5, 0.5)
    assert retrieval_scores(["a", "c"], ["b"]) == (0.0, 0.0, 0.0)


def test_missing_groups__ignores_case_accents_and_typographic_apostrophes() -> None:
    text = "La SECURITE d’OpenAI passe après   les produits."
    assert missing_groups(text, [["sécurité"], ["d'openai"], ["produits", "products"]]) == []
    assert missing_groups(text, [["Pachocki"], ["sécurité"]]) == [["Pachocki"]]


def test_missing_groups__a_citation_marker_is_not_the_number_asked_for() -> None:
    assert missing_groups("Il reste des cofondateurs [3].", [["3"]]) == [["3"]]
    assert missing_groups("Il en reste 3 [1].", [["3"]]) == []


def test_score_question__an_answer_whose_only_number_is_a_marker_is_wrong(score: Score) -> None:
    claim = "Amazon a récemment investi des milliards de dollars dans Anthropic."
    asked = replace(INVESTED, must_include=(("4",),))
    result = score(asked, answer([(claim, (4,))], [cite(4, A004, AMAZON)], A004))
    assert result.answer.endswith("[4]") and result.correct is False


def test_eval_checker__judges_generated_sentences_as_verification_does(engine: Engine) -> None:
    """The eval measures the checker production verifies with: an invented name opening a sentence
    (« Leake ») is unsupported for both, and its correct spelling supported by both."""
    passages, evidence, _ = engine.retrieve("Pourquoi Leike est-il parti ?")
    n = next(i for i, p in enumerate(passages, 1) if "produits brillants" in p.text)
    cited = passages[n - 1]
    checker = build_checker(engine)
    for name, supported in (("Leake", False), ("Leike", True)):
        claim = f"{name} a critiqué OpenAI pour avoir donné la priorité aux « produits brillants »."
        draft = verify(f"{claim} [{n}]", passages, evidence, refusals=REFUSALS)
        assert (not draft.refused) is supported
        assert checker.check(claim, [cited.text], context=[cited.title]).supported is supported


def test_score_question__a_correct_cited_verbatim_answer_passes(score: Score) -> None:
    result = score(INVESTED, answer([(AMAZON, (1,))], [cite(1, A004, AMAZON)], A004, A000))
    assert result.passed, result.failures
    assert (result.correct, result.citations_valid) == (True, True)
    assert (result.hit, result.reciprocal_rank) == (1.0, 1.0)
    assert (result.citation_precision, result.citation_recall) == (1.0, 1.0)
    assert [s.supported for s in result.sentences] == [True]


def test_score_question__a_quote_not_at_its_span_is_an_invalid_citation(score: Score) -> None:
    wrong = cite(1, A004, AMAZON, shift=7)
    result = score(INVESTED, answer([(AMAZON, (1,))], [wrong], A004))
    assert result.citations_valid is False
    assert any("the quote is not the text of" in f for f in result.failures)


def test_score_question__a_marker_pointing_nowhere_is_invalid(score: Score) -> None:
    result = score(INVESTED, answer([(AMAZON, (1, 3))], [cite(1, A004, AMAZON)], A004))
    assert result.citations_valid is False
    assert "marker [3] points to no citation" in result.failures


def test_score_question__a_citation_of_a_file_outside_the_corpus_is_invalid(score: Score) -> None:
    ghost = Citation(1, "999_ghost.txt", "", AMAZON, 0, len(AMAZON), 0.9)
    result = score(INVESTED, answer([(AMAZON, (1,))], [ghost], A004))
    assert result.citations_valid is False and result.citation_precision == 0.0


def test_score_question__an_unsupported_number_fails_grounding_and_correctness(score: Score) -> None:
    claim = "Amazon a investi 6 milliards de dollars dans Anthropic."
    result = score(INVESTED, answer([(claim, (1,))], [cite(1, A004, AMAZON)], A004))
    assert result.citations_valid is True and result.correct is False
    (sentence,) = result.sentences
    assert not sentence.supported and any("6" in r for r in sentence.reasons)
    assert any(f.startswith("sentence 1 not supported") for f in result.failures)


def test_score_question__a_sentence_citing_the_wrong_passage_is_unsupported(score: Score) -> None:
    claim = "Amazon a investi 4 milliards de dollars dans Anthropic."
    result = score(INVESTED, answer([(claim, (1,))], [cite(1, A000, SCHULMAN)], A004))
    assert result.sentences[0].supported is False
    assert (result.citation_precision, result.citation_recall) == (0.0, 0.0)


def test_score_question__a_missed_refusal_fails(score: Score) -> None:
    result = score(ABSENT, answer([(SCHULMAN, (1,))], [cite(1, A000, SCHULMAN)], A000))
    assert not result.refusal_ok and not result.passed
    assert "answered a question the articles do not answer (expected a refusal)" in result.failures


def test_score_question__a_refusal_is_right_only_for_unanswerable_questions(score: Score) -> None:
    kept = score(ABSENT, refusal(A000))
    assert kept.passed and kept.refusal_ok and kept.citations_valid is None
    wrong = score(INVESTED, refusal(A004))
    assert (wrong.correct, wrong.citation_recall, wrong.refusal_ok) == (False, 0.0, False)
    assert "refused a question the articles answer" in wrong.failures


def test_answer_sentences__parsed_from_the_text_when_the_answerer_gives_none() -> None:
    bare = Answer("", "Première phrase [1]. Deuxième phrase [2][3]", False, [], [])
    assert [(s.text, s.citations) for s in answer_sentences(bare)] == [
        ("Première phrase [1].", (1,)),
        ("Deuxième phrase [2][3]", (2, 3)),
    ]


def test_summarize__each_rate_counts_the_questions_it_is_about(score: Score) -> None:
    good = answer([(AMAZON, (1,))], [cite(1, A004, AMAZON)], A004)
    results = [
        score(INVESTED, good, 10.0),
        score(INVESTED, refusal(A000), 20.0),
        score(ABSENT, refusal(A000), 30.0),
        score(ABSENT, good, 40.0),
    ]
    summary = summarize(results)
    assert summary["answer_correct_rate"] == 0.5 and summary["false_refusal_rate"] == 0.5
    assert summary["refusal_rate_unanswerable"] == 0.5
    assert summary["hit_at_k"] == 0.5 and summary["mrr"] == 0.5
    assert summary["grounded_sentence_rate"] == 1.0 and summary["citation_validity"] == 1.0
    assert summary["latency_ms_p50"] == 25.0
    checker_metrics = {"grounding_checker_accuracy", *(m for m in METRICS if m.startswith("llm_sentence_"))}
    assert set(summary) | checker_metrics == set(METRICS)  # the checker's own: measured by the runner


def test_breaches__minimums_and_maximums_and_unmeasured_metrics() -> None:
    limits = Thresholds(minimum={"mrr": 0.8, "hit_at_k": 0.9}, maximum={"false_refusal_rate": 0.1})
    found = breaches({"mrr": 0.7, "hit_at_k": None, "false_refusal_rate": 0.2}, limits)
    assert [(b.metric, b.bound) for b in found] == [("mrr", "minimum"), ("false_refusal_rate", "maximum")]
    assert str(found[0]) == "mrr = 0.700, required >= 0.8"


def test_load_thresholds__the_repository_file_is_valid_and_typos_are_errors(tmp_path: Path) -> None:
    kept = load_thresholds()
    assert kept.minimum and "false_refusal_rate" in kept.maximum and set(kept.maximum) <= set(METRICS)
    typo = tmp_path / "t.json"
    typo.write_text(json.dumps({"minimum": {"answer_corect_rate": 0.5}}))
    with pytest.raises(DatasetError, match="unknown metric 'answer_corect_rate'"):
        load_thresholds(typo)


@pytest.mark.parametrize(
    ("second_line", "message"),
    [
        ('{"id": "b", "question": "x ?"', "line 2: invalid JSON"),
        (
            '{"id": "b", "question": "x ?", "sources": [], "must_include": []}',
            "line 2: missing field 'answerable'",
        ),
        (
            '{"id": "a", "question": "x ?", "answerable": false, "sources": [], "must_include": []}',
            "used twice",
        ),
        (
            '{"id": "b", "question": "x ?", "answerable": false, "sources": ["f.txt"], "must_include": []}',
            "line 2: an unanswerable question",
        ),
        (
            '{"id": "b", "question": "x ?", "answerable": true, "sources": ["f.txt"], "must_include": [[]]}',
            "line 2: field 'must_include'",
        ),
    ],
)
def test_load_questions__a_malformed_line_is_named(tmp_path: Path, second_line: str, message: str) -> None:
    first = {"id": "a", "question": "Q ?", "answerable": True, "sources": [A004], "must_include": [["x"]]}
    path = tmp_path / "set.jsonl"
    path.write_text(json.dumps(first) + "\n" + second_line + "\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=message):
        load_questions(path)


def test_load_questions__the_shipped_set_names_only_corpus_files() -> None:
    questions = load_questions()
    assert len(questions) >= 50
    assert {f for q in questions for f in q.sources} <= set(TEXTS)
    assert any(not q.answerable for q in questions)


def test_evaluate__met_thresholds_exit_0_with_every_report_file(
    engine: Engine,
    engine_corpus: Corpus,
    tmp_path: Path,
) -> None:
    lenient = tmp_path / "lenient.json"
    lenient.write_text(json.dumps({"minimum": {"citation_validity": 0.0}}), encoding="utf-8")
    inputs = prepare(thresholds=lenient)
    small = replace(inputs, questions=[q for q in inputs.questions if q.id in ("q03", "q72")])
    outcome = evaluate(engine, small, tmp_path / "out", corpus=engine_corpus)
    assert outcome.exit_code == 0, outcome.text
    assert [r.id for r in outcome.run.results] == ["q03", "q72"]
    assert {p.name for p in (tmp_path / "out").iterdir()} == {
        "report.json",
        "report.md",
        "metrics.png",
        "answerability.png",
    }
