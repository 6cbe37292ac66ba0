"""An optional LLM judge for `rag eval`, never part of the gate: faithfulness of each answer to the
quotes it cites and correctness against the dataset's reference, through llama-index evaluators, with
replies parsed so that French (« Oui », « Non », « 4,5 ») and English ones both count."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Sequence
from typing import Any

from llama_index.core.async_utils import asyncio_run
from llama_index.core.evaluation import BaseEvaluator, CorrectnessEvaluator, EvaluationResult
from llama_index.core.llms import LLM
from llama_index.core.prompts import BasePromptTemplate, PromptTemplate
from llama_index.core.prompts.mixin import PromptDictType
from tqdm import tqdm

from eval.dataset import Question
from eval.metrics import QuestionResult
from eval.runner import EvalRun
from rag.markers import strip_markers
from rag.text import fold
from rag.types import Answer

log = logging.getLogger(__name__)

YES = frozenset({"oui", "yes", "vrai", "true", "correct"})
NO = frozenset({"non", "no", "faux", "false", "incorrect"})
_WORD = re.compile(r"[^\W_]+")  # letters and digits: "**OUI**" and "_Non_" are words too
# The first number of the reply, and an optional "/N" or "sur N" after it.
_SCORE = re.compile(
    r"(?<![\w.,])(\d+(?:[.,]\d+)?)(?:\s*(?:/|sur\b|out of\b)\s*(\d+(?:[.,]\d+)?))?",
    re.IGNORECASE,
)

FAITHFULNESS_PROMPT = (
    "Tu vérifies si une réponse est fidèle à des passages d'articles de presse.\n\n"
    "Passages :\n{context_str}\n\n"
    "Réponse à vérifier :\n{response}\n\n"
    "Chaque information de la réponse est-elle étayée par les passages ? "
    "Réponds par OUI ou NON sur la première ligne, puis une phrase d'explication.\n"
)


def parse_verdict(text: str) -> bool | None:
    """The first yes/no word of a reply (accents and case ignored, whole words only): True, False,
    or None when the reply holds neither. llama-index's own test, `"yes" in reply.lower()`, fails
    every French reply and passes "eyes" or "yesterday"."""
    for word in _WORD.findall(fold(text)):
        if word in YES:
            return True
        if word in NO:
            return False
    return None


def parse_score(text: str) -> tuple[float | None, str | None]:
    """A 1-5 score for `CorrectnessEvaluator(parser_function=...)`: the reply's first number ("4",
    "4.5", "4,5", "4/5", "Note : 4 sur 5"), and the rest as reasoning. (None, text) when the first
    number is out of 1-5, is marked out of something other than 5, or there is none."""
    match = _SCORE.search(text)
    if match is None:
        return None, text
    score = float(match.group(1).replace(",", "."))
    scale = match.group(2)
    if not 1.0 <= score <= 5.0 or (scale is not None and float(scale.replace(",", ".")) != 5.0):
        return None, text
    rest = text[match.end() :].lstrip(" \t\r\n.:-–*)").rstrip()
    return score, rest or text.strip()


class FaithfulnessJudge(BaseEvaluator):
    """Is every claim of the answer supported by the passages? Asked in French, answered OUI/NON,
    parsed by `parse_verdict`; an unparsed reply is an invalid result, neither a pass nor a fail."""

    def __init__(self, llm: LLM, template: str | BasePromptTemplate = FAITHFULNESS_PROMPT) -> None:
        self._llm = llm
        self._template = PromptTemplate(template) if isinstance(template, str) else template

    def _get_prompts(self) -> PromptDictType:
        return {"eval_template": self._template}

    def _update_prompts(self, prompts: PromptDictType) -> None:
        if "eval_template" in prompts:
            self._template = prompts["eval_template"]

    async def aevaluate(
        self,
        query: str | None = None,
        response: str | None = None,
        contexts: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> EvaluationResult:
        if response is None or not contexts:
            raise ValueError("the faithfulness judge needs a response and at least one context")
        passages = "\n\n".join(f"Passage {i} : {text}" for i, text in enumerate(contexts, start=1))
        prompt = self._template.format(context_str=passages, response=response)
        raw = (await self._llm.acomplete(prompt)).text
        verdict = parse_verdict(raw)
        return EvaluationResult(
            query=query,
            contexts=contexts,
            response=response,
            passing=verdict,
            score=None if verdict is None else float(verdict),
            feedback=raw,
            invalid_result=verdict is None,
            invalid_reason="the reply holds no OUI/NON (yes/no)" if verdict is None else None,
        )


def _error(exc: Exception) -> str:
    return f"judge error: {type(exc).__name__}: {exc}"


async def _faithfulness(judge: FaithfulnessJudge, answer: Answer) -> tuple[bool | None, str]:
    quotes = [c.quote for c in answer.citations if c.quote.strip()]
    if not quotes:
        return None, "not judged: the answer cites no passage"
    try:
        result = await judge.aevaluate(response=strip_markers(answer.answer), contexts=quotes)
    except Exception as exc:  # any failure of the judge LLM is a missing verdict, recorded
        log.warning("faithfulness judge failed: %s", exc)
        return None, _error(exc)
    return result.passing, result.feedback or ""


async def _correctness(
    judge: CorrectnessEvaluator,
    question: Question,
    answer: Answer,
) -> tuple[float | None, str | None]:
    if not question.reference.strip():
        return None, None
    try:
        result = await judge.aevaluate(
            query=question.question,
            response=strip_markers(answer.answer),
            reference=question.reference,
        )
    except Exception as exc:  # any failure of the judge LLM is a missing score, recorded
        log.warning("correctness judge failed: %s", exc)
        return None, _error(exc)
    return result.score, result.feedback


def _judged(result: QuestionResult) -> bool:
    return result.answerable and not result.refused


async def _judge_all(run: EvalRun, questions: Sequence[Question], llm: LLM) -> list[dict[str, Any]]:
    if len(run.answers) != len(run.results):
        raise ValueError("the run keeps no answers to judge (EvalRun.answers)")
    by_id = {q.id: q for q in questions}
    faithfulness = FaithfulnessJudge(llm)
    correctness = CorrectnessEvaluator(llm=llm, parser_function=parse_score)
    pairs = [(r, a) for r, a in zip(run.results, run.answers, strict=True) if _judged(r)]
    rows = []
    for result, answer in tqdm(pairs, desc="judge", disable=not sys.stderr.isatty()):
        faithful, feedback = await _faithfulness(faithfulness, answer)
        score, reasoning = await _correctness(correctness, by_id[result.id], answer)
        rows.append(
            {
                "id": result.id,
                "question": result.question,
                "faithful": faithful,
                "feedback": feedback,
                "correctness": score,
                "correctness_feedback": reasoning,
            }
        )
    return rows


def summarize_judge(rows: Sequence[dict[str, Any]], skipped: int) -> dict[str, Any]:
    """Counts and rates over the judged questions; an unparsed verdict counts neither way."""
    verdicts = [row["faithful"] for row in rows]
    faithful, unfaithful = verdicts.count(True), verdicts.count(False)
    scored = [row["correctness"] for row in rows if row["correctness"] is not None]
    asked = [row for row in rows if row["correctness_feedback"] is not None]
    return {
        "judged": len(rows),
        "faithful": faithful,
        "unfaithful": unfaithful,
        "unparsed": len(rows) - faithful - unfaithful,
        "judge_faithful_rate": faithful / (faithful + unfaithful) if faithful + unfaithful else None,
        "judge_correctness_mean": sum(scored) / len(scored) if scored else None,
        "correctness_scored": len(scored),
        "correctness_unparsed": len(asked) - len(scored),
        "skipped": skipped,
    }


def judge_run(run: EvalRun, questions: Sequence[Question], llm: LLM) -> dict[str, Any]:
    """Judge every answerable question the engine did not refuse; unanswerable and refused ones are
    skipped (the gated refusal metrics cover them). An LLM error on a question is recorded as an
    unparsed verdict with its message, never raised."""
    rows = asyncio_run(_judge_all(run, questions, llm))  # one event loop for every call of the client
    return {
        "model": llm.metadata.model_name,
        "summary": summarize_judge(rows, skipped=len(run.results) - len(rows)),
        "questions": rows,
    }
