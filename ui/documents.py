"""The chat's documents panel: the list of documents the answers come from, for everyone, and for an
admin an upload (size-capped, type-checked by content) that shows the ingest's progress."""

from __future__ import annotations

import hmac
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from html import escape
from pathlib import Path
from typing import Any, Protocol

import gradio as gr

from rag.corpus import SkippedFile
from rag.documents import StoredDocument
from rag.errors import InvalidQuestionError, RagError
from rag.filters import DocumentFilter
from rag.formats import KINDS, LABELS, check_kind
from rag.progress import IngestProgress
from ui.meta import french_date, safe_url

MAX_UPLOAD_FILES = 20
NO_DOCUMENTS = "Aucun document n’est encore indexé."


class AddReport(Protocol):
    """What adding files says (ingest's SyncReport has this shape)."""

    added: list[str]
    updated: list[str]
    skipped: list[tuple[str, str]]
    warnings: list[tuple[str, str]]


Add = Callable[[list[tuple[str, bytes]], Callable[[IngestProgress], None]], AddReport]
"""Save files into the corpus and ingest them, reporting progress (built by the composition root)."""


def render_documents(documents: Sequence[StoredDocument]) -> str:
    """The documents as a table: title (a link to the original when known), source, date, type, size."""
    if not documents:
        return f'<p class="documents-empty">{escape(NO_DOCUMENTS)}</p>'
    rows = []
    for doc in documents:
        url = safe_url(str(doc.meta.get("url", "")))
        title = escape(doc.title or doc.id)
        if url:
            title = f'<a href="{escape(url)}" target="_blank" rel="noopener noreferrer">{title}</a>'
        pages = f", {doc.meta['pages']} p." if "pages" in doc.meta else ""
        rows.append(
            f'<tr data-id="{escape(doc.id)}"><td>{title}<br><code>{escape(doc.id)}</code></td>'
            f"<td>{escape(str(doc.meta.get('source', '')))}</td>"
            f"<td>{escape(french_date(str(doc.meta.get('date', ''))))}</td>"
            f"<td>{escape(LABELS.get(doc.kind, doc.kind))}{pages}</td><td>{doc.chunks}</td></tr>"
        )
    head = "<tr><th>Document</th><th>Source</th><th>Date</th><th>Type</th><th>Passages</th></tr>"
    return (
        f'<p class="documents-count">{len(documents)} document(s)</p>'
        f'<table class="documents"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'
    )


@dataclass(frozen=True)
class UploadPolicy:
    """Who may upload and what: the admin key, and the largest file accepted."""

    admin_key: str
    max_bytes: int

    def enabled(self, add: object | None) -> bool:
        """Whether the chat offers uploads: something to add them with, an admin key, a size."""
        return add is not None and bool(self.admin_key) and self.max_bytes > 0

    def check_key(self, key: str) -> None:
        if not self.admin_key:
            raise RagError("L’ajout de documents est désactivé sur ce serveur (pas de clé d’administration).")
        if not hmac.compare_digest((key or "").encode(), self.admin_key.encode()):
            raise RagError("Clé d’administration incorrecte.")

    def read(self, path: str) -> tuple[str, bytes]:
        """(name, bytes) of an uploaded file, if it is small enough and its content is of the type its
        extension says."""
        file = Path(path)
        name = file.name
        size = file.stat().st_size
        if size > self.max_bytes:
            raise SkippedFile(
                f"{size / 2**20:.1f} Mo, au-delà de la limite de {self.max_bytes / 2**20:.1f} Mo"
            )
        if file.suffix.lower() not in KINDS:
            raise SkippedFile(f"type non pris en charge (seulement {', '.join(sorted(KINDS))})")
        data = file.read_bytes()
        check_kind(file.suffix, data)
        return name, data

    @staticmethod
    def discard(paths: Sequence[str]) -> None:
        """Remove Gradio's temporary copies of uploaded files once read (kept or refused)."""
        for path in paths:
            Path(path).unlink(missing_ok=True)


def uploader(add: Add | None, policy: UploadPolicy) -> Callable[[list[str] | None, str], Iterator[str]]:
    """The handler of an upload: the files checked, then the ingest's progress line by line, then
    what was added and what was left out (and why)."""

    def upload(paths: list[str] | None, key: str) -> Iterator[str]:
        try:
            policy.check_key(key)
        except RagError as exc:
            yield f"{exc}"  # the files stay for another try with the right key (Gradio's cache drops them)
            return
        try:
            files, lines = read_files(policy, paths or [])
        finally:
            policy.discard(paths or [])  # read or refused: out of Gradio's cache at once
        if add is None:
            yield "L’ajout de documents est désactivé sur ce serveur."
        elif not paths:
            yield "Choisissez un ou plusieurs fichiers."
        elif not files:
            yield "\n".join(lines)
        else:
            yield from _run(add, files, lines)

    return upload


def read_files(policy: UploadPolicy, paths: list[str]) -> tuple[list[tuple[str, bytes]], list[str]]:
    """The uploaded files `policy` accepts, as (name, bytes), and a line for each one refused."""
    files, refused = [], []
    for path in paths[:MAX_UPLOAD_FILES]:
        try:
            files.append(policy.read(path))
        except (SkippedFile, OSError) as exc:
            refused.append(f"{Path(path).name} : {exc}")
    lines = [f"refusé — {line}" for line in refused]
    if len(paths) > MAX_UPLOAD_FILES:
        extra = len(paths) - MAX_UPLOAD_FILES
        lines.append(f"{extra} fichier(s) de trop ignoré(s) : {MAX_UPLOAD_FILES} au plus.")
    return files, lines


def _run(add: Add, files: list[tuple[str, bytes]], lines: list[str]) -> Iterator[str]:
    """Run `add` in a thread and yield its progress as it comes, then its outcome."""
    events: queue.Queue[IngestProgress | None] = queue.Queue()
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["report"] = add(files, events.put)
        except RagError as exc:
            outcome["error"] = str(exc)
        finally:
            events.put(None)

    threading.Thread(target=work, name="rag-chat-upload", daemon=True).start()
    while (event := events.get()) is not None:
        yield "\n".join([*lines, f"{event.describe()}"])
    if "error" in outcome:
        yield "\n".join([*lines, f"{outcome['error']}"])
        return
    report = outcome["report"]
    done = [f"ajouté — {name}" for name in [*report.added, *report.updated]]
    left = [f"ignoré — {name} : {reason}" for name, reason in report.skipped]
    parts = [f"partiellement lu — {name} : {reason}" for name, reason in report.warnings]
    yield "\n".join([*lines, *done, *left, *parts]) or "Rien de nouveau : ces fichiers étaient déjà indexés."


def restriction(
    date_from: str | None, date_to: str | None, sources: Sequence[str] | None
) -> DocumentFilter | None:
    """The chat's filter fields as a filter (None when empty); InvalidQuestionError, in French, for a
    date that is not one."""
    days = []
    for label, value in (("de début", date_from), ("de fin", date_to)):
        text = (value or "").strip()
        try:
            days.append(date.fromisoformat(text) if text else None)
        except ValueError:
            raise InvalidQuestionError(f"La date {label} « {text} » n’est pas une date AAAA-MM-JJ.") from None
    try:
        return DocumentFilter.of(date_from=days[0], date_to=days[1], sources=list(sources or ()))
    except InvalidQuestionError:
        raise InvalidQuestionError(
            "La période est vide : la date de début est après la date de fin."
        ) from None


@dataclass
class DocumentsPanel:
    """The panel's components: the list, the filters questions go through, the admin upload."""

    listing: gr.HTML
    refresh: gr.Button
    date_from: gr.Textbox
    date_to: gr.Textbox
    sources: gr.Dropdown
    files: gr.File | None
    key: gr.Textbox | None
    send: gr.Button | None
    status: gr.Textbox | None


def documents_panel(can_upload: bool) -> DocumentsPanel:
    """Lay out the panel inside the `gr.Blocks` being built (the upload only if uploads are enabled)."""
    with gr.Accordion("Filtrer par date ou par source", open=False, elem_id="filters"):
        with gr.Row():
            date_from = gr.Textbox(
                label="Depuis le", placeholder="AAAA-MM-JJ", max_length=10, elem_id="date-from"
            )
            date_to = gr.Textbox(label="Jusqu’au", placeholder="AAAA-MM-JJ", max_length=10, elem_id="date-to")
        sources = gr.Dropdown(label="Sources", multiselect=True, choices=[], elem_id="sources")
    with gr.Accordion("Documents indexés", open=False, elem_id="documents-panel"):
        listing = gr.HTML(elem_id="documents")
        refresh = gr.Button("Actualiser la liste", size="sm", elem_id="documents-refresh")
        if not can_upload:
            return DocumentsPanel(listing, refresh, date_from, date_to, sources, None, None, None, None)
        with gr.Group():
            files = gr.File(
                label="Ajouter des documents (administration)",
                file_count="multiple",
                file_types=sorted(KINDS),
                type="filepath",
                elem_id="upload-files",
            )
            key = gr.Textbox(label="Clé d’administration", type="password", elem_id="upload-key")
            send = gr.Button("Ajouter", variant="secondary", elem_id="upload-send")
            status = gr.Textbox(label="Ajout", lines=4, interactive=False, elem_id="upload-status")
    return DocumentsPanel(listing, refresh, date_from, date_to, sources, files, key, send, status)


def wire_documents(
    demo: gr.Blocks,
    panel: DocumentsPanel,
    documents: Callable[[], Sequence[StoredDocument]],
    upload: Callable[..., Any],
) -> None:
    """Connect the panel: the list on load and on demand, the upload then the list again."""

    def listing() -> tuple[str, Any]:
        found = documents()
        names = sorted({str(d.meta["source"]) for d in found if d.meta.get("source")})
        return render_documents(found), gr.update(choices=names)

    shown = [panel.listing, panel.sources]
    demo.load(listing, outputs=shown, api_visibility="private")
    panel.refresh.click(listing, outputs=shown, api_visibility="private")
    if panel.send is not None and panel.files is not None and panel.key is not None and panel.status:
        panel.send.click(
            upload,
            inputs=[panel.files, panel.key],
            outputs=[panel.status],
            api_visibility="private",
            concurrency_id="upload",
            concurrency_limit=1,
        ).then(listing, outputs=shown, api_visibility="private")
