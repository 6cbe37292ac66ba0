"""Evaluation harness: runs the real engine on a question set and reports retrieval, citation,
correctness, refusal, grounding and latency metrics against thresholds kept in the repository."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from llama_index.core.llms import LLM

from eval.dataset import DEFAULT_DATASET, DEFAULT_PAIRS, GroundingPair, Question, load_pairs, load_questions
from eval.gate import DEFAULT_THRESHOLDS, Thresholds, breaches, load_thresholds
from eval.report import terminal_summary, write_report
from eval.runner import EvalRun, run_eval
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
    dataset: Path | None = None, thresholds: Path | None = None, pairs: Path | None = None,
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
    engine: Engine, inputs: EvalInputs, output: Path = DEFAULT_OUTPUT, *, judge: LLM | None = None,
) -> Outcome:
    """Run the eval, write the report into `output` and compare the metrics with the thresholds.
    With a `judge` LLM the report also holds its verdicts, which the thresholds never read."""
    run = run_eval(engine, inputs.questions, inputs.pairs)
    if judge is not None:
        from eval.judge import judge_run

        run.judge = judge_run(run, inputs.questions, judge)
    failed = breaches(run.summary, inputs.thresholds)
    paths = write_report(run, output, inputs.thresholds, failed, inputs.dataset.name)
    text = terminal_summary(run, failed, paths)
    return Outcome(run=run, exit_code=1 if failed else 0, text=text, paths=paths)


__all__ = ["EvalInputs", "Outcome", "evaluate", "prepare"]
