"""Evaluation harness: runs the real engine on a question set and reports retrieval, citation,
correctness, refusal, grounding and latency metrics per part (dev tuned on, test held out), the test
part against thresholds kept in the repository."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from llama_index.core.llms import LLM

from eval.answerability import answerability_report, scorer
from eval.dataset import DEFAULT_DATASET, DEFAULT_PAIRS, GroundingPair, Question, load_pairs, load_questions
from eval.gate import DEFAULT_THRESHOLDS, Thresholds, breaches, load_thresholds
from eval.parts import gated_part, mark_parts, parts
from eval.report import terminal_summary, write_report
from eval.runner import EvalRun, run_eval
from rag.corpus import Corpus
from rag.engine import Engine

DEFAULT_OUTPUT = Path("eval/out")


@dataclass(frozen=True)
class EvalInputs:
    """Everything a run reads besides the engine, checked before the engine is built."""

    dataset: Path
    questions: list[Question]
    pairs: list[GroundingPair]
    thresholds: Thresholds


@dataclass(frozen=True)
class Outcome:
    """What the `rag eval` command prints and returns: 0 passed, 1 below a threshold."""

    run: EvalRun
    exit_code: int
    text: str
    paths: dict[str, Path]


def prepare(
    dataset: Path | None = None,
    thresholds: Path | None = None,
    pairs: Path | None = None,
) -> EvalInputs:
    """Load and validate the question set, the labelled grounding pairs and the thresholds."""
    dataset = dataset or DEFAULT_DATASET
    return EvalInputs(
        dataset=dataset,
        questions=load_questions(dataset),
        pairs=load_pairs(pairs or DEFAULT_PAIRS),
        thresholds=load_thresholds(thresholds or DEFAULT_THRESHOLDS),
    )


def evaluate(
    engine: Engine,
    inputs: EvalInputs,
    output: Path = DEFAULT_OUTPUT,
    *,
    corpus: Corpus,
    judge: LLM | None = None,
) -> Outcome:
    """Run the eval (answers checked against the articles of `corpus`), write the report into
    `output` and compare the metrics with the thresholds. With a `judge` LLM the report also holds
    its verdicts, which the thresholds never read. When the questions have parts, every figure is
    given per part and the thresholds read the test part only."""
    run = run_eval(engine, inputs.questions, inputs.pairs, corpus=corpus)
    extractive = scorer(engine)
    if extractive is not None:  # the curve of its refusal decision, dev and test
        run.answerability = answerability_report(engine, inputs.questions, extractive.refusal_threshold)
    if judge is not None:
        from eval.judge import judge_run

        run.judge = judge_run(run, inputs.questions, judge)
    mark_parts(run, inputs.questions)
    failed = breaches(gated_part(parts(run)).run.summary, inputs.thresholds)
    paths = write_report(run, output, inputs.thresholds, failed, inputs.dataset.name)
    text = terminal_summary(run, failed, paths)
    return Outcome(run=run, exit_code=1 if failed else 0, text=text, paths=paths)


__all__ = ["EvalInputs", "Outcome", "evaluate", "prepare"]
