"""`rag documents list|rm`: the documents of the index (metadata, chunks, ingest time), and removing
some (their corpus file, chunks and stored text)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from rag.compose import build_corpus
from rag.documents import StoredDocument
from rag.settings import Settings


def document_row(doc: StoredDocument) -> dict[str, Any]:
    """A document as `rag documents list --json` and `GET /v1/documents` show it (no text)."""
    return {
        "id": doc.id,
        "path": doc.path,
        "kind": doc.kind,
        "title": doc.title,
        **doc.meta,
        "extra": doc.extra,
        "chunks": doc.chunks,
        "ingested_at": doc.ingested_at,
    }


def format_table(documents: list[StoredDocument]) -> str:
    if not documents:
        return "No document in the index: add files to the corpus and run `rag ingest`."
    lines = []
    for doc in documents:
        known = [str(doc.meta[k]) for k in ("date", "source", "author") if k in doc.meta]
        lines.append(f"{doc.id}  ({doc.kind}, {doc.chunks} chunks, ingested {doc.ingested_at})")
        lines.append(f"    {doc.title}" + (f" — {' · '.join(known)}" if known else ""))
        if "url" in doc.meta:
            lines.append(f"    {doc.meta['url']}")
    lines.append(f"{len(documents)} document(s)")
    return "\n".join(lines)


def cmd_documents(args: argparse.Namespace, settings: Callable[[], Settings]) -> int:
    config = settings()
    if args.action == "list":
        documents = build_corpus(config).documents()
        if args.json:
            print(json.dumps([document_row(d) for d in documents], ensure_ascii=False, indent=2))
        else:
            print(format_table(documents))
        return 0
    from ingest.lock import writer_lock
    from ingest.remove import remove_documents

    with ExitStack() as held:
        if not config.chroma_host:  # never beside a `rag serve` on one embedded store
            held.enter_context(writer_lock(config.index_dir, "ingest"))
        report = remove_documents(config, args.ids)
    print(
        f"removed {len(report.documents)} document(s) ({', '.join(report.documents)}), "
        f"{report.chunks_deleted} chunks; deleted from the corpus: {', '.join(report.files) or 'none'}"
    )
    return 0


def add_parser(sub: Any, settings: Callable[[], Settings]) -> None:
    """`rag documents …` under the root parser's subcommands."""
    documents = sub.add_parser("documents", help="list or remove the indexed documents")
    actions = documents.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="the indexed documents with their metadata")
    listing.add_argument("--json", action="store_true", help="print one JSON array")
    remove = actions.add_parser(
        "rm", help="remove documents: their file in the corpus, their chunks and stored text"
    )
    remove.add_argument("ids", nargs="+", help="document ids as `rag documents list` shows them")
    documents.set_defaults(func=lambda args: cmd_documents(args, settings))
