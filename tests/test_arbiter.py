"""Arbitration between the LLM's verified answer and the extractive evidence: which path answers,
and that the answer says which it was."""

from __future__ import annotations

from rag.answering.arbiter import (
    LLM,
    LLM_REFUSED,
    LLM_UNSUPPORTED,
    OVER_REFUSAL,
    OVER_UNSUPPORTED,
    WEAK_EVIDENCE,
    WITH_EVIDENCE,
    arbitrate,
)
from rag.answering.base import Draft
from rag.types import Citation, Sentence

QUOTE = Citation(0, "004.txt", "Leike", "Leike a rejoint Anthropic.", 10, 36, 0.8)


def extractive(evidence: float, *, refused: bool = False) -> Draft:
    sentences = [] if refused else [Sentence(QUOTE.quote, quotes=(QUOTE,))]
    return Draft(sentences=sentences, refused=refused, evidence=evidence)


def llm(*verdicts: str) -> Draft:
    sentences = [
        Sentence(f"Phrase {i}.", quotes=(QUOTE,) if v == "supported" else (), verdict=v)  # type: ignore[arg-type]
        for i, v in enumerate(verdicts)
    ]
    return Draft(sentences=sentences, refused=False)


LLM_DECLINED = Draft(sentences=[], refused=True)  # the LLM wrote the refusal sentence
LLM_ALL_UNSUPPORTED = Draft(sentences=[], refused=True, extra={"unsupported": 2.0})


def test_arbiter__llm_refusal_gives_way_to_strong_evidence() -> None:
    final = arbitrate(LLM_DECLINED, extractive(0.8), strong=0.6)
    assert final.path == OVER_REFUSAL and not final.refused and final.sentences[0].text == QUOTE.quote


def test_arbiter__llm_refusal_stands_when_the_evidence_is_weak() -> None:
    final = arbitrate(LLM_DECLINED, extractive(0.55), strong=0.6)
    assert final.path == LLM_REFUSED and final.refused and final.evidence == 0.55


def test_arbiter__unsupported_key_claim_falls_back_to_the_quoted_evidence() -> None:
    final = arbitrate(llm("unsupported", "supported"), extractive(0.53), strong=0.6)
    assert final.path == OVER_UNSUPPORTED and final.sentences[0].quotes == (QUOTE,)


def test_arbiter__an_answer_with_no_supported_sentence_is_not_a_refusal_but_a_failed_answer() -> None:
    assert arbitrate(LLM_ALL_UNSUPPORTED, extractive(0.53), strong=0.6).path == OVER_UNSUPPORTED
    refused = arbitrate(LLM_ALL_UNSUPPORTED, extractive(0.3, refused=True), strong=0.6)
    assert refused.path == LLM_UNSUPPORTED and refused.refused


def test_arbiter__supported_key_claim_keeps_the_llm_answer_even_without_extractive_answer() -> None:
    final = arbitrate(llm("supported", "unsupported"), extractive(0.4, refused=True), strong=0.6)
    assert final.path == LLM and [s.verdict for s in final.sentences] == ["supported", "unsupported"]
    dropped = arbitrate(
        llm("supported", "unsupported"), extractive(0.4, refused=True), strong=0.6, drop_unsupported=True
    )
    assert [s.verdict for s in dropped.sentences] == ["supported"]


def test_arbiter__when_both_answer_the_llm_leads_and_the_quoted_evidence_follows() -> None:
    final = arbitrate(llm("supported"), extractive(0.9), strong=0.6)
    assert final.path == WITH_EVIDENCE and [s.text for s in final.sentences] == ["Phrase 0.", QUOTE.quote]
    copied = Draft(sentences=[Sentence(QUOTE.quote, quotes=(QUOTE,))], refused=False)
    assert arbitrate(copied, extractive(0.9), strong=0.6).path == LLM  # nothing left to add


def test_arbiter__a_verified_answer_is_refused_when_the_evidence_says_the_articles_do_not_answer() -> None:
    weak = arbitrate(llm("supported"), extractive(0.02, refused=True), strong=0.6, floor=0.05)
    assert weak.path == WEAK_EVIDENCE and weak.refused
    # The answerability asked again with the LLM's answer as a signal decides, when there is one.
    lifted = arbitrate(llm("supported"), extractive(0.02, refused=True), strong=0.6, floor=0.05, with_llm=0.3)
    assert lifted.path == LLM and not lifted.refused


def test_arbiter__the_llm_refusal_signal_can_keep_strong_looking_evidence_from_overriding() -> None:
    kept = arbitrate(LLM_DECLINED, extractive(0.8), strong=0.6, with_llm=0.4)
    assert kept.path == LLM_REFUSED and kept.refused
