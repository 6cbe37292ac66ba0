"""Verification of generated answers against the real corpus passages (no LLM needed here: the
generated text is written by hand, the passages come from real retrieval)."""

from __future__ import annotations

from rag.answering.prompts import REFUSALS
from rag.answering.verify import find_support, split_claims, verify
from rag.corpus import read_text
from rag.engine import Engine
from rag.grounding import build_grounding_checker
from tests.conftest import CORPUS

QUESTION = "Pourquoi Leike est-il parti ?"


def _passages(engine: Engine):
    return engine.retrieve(QUESTION)[:2]


def test_split_claims__markers_after_the_period_stay_with_their_sentence() -> None:
    claims = split_claims("Il est parti. [1] Il a rejoint Anthropic [2][3]. Fin sans marqueur.")
    assert [(c.text, c.markers) for c in claims] == [
        ("Il est parti.", [1]),
        ("Il a rejoint Anthropic.", [2, 3]),
        ("Fin sans marqueur.", []),
    ]


def test_verify__keeps_supported_sentences_with_exact_quotes(engine: Engine) -> None:
    passages, evidence = _passages(engine)
    n = next(i for i, p in enumerate(passages, 1) if "produits brillants" in p.text)
    text = (
        "Leike a démissionné en critiquant OpenAI pour avoir donné la priorité aux « produits "
        f"brillants » plutôt qu'à la sécurité [{n}]."
    )
    draft = verify(text, passages, evidence, refusals=REFUSALS)
    assert not draft.refused and [s.verdict for s in draft.sentences] == ["supported"]
    quote = draft.sentences[0].quotes[0]
    assert read_text(CORPUS / quote.file)[quote.char_start : quote.char_end] == quote.quote


def test_verify__removes_markers_that_point_nowhere_and_marks_unsupported(engine: Engine) -> None:
    passages, evidence = _passages(engine)
    n = next(i for i, p in enumerate(passages, 1) if "produits brillants" in p.text)
    text = (
        "Leike a critiqué OpenAI pour avoir donné la priorité aux « produits brillants » [99]. "
        f"Amazon a investi 9 milliards de dollars dans OpenAI en 1998 [{n}]. "
        "Leike adore le football et la cuisine italienne [1]."
    )
    draft = verify(text, passages, evidence, refusals=REFUSALS)
    assert draft.extra["markers_removed"] == 1
    verdicts = [s.verdict for s in draft.sentences]
    assert verdicts[0] == "supported" and draft.sentences[0].quotes  # marker re-attached
    assert verdicts[1:] == ["unsupported", "unsupported"]
    assert all(not s.quotes for s in draft.sentences[1:])
    dropped = verify(text, passages, evidence, refusals=REFUSALS, drop_unsupported=True)
    assert len(dropped.sentences) == 1


def test_verify__refusal_text_gives_a_refusal(engine: Engine) -> None:
    passages, evidence = _passages(engine)
    assert verify(REFUSALS[0], passages, evidence, refusals=REFUSALS).refused
    assert verify("I cannot find the answer in the articles.", passages, evidence, refusals=REFUSALS).refused


def test_verify__a_misspelt_name_at_the_start_is_not_supported(engine: Engine) -> None:
    passages, evidence = _passages(engine)
    n = next(i for i, p in enumerate(passages, 1) if "produits brillants" in p.text)
    text = f"Leake a critiqué OpenAI pour avoir donné la priorité aux « produits brillants » [{n}]."
    draft = verify(text, passages, evidence, refusals=REFUSALS)
    assert draft.refused  # its only sentence is unsupported: nothing is left to show
    right = verify(text.replace("Leake", "Leike"), passages, evidence, refusals=REFUSALS)
    assert [s.verdict for s in right.sentences] == ["supported"]


def test_verify__a_sentence_must_answer_the_question_asked(engine: Engine) -> None:
    question = "Quelle entreprise Ilya Sutskever a-t-il fondée ?"
    passages, evidence, _ = engine.retrieve(question)
    n = next(i for i, p in enumerate(passages, 1) if "Anthropic" in p.text and "Sutskever" in p.text)
    assert not verify(f"Anthropic [{n}].", passages, evidence, refusals=REFUSALS).refused
    assert verify(f"Anthropic [{n}].", passages, evidence, refusals=REFUSALS, question=question).refused
    joined = "Quelle entreprise Jan Leike a-t-il rejointe ?"
    passages, evidence, _ = engine.retrieve(joined)
    draft = verify("Anthropic [1].", passages, evidence, refusals=REFUSALS, question=joined)
    assert [s.verdict for s in draft.sentences] == ["supported"]


def test_find_support__moves_a_marker_to_the_passage_that_answers(engine: Engine) -> None:
    question = "Combien Amazon a-t-il investi dans Anthropic ?"
    passages, evidence, _ = engine.retrieve(question)
    checker = build_grounding_checker(evidence.embed, evidence)
    right = next(i for i, p in enumerate(passages, 1) if "4 milliards" in p.text)
    wrong = next(i for i, p in enumerate(passages, 1) if "4 milliards" not in p.text)
    claim = "Amazon a investi 4 milliards de dollars dans Anthropic."
    assert find_support(checker, claim, [right], passages, question=question).passages == [right]
    moved = find_support(checker, claim, [wrong, 99], passages, question=question)
    assert (moved.passages, moved.invalid, moved.fix) == ([right], 1, "markers_moved")
    assert find_support(checker, "Anthropic a 200 employés.", [], passages, question=question).passages == []
