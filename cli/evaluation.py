"""`rag eval`: the question set asked of one answerer, or of several side by side, with its quality
report and thresholds."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any, get_args

from rag.errors import RagError
from rag.settings import Settings


def cmd_eval(args: argparse.Namespace, read_settings: Callable[[], Settings]) -> int:
    from eval import prepare
    from rag.compose import build_corpus
    from rag.llm_server import local_llm

    inputs = prepare(args.dataset, args.thresholds)  # usage errors before the model loads
    inputs = replace(inputs, questions=chosen(inputs.questions, args.split, args.ids, args.limit))
    settings = read_settings()
    judge = None
    if args.judge:
        from rag.answering.llms import build_judge_llm

        judge = build_judge_llm(settings)  # no endpoint configured: a usage error, also before
    names = args.answerer or [settings.answerer]
    corpus = build_corpus(settings)
    with ExitStack() as held:
        # RAG_ANSWERER=local: its llama.cpp server runs, supervised, for the whole eval.
        local = settings
        if "local" in names:
            local = held.enter_context(local_llm(settings.model_copy(update={"answerer": "local"})))
        return _eval_answerers(settings, local, names, inputs, args, corpus, judge)


def _eval_answerers(
    settings: Settings,
    local: Settings,
    names: list[str],
    inputs: Any,
    args: argparse.Namespace,
    corpus: Any,
    judge: Any,
) -> int:
    from eval import evaluate
    from rag.compose import build_engine

    def settings_of(name: str) -> Settings:
        return local if name == "local" else settings.model_copy(update={"answerer": name})

    if len(names) == 1:
        engine = build_engine(settings_of(names[0]))
        outcome = evaluate(engine, inputs, args.output, corpus=corpus, judge=judge)
        print(outcome.text)
        return outcome.exit_code
    # Several answerers: one report each in OUTPUT/NAME, and a side-by-side comparison.
    from eval.compare import write_comparison
    from eval.runner import EvalRun

    base = build_engine(settings.model_copy(update={"answerer": "extractive"}))
    runs: dict[str, EvalRun] = {}
    codes: list[int] = []
    for name in names:
        engine = build_engine(settings_of(name), embedder=base.embedder, store=base.store)
        outcome = evaluate(engine, inputs, args.output / name, corpus=corpus, judge=judge)
        print(f"== {name}\n{outcome.text}")
        runs[name], codes = outcome.run, [*codes, outcome.exit_code]
    print(f"comparison: {write_comparison(runs, args.output)['markdown']}")
    return max(codes)


def chosen(questions: list[Any], split: str | None, ids: str | None, limit: int | None) -> list[Any]:
    """The questions an eval asks: of one part, of some ids, and at most `limit` of them spread
    evenly over the set (every kind of question keeps its share), in the set's order."""
    if split:
        questions = [q for q in questions if q.split == split]
    if ids:
        wanted = {i.strip() for i in ids.split(",") if i.strip()}
        unknown = wanted - {q.id for q in questions}
        if unknown:
            raise RagError(f"No question with the id(s) {', '.join(sorted(unknown))} in this selection.")
        questions = [q for q in questions if q.id in wanted]
    if limit is not None and 0 < limit < len(questions):
        questions = [questions[round(i * len(questions) / limit)] for i in range(limit)]
    if not questions:
        raise RagError("No question left to ask: check --split, --ids and --limit.")
    return questions


def _answerers(value: str) -> list[str]:
    known = get_args(Settings.model_fields["answerer"].annotation)
    names = [n.strip() for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if not names or unknown:
        wrong = ", ".join(unknown) or repr(value)
        raise argparse.ArgumentTypeError(f"unknown answerer {wrong}; choose from {', '.join(known)}")
    return list(dict.fromkeys(names))


def add_eval_parser(sub: Any, settings: Callable[[], Settings]) -> None:
    """`rag eval` on the subcommands `sub`, reading settings with `settings()`."""
    evaluate = sub.add_parser("eval", help="run the question set and report quality metrics")
    evaluate.add_argument("--dataset", type=Path, default=None, help="JSON Lines question set")
    evaluate.add_argument("--output", type=Path, default=Path("eval/out"), help="report directory")
    evaluate.add_argument(
        "--answerer",
        type=_answerers,
        default=None,
        help="answerer to evaluate, or several separated by commas to compare them side by side "
        "(extractive, openai, llamacpp, local; default: RAG_ANSWERER)",
    )
    evaluate.add_argument("--thresholds", type=Path, default=None, help="thresholds JSON file")
    evaluate.add_argument("--split", choices=("dev", "test"), default=None, help="ask only this part")
    evaluate.add_argument("--ids", default=None, help="ask only these question ids, comma-separated")
    evaluate.add_argument(
        "--limit", type=int, default=None, help="ask at most N questions, spread evenly over the selection"
    )
    evaluate.add_argument(
        "--judge",
        action="store_true",
        help="also have the LLM of RAG_LLM_BASE_URL / RAG_LLM_MODEL judge faithfulness and correctness "
        "(reported, not gated)",
    )
    evaluate.set_defaults(func=lambda args: cmd_eval(args, settings))
