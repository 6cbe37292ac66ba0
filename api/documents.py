"""`/v1/documents`: the indexed documents (list with metadata, chunks and ingest time), uploads of new
ones and their removal (admin key). Removal is a callable handed in by the composition root, since
`api/` never imports `ingest/`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Protocol

from fastapi import APIRouter, Depends, File, UploadFile
from starlette.concurrency import run_in_threadpool

from api.errors import ApiError
from api.ingest import FILES_DOC, Ingest, save_and_ingest
from api.schemas import DocumentOut, DocumentsOut, IngestOut, RemovedOut, error_responses
from rag.corpus import Corpus
from rag.documents import DocumentNotFoundError, PartOfDumpError, StoredDocument


class RemoveReport(Protocol):
    """What the injected removal returns (ingest's RemoveReport has this shape)."""

    files: list[str]
    documents: list[str]
    chunks_deleted: int


Remove = Callable[[Sequence[str]], RemoveReport]
"""Delete these documents (or dumps) from the corpus and the index."""


def document_out(doc: StoredDocument) -> DocumentOut:
    meta = {k: str(doc.meta[k]) for k in ("date", "author", "source", "url") if k in doc.meta}
    pages = doc.meta.get("pages")
    return DocumentOut(
        id=doc.id,
        path=doc.path,
        kind=doc.kind,
        title=doc.title,
        pages=pages if isinstance(pages, int) else None,
        extra=doc.extra,
        chunks=doc.chunks,
        ingested_at=doc.ingested_at,
        **meta,
    )


def documents_router(corpus: Corpus) -> APIRouter:
    """`GET /v1/documents`, for every API key."""
    router = APIRouter(tags=["documents"])

    @router.get("/documents", response_model=DocumentsOut)
    async def list_documents() -> DocumentsOut:
        """The documents answers come from, with their metadata, chunk count and ingest time."""
        documents = await run_in_threadpool(corpus.documents)
        return DocumentsOut(documents=[document_out(d) for d in documents])

    return router


def documents_admin_router(
    corpus: Corpus, ingest: Ingest | None, remove: Remove | None, require_admin: Callable[..., None]
) -> APIRouter:
    """`POST /v1/documents` and `DELETE /v1/documents/{id}`, with the admin key."""
    router = APIRouter(tags=["documents"], dependencies=[Depends(require_admin)])

    @router.post("/documents", response_model=IngestOut, responses=error_responses(401, 403, 409, 413, 422))
    async def add_documents(files: Annotated[list[UploadFile], File(description=FILES_DOC)]) -> IngestOut:
        """Upload documents (their content must be of the type their extension says) and index them."""
        if not files:
            raise ApiError(422, "invalid_request", "Send one or more files.")
        return await save_and_ingest(corpus.root, ingest, files)

    @router.delete(
        "/documents/{document_id:path}",
        response_model=RemovedOut,
        responses=error_responses(401, 403, 404, 409),
    )
    async def remove_document(document_id: str) -> RemovedOut:
        """Remove a document: its file in the corpus, its chunks and its stored text. An article of a
        dump goes with its whole dump: remove the dump by its file name."""
        if remove is None:
            raise ApiError(403, "ingest_disabled", "Removing documents over HTTP is disabled on this server.")
        try:
            report = await run_in_threadpool(remove, [document_id])
        except DocumentNotFoundError:
            raise ApiError(404, "not_found", "No such document in the index.") from None
        except PartOfDumpError as exc:
            raise ApiError(409, "part_of_dump", str(exc)) from None
        return RemovedOut(
            files=report.files, documents=report.documents, chunks_deleted=report.chunks_deleted
        )

    return router
