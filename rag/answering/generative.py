"""Generative answerer: an LLM (any OpenAI-compatible endpoint, or a local GGUF) writes the answer
from numbered evidence; every sentence is verified, then arbitrated against the extractive answer
(`rag.answering.arbiter`). When the LLM fails or times out, the extractive answer is given instead,
flagged as degraded."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator, Sequence
from typing import Any, Literal

from llama_index.core.llms import LLM, ChatMessage

from rag.answering.arbiter import arbitrate, declined
from rag.answering.base import Draft, Evidence
from rag.answering.breaker import CircuitBreaker, CircuitOpen
from rag.answering.evidence import evidence_sources
from rag.answering.extractive import ExtractiveAnswerer
from rag.answering.followups import checked_condense
from rag.answering.prompts import REFUSALS, answer_messages, condense_messages
from rag.answering.verify import is_refusal, split_claims, verify
from rag.conversation import Message, condense
from rag.telemetry.metrics import LLM_SECONDS, LLM_TTFT, UNSUPPORTED
from rag.telemetry.tracing import detached_span, span
from rag.types import Passage

log = logging.getLogger(__name__)
CIRCUIT_OPEN = "the LLM is unavailable (circuit open)"
_LISTED = re.compile(r"\[(\d+(?:\s*,\s*\d+)+)\]")  # « [5, 6] »: a small model's way of writing [5][6]


def _chat(pairs: list[tuple[str, str]]) -> list[ChatMessage]:
    return [ChatMessage(role=role, content=content) for role, content in pairs]


class GenerativeAnswerer:
    """Prompts an LLM with the best evidence sentences (or whole passages), verifies what it writes
    and keeps it, or the quoted evidence, per the arbitration rules."""

    def __init__(
        self,
        llm: LLM,
        *,
        name: str,
        fallback: ExtractiveAnswerer,
        breaker: CircuitBreaker,
        drop_unsupported: bool = False,
        prompt: Literal["evidence", "passages"] = "evidence",
        evidence_sentences: int = 8,
        override_evidence: float = 0.5,
        answer_floor: float = 0.05,
    ) -> None:
        self.llm = llm
        self.name = name
        self.fallback = fallback
        self.breaker = breaker
        self.drop_unsupported = drop_unsupported
        self.prompt = prompt
        self.evidence_sentences = evidence_sentences
        self.override_evidence = override_evidence
        self.answer_floor = answer_floor

    def status(self) -> dict[str, Any]:
        state, error = self.breaker.current_state, self.breaker.last_failure.error
        return {
            "answerer": self.name,
            "state": "up" if state == "closed" else state,
            "last_error": _reason(error) if error else None,
        }

    def sources(self, question: str, passages: list[Passage], evidence: Evidence) -> list[Passage]:
        """What the LLM reads, numbered from 1: evidence sentences, or the passages themselves."""
        if self.prompt == "passages":
            return passages
        return evidence_sources(
            question, passages, evidence, self.fallback, sentences=self.evidence_sentences
        )

    def answer(self, question: str, passages: list[Passage], evidence: Evidence) -> Draft:
        extractive = self.fallback.answer(question, passages, evidence)
        sources = self.sources(question, passages, evidence)
        if not sources:
            return extractive  # no sentence to read: nothing an LLM could add
        try:
            with self.breaker.calling(), span("llm", **self._traced()), LLM_SECONDS.time():
                response = self.llm.chat(_chat(answer_messages(question, sources)))
        except CircuitOpen:
            return _degraded(extractive, CIRCUIT_OPEN)
        except Exception as exc:  # noqa: BLE001 - any client failure degrades to extractive
            return _failed(extractive, exc)
        text = str(response.message.content or "")
        return self._arbitrated(question, passages, text, sources, evidence, extractive)

    def stream(self, question: str, passages: list[Passage], evidence: Evidence) -> Iterator[str | Draft]:
        extractive = self.fallback.answer(question, passages, evidence)
        sources = self.sources(question, passages, evidence)
        if not sources:
            yield extractive
            return
        text, started = "", time.perf_counter()
        try:
            with self.breaker.calling(), detached_span("llm", attributes=self._traced()) as call:
                for chunk in self.llm.stream_chat(_chat(answer_messages(question, sources))):
                    if chunk.delta:
                        if not text:
                            LLM_TTFT.observe(time.perf_counter() - started)
                            call.set_attribute("rag.llm.ttft_ms", (time.perf_counter() - started) * 1000)
                        text += chunk.delta
                        yield chunk.delta
            LLM_SECONDS.observe(time.perf_counter() - started)
        except CircuitOpen:
            yield _degraded(extractive, CIRCUIT_OPEN)
            return
        except Exception as exc:  # noqa: BLE001 - a failure mid-stream degrades too
            yield _failed(extractive, exc)
            return
        yield self._arbitrated(question, passages, text, sources, evidence, extractive)

    def condense(self, messages: Sequence[Message]) -> str:
        """A standalone question written by the LLM and checked (`rag.answering.followups`); the
        deterministic rules when it fails or its rewrite does not pass."""
        if len([m for m in messages if m.role == "user"]) < 2:
            return condense(messages)
        try:
            with self.breaker.calling():
                response = self.llm.chat(_chat(condense_messages(messages)))
        except Exception:  # noqa: BLE001 - the circuit open or the LLM failing: the rules instead
            return condense(messages)
        lines = str(response.message.content or "").strip().splitlines()
        rewritten = lines[0].strip().strip('«»"').strip() if lines else ""
        question, reason = checked_condense(rewritten, messages)
        if reason is not None:
            log.info(
                "LLM follow-up rewrite rejected (%s): %r; the rules give %r", reason, rewritten, question
            )
        return question

    def _traced(self) -> dict[str, str]:
        return {"rag.llm.model": self.llm.metadata.model_name, "rag.answerer": self.name}

    def verified(
        self,
        question: str,
        passages: list[Passage],
        text: str,
        sources: list[Passage],
        extractive: Draft,
        evidence: Evidence,
    ) -> tuple[Draft, float | None]:
        """The LLM's answer verified sentence by sentence (unsupported ones kept, marked), and, when
        the LLM and the extractive answer disagree on answering, the answerability asked again with
        the LLM's verdict as one of its signals."""
        generated = verify(
            leading_refusal_only(text), sources, evidence, refusals=REFUSALS, question=question
        )
        refused = declined(generated)
        with_llm = (
            self.fallback.assess(question, passages, evidence, llm_refused=refused).probability
            if refused != extractive.refused
            else None
        )
        return generated, with_llm

    def _arbitrated(
        self,
        question: str,
        passages: list[Passage],
        text: str,
        sources: list[Passage],
        evidence: Evidence,
        extractive: Draft,
    ) -> Draft:
        with span("verify"):
            generated, with_llm = self.verified(question, passages, text, sources, extractive, evidence)
            UNSUPPORTED.inc(generated.extra.get("unsupported", 0))
            return arbitrate(
                generated,
                extractive,
                strong=self.override_evidence,
                floor=self.answer_floor,
                drop_unsupported=self.drop_unsupported,
                with_llm=with_llm,
            )


def leading_refusal_only(text: str) -> str:
    """An answer is a refusal when it opens with one; a refusal further on (« … Je ne trouve pas la
    réponse pour le reste. ») only drops that sentence, not the answer before it. Markers written
    « [5, 6] » become « [5][6] »."""
    text = _LISTED.sub(lambda m: "".join(f"[{n.strip()}]" for n in m.group(1).split(",")), text)
    claims = split_claims(text)
    if not claims or is_refusal(claims[0].text, REFUSALS) or not is_refusal(text, REFUSALS):
        return text
    kept = [c for c in claims if not is_refusal(c.text, REFUSALS)]
    return " ".join(c.text + "".join(f" [{n}]" for n in c.markers) for c in kept)


def _failed(extractive: Draft, exc: Exception) -> Draft:
    reason = _reason(exc)
    log.warning("LLM call failed, answering extractively: %s", reason)
    return _degraded(extractive, reason)


def _degraded(extractive: Draft, reason: str) -> Draft:
    extractive.degraded_reason = reason
    return extractive


def _reason(exc: BaseException) -> str:
    """A reason fit for a client: the error's kind, never a URL, a key or a path."""
    kind = type(exc).__name__
    if "Timeout" in kind:
        return "the LLM did not answer in time"
    if "Connection" in kind:
        return "the LLM endpoint cannot be reached"
    return f"the LLM endpoint returned an error ({kind})"
