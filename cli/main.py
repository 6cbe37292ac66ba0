"""`rag` command: builds settings and the engine, calls it, and formats the result for a terminal."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any, get_args

from pydantic import ValidationError

from cli import documents
from cli.feedback import add_feedback_parser
from rag.errors import RagError
from rag.events import DeltaEvent, DoneEvent, Event
from rag.filters import DocumentFilter
from rag.settings import Settings
from rag.types import Answer

EXIT_USAGE = 2


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(f"RAG_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
        raise RagError(f"Invalid settings: {problems}") from None


def cmd_ingest(args: argparse.Namespace) -> int:
    from contextlib import ExitStack

    from ingest.lock import writer_lock
    from ingest.service import run_ingest

    settings = _settings()
    with ExitStack() as held:
        if not settings.chroma_host:  # never beside a `rag serve` on one embedded store
            held.enter_context(writer_lock(settings.index_dir, "ingest"))
        report = run_ingest(
            settings,
            paths=[Path(p) for p in args.paths],
            rebuild=args.rebuild,
            progress=args.progress,
            on_skip=lambda name, reason: print(f"warning: skipped {name}: {reason}", file=sys.stderr),
        )
    print(report.summary())
    return 0


def format_answer(answer: Answer) -> str:
    lines = [answer.answer]
    if answer.citations:
        lines += ["", "Sources :"]
        for c in answer.citations:
            lines.append(f"[{c.n}] {c.file} — {c.title}")
            known = [x for x in (c.source, c.date, c.author, f"p. {c.page}" if c.page else None) if x]
            if known:
                lines.append(f"    {' · '.join(known)}")
            if c.url:
                lines.append(f"    {c.url}")
            lines.append(f"    « {c.quote} » (caractères {c.char_start}–{c.char_end})")
    return "\n".join(lines)


def cmd_ask(args: argparse.Namespace) -> int:
    from rag.compose import build_engine
    from rag.llm_server import local_llm

    with local_llm(_settings()) as settings:  # RAG_ANSWERER=local: its server, for this question
        engine = build_engine(settings)
        restrict = DocumentFilter.of(date_from=args.since, date_to=args.until, sources=args.source)
        if args.json:
            answer = engine.ask(args.question, top_k=args.top_k, files=args.file or None, restrict=restrict)
            print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
            return 0
        events = engine.ask_stream(
            args.question, top_k=args.top_k, files=args.file or None, restrict=restrict
        )
        print_streamed(events)
    return 0


def print_streamed(events: Iterator[Event]) -> None:
    """The answer printed as it is written, then its sources; when verification changed it (a
    sentence marked, the quoted evidence given instead of the LLM's), the verified answer after it."""
    written = ""
    for event in events:
        if isinstance(event, DeltaEvent):
            written += event.text
            print(event.text, end="", flush=True)
        elif isinstance(event, DoneEvent):
            answer = event.answer
            if written.strip() != answer.answer:
                print(f"\n\nRéponse vérifiée ({answer.path}) :\n" if written else "", end="")
                print(answer.answer, end="")
            print(format_answer(answer)[len(answer.answer) :])


def cmd_serve(args: argparse.Namespace) -> int:
    from cli.serve import serve

    serve(_settings(), args.host, args.port)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from eval import prepare
    from rag.compose import build_corpus
    from rag.llm_server import local_llm

    inputs = prepare(args.dataset, args.thresholds)  # usage errors before the model loads
    inputs = replace(inputs, questions=chosen(inputs.questions, args.split, args.ids, args.limit))
    settings = _settings()
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


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="rag", description="Questions-réponses sourcées sur des articles.")
    root.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = root.add_subparsers(dest="command", required=True)

    ingest = sub.add_parser("ingest", help="sync the corpus directory into the index")
    ingest.add_argument("paths", nargs="*", help="files or folders inside the corpus (default: all)")
    ingest.add_argument("--rebuild", action="store_true", help="drop the index and rebuild it")
    ingest.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show a progress bar (default: when stderr is a terminal)",
    )
    ingest.set_defaults(func=cmd_ingest)

    ask = sub.add_parser("ask", help="answer a question with citations")
    ask.add_argument("question")
    ask.add_argument("--json", action="store_true", help="print one JSON object")
    ask.add_argument("--top-k", type=int, default=None, help="passages given to the answerer")
    ask.add_argument("--file", action="append", help="restrict to this corpus file (repeatable)")
    ask.add_argument(
        "--since", type=date.fromisoformat, help="only documents dated this day or later (YYYY-MM-DD)"
    )
    ask.add_argument("--until", type=date.fromisoformat, help="only documents dated this day or earlier")
    ask.add_argument("--source", action="append", help="only documents from this source (repeatable)")
    ask.set_defaults(func=cmd_ask)

    serve = sub.add_parser("serve", help="serve the HTTP API and the chat UI")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000)")
    serve.set_defaults(func=cmd_serve)

    evaluate = sub.add_parser("eval", help="run the question set and report quality metrics")
    evaluate.add_argument("--dataset", type=Path, default=None, help="JSON Lines question set")
    evaluate.add_argument("--output", type=Path, default=Path("eval/out"), help="report directory")
    evaluate.add_argument(
        "--answerer",
        type=_answerers,
        default=None,
        help="answerer to evaluate, or several separated by commas to compare them side by side "
        "(extractive, openai, llamacpp; default: RAG_ANSWERER)",
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
    evaluate.set_defaults(func=cmd_eval)
    documents.add_parser(sub, _settings)
    add_feedback_parser(sub, _settings)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    try:
        return int(args.func(args))
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
