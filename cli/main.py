"""`rag` command: builds settings and the engine, calls it, and formats the result for a terminal."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from datetime import date
from pathlib import Path

from pydantic import ValidationError

from cli import documents
from cli.evaluation import add_eval_parser
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

    add_eval_parser(sub, _settings)
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
