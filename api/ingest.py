"""`POST /v1/ingest`: save uploaded articles into the corpus directory, then sync the index.

The sync itself is a callable handed in by the composition root, since `api/` never imports `ingest/`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Protocol

from fastapi import APIRouter, Depends, File, UploadFile
from starlette.concurrency import run_in_threadpool

from api.errors import ApiError, scrub
from api.schemas import IngestOut, SkippedOut, error_responses
from rag.corpus import SkippedFile, is_inside
from rag.errors import CorpusError
from rag.formats import KINDS, check_kind

MAX_NAME = 200


class IngestReport(Protocol):
    """What the injected sync returns (ingest's SyncReport has this shape)."""

    added: list[str]
    updated: list[str]
    unchanged: list[str]
    removed: list[str]
    skipped: list[tuple[str, str]]
    warnings: list[tuple[str, str]]
    chunks_written: int
    chunks_deleted: int

    def summary(self) -> str: ...


Ingest = Callable[[Sequence[Path]], IngestReport]
"""Sync these corpus files into the index (all of the corpus when the sequence is empty)."""


def check_name(name: str | None) -> str:
    """The upload's file name if it is a plain corpus file name; 422 for anything else."""
    if not name:
        raise ApiError(422, "invalid_filename", "Every uploaded file needs a file name.")
    if (
        len(name) > MAX_NAME
        or any(c in name for c in "/\\\x00")
        or name.startswith(".")
        or any(ord(c) < 32 for c in name)
        or name.strip() != name
    ):
        raise ApiError(
            422,
            "invalid_filename",
            "Upload names must be plain file names (no folders, no leading dot, at most 200 characters).",
        )
    if Path(name).suffix.lower() not in KINDS:
        raise ApiError(
            422,
            "unsupported_file_type",
            f"Only {', '.join(sorted(KINDS))} files can be ingested.",
        )
    return name


async def read_upload(upload: UploadFile) -> tuple[str, bytes]:
    """The upload's name and bytes, if its content is of the type its extension says (422 if not)."""
    name = check_name(upload.filename)
    data = await upload.read()
    try:
        check_kind(Path(name).suffix, data)
    except SkippedFile as exc:
        raise ApiError(422, "invalid_file", f"{name} cannot be ingested: {exc}.") from None
    return name, data


def save(corpus: Path, name: str, data: bytes) -> Path:
    """Write a file into the corpus atomically (a reader never sees half a file)."""
    target = corpus / name
    if not is_inside(corpus, target) or (target.exists() and not target.is_file()):
        raise ApiError(422, "invalid_filename", f"{name} cannot be written in the corpus.")
    # A dot-file in the corpus itself: ingest ignores it, and the rename stays on one file system.
    handle, temporary = tempfile.mkstemp(dir=corpus, prefix=".upload-", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def report_out(saved: list[str], report: IngestReport, corpus: Path) -> IngestOut:
    def name(item: str) -> str:
        path = Path(item)
        if not path.is_absolute():
            return item
        return path.relative_to(corpus).as_posix() if is_inside(corpus, path) else path.name

    return IngestOut(
        saved=saved,
        summary=report.summary(),
        added=report.added,
        updated=report.updated,
        unchanged=report.unchanged,
        removed=report.removed,
        skipped=[SkippedOut(file=name(f), reason=scrub(r)) for f, r in report.skipped],
        warnings=[SkippedOut(file=name(f), reason=scrub(r)) for f, r in report.warnings],
        chunks_written=report.chunks_written,
        chunks_deleted=report.chunks_deleted,
    )


def ingest_router(corpus: Path, ingest: Ingest | None, require_admin: Callable[..., None]) -> APIRouter:
    router = APIRouter(tags=["admin"], dependencies=[Depends(require_admin)])

    @router.post("/ingest", response_model=IngestOut, responses=error_responses(401, 403, 409, 413, 422))
    async def ingest_files(
        files: Annotated[list[UploadFile] | None, File(description=FILES_DOC)] = None,
    ) -> IngestOut:
        """Save the uploaded documents into the corpus and index them; with no file, re-sync the
        corpus. Needs the admin key."""
        return await save_and_ingest(corpus, ingest, files or [])

    return router


FILES_DOC = f"Documents to add ({', '.join(sorted(KINDS))}), each checked by its content"


async def save_and_ingest(corpus: Path, ingest: Ingest | None, files: Sequence[UploadFile]) -> IngestOut:
    """Check the uploads (names, and content matching the extension), save them into the corpus and
    sync them into the index (all of the corpus when there is none)."""
    if ingest is None:
        raise ApiError(403, "ingest_disabled", "Ingest over HTTP is disabled on this server.")
    uploads = [await read_upload(f) for f in files]
    names = [n for n, _ in uploads]
    if len(set(names)) != len(names):
        raise ApiError(422, "invalid_filename", "The same file name appears twice in the upload.")
    if not corpus.is_dir():
        raise ApiError(503, "corpus_unavailable", "The corpus directory is missing on the server.")
    paths = [await run_in_threadpool(save, corpus, n, data) for n, data in uploads]
    try:
        report = await run_in_threadpool(ingest, paths)
    except CorpusError as exc:
        raise ApiError(503, "corpus_unavailable", str(exc)) from None
    return report_out(names, report, corpus)
