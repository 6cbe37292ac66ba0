"""Generative answerer: an LLM (any OpenAI-compatible endpoint, or a local GGUF) writes the answer
from numbered sources; every sentence is verified before anyone sees it. When the LLM fails or
times out, the extractive answerer answers instead, flagged as degraded."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

from llama_index.core.llms import LLM, ChatMessage

from rag.answering.base import Draft, Evidence
from rag.answering.breaker import CircuitBreaker, CircuitOpen
from rag.answering.extractive import ExtractiveAnswerer
from rag.answering.prompts import REFUSALS, answer_messages, condense_messages
from rag.answering.verify import verify
from rag.conversation import Message, condense
from rag.types import Passage

log = logging.getLogger(__name__)
CIRCUIT_OPEN = "the LLM is unavailable (circuit open)"


def _chat(pairs: list[tuple[str, str]]) -> list[ChatMessage]:
    return [ChatMessage(role=role, content=content) for role, content in pairs]


class GenerativeAnswerer:
    """Prompts an LLM with the retrieved passages and verifies what it writes."""

    def __init__(
        self, llm: LLM, *, name: str, fallback: ExtractiveAnswerer, breaker: CircuitBreaker,
        drop_unsupported: bool = False,
    ) -> None:
        self.llm = llm
        self.name = name
        self.fallback = fallback
        self.breaker = breaker
        self.drop_unsupported = drop_unsupported

    def status(self) -> dict[str, Any]:
        state, error = self.breaker.current_state, self.breaker.last_failure.error
        return {"answerer": self.name, "state": "up" if state == "closed" else state,
                "last_error": _reason(error) if error else None}

    def answer(self, question: str, passages: list[Passage], evidence: Evidence) -> Draft:
        try:
            with self.breaker.calling():
                response = self.llm.chat(_chat(answer_messages(question, passages)))
        except CircuitOpen:
            return self._degraded(question, passages, evidence, CIRCUIT_OPEN)
        except Exception as exc:  # noqa: BLE001 - any client failure degrades to extractive
            return self._failed(question, passages, evidence, exc)
        return self._verified(str(response.message.content or ""), passages, evidence)

    def stream(self, question: str, passages: list[Passage], evidence: Evidence) -> Iterator[str | Draft]:
        text = ""
        try:
            with self.breaker.calling():
                for chunk in self.llm.stream_chat(_chat(answer_messages(question, passages))):
                    if chunk.delta:
                        text += chunk.delta
                        yield chunk.delta
        except CircuitOpen:
            yield self._degraded(question, passages, evidence, CIRCUIT_OPEN)
            return
        except Exception as exc:  # noqa: BLE001 - a failure mid-stream degrades too
            yield self._failed(question, passages, evidence, exc)
            return
        yield self._verified(text, passages, evidence)

    def condense(self, messages: Sequence[Message]) -> str:
        """A standalone question written by the LLM; the deterministic rules if it fails."""
        if len([m for m in messages if m.role == "user"]) < 2:
            return condense(messages)
        try:
            with self.breaker.calling():
                response = self.llm.chat(_chat(condense_messages(messages)))
        except Exception:  # noqa: BLE001 - the circuit open or the LLM failing: the rules instead
            return condense(messages)
        rewritten = str(response.message.content or "").strip().strip("«»\"").strip()
        return rewritten.splitlines()[0] if rewritten else condense(messages)

    def _verified(self, text: str, passages: list[Passage], evidence: Evidence) -> Draft:
        return verify(
            text, passages, evidence, refusals=REFUSALS, drop_unsupported=self.drop_unsupported
        )

    def _failed(self, question: str, passages: list[Passage], evidence: Evidence, exc: Exception) -> Draft:
        reason = _reason(exc)
        log.warning("LLM call failed, answering extractively: %s", reason)
        return self._degraded(question, passages, evidence, reason)

    def _degraded(self, question: str, passages: list[Passage], evidence: Evidence, reason: str) -> Draft:
        draft = self.fallback.answer(question, passages, evidence)
        draft.degraded_reason = reason
        return draft


def _reason(exc: BaseException) -> str:
    """A reason fit for a client: the error's kind, never a URL, a key or a path."""
    kind = type(exc).__name__
    if "Timeout" in kind:
        return "the LLM did not answer in time"
    if "Connection" in kind:
        return "the LLM endpoint cannot be reached"
    return f"the LLM endpoint returned an error ({kind})"
