"""`build_chat`: the Gradio chat around one engine and its corpus (streamed answers with their
sources, follow-up questions, articles opened with the quoted passage highlighted), and `mount_chat`
for a FastAPI app."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# Before gradio is imported: it reads this at import time to decide on telemetry.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

import gradio as gr  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from fastapi.responses import PlainTextResponse  # noqa: E402

from rag.admission import Admission  # noqa: E402
from rag.corpus import Corpus  # noqa: E402
from rag.engine import Engine  # noqa: E402
from rag.errors import RagError  # noqa: E402
from ui.asking import asker  # noqa: E402
from ui.documents import (  # noqa: E402
    Add,
    DocumentsPanel,
    UploadPolicy,
    documents_panel,
    uploader,
    wire_documents,
)
from ui.feedback import FeedbackForm, feedback_form, wire_feedback  # noqa: E402
from ui.history import ChatHistory  # noqa: E402
from ui.past import past_list, wire_past  # noqa: E402
from ui.rating import RATE_CSS, RATE_JS  # noqa: E402
from ui.render import ARTICLE_HINT, render_article, render_conversation, render_notice  # noqa: E402
from ui.style import ARTICLE_CSS, ARTICLE_JS, CONVERSATION_CSS, CONVERSATION_JS  # noqa: E402
from ui.turns import Turn, find_citation  # noqa: E402

log = logging.getLogger("ui")

TITLE = "Questions sur les articles"
EXAMPLES = (
    "Pourquoi Leike est-il parti ?",
    "Combien de temps Schulman est-il resté chez Anthropic ?",
    "Combien Amazon a-t-il investi dans Anthropic ?",
    "Quel dirigeant d'OpenAI prend un congé sabbatique ?",
)
INTRO = (
    f"# {TITLE}\n"
    "Réponses tirées uniquement des articles de presse indexés, avec leurs sources. "
    "Les questions de suite (« Et lui, il a rejoint quelle entreprise ? ») reprennent la conversation."
)
SOURCE_MISSING = "Cette source n’est plus disponible."


def source_opener(corpus: Corpus) -> Callable[[list[Turn], gr.EventData], str]:
    """The handler of a click on a source or a marker: the article, its quoted passage marked."""

    def open_source(turns: list[Turn], evt: gr.EventData) -> str:
        data: dict[str, Any] = evt._data if isinstance(evt._data, dict) else {}
        try:
            citation = find_citation(turns, int(data["turn"]), int(data["n"]))
        except (KeyError, TypeError, ValueError):
            citation = None
        if citation is None:
            return render_notice(SOURCE_MISSING)
        try:
            text, title = corpus.source(citation.file)
        except RagError as exc:
            log.warning("chat source %s cannot be opened: %s", citation.file, exc)
            return render_notice(SOURCE_MISSING)
        return render_article(text, title, citation)

    return open_source


def reset() -> tuple[list[Turn], str, str, str]:
    return [], render_conversation([]), render_notice(ARTICLE_HINT), ""


@dataclass
class Layout:
    """The chat's components: the conversation and its inputs on the left, the article on the right."""

    turns: gr.State
    conversation: gr.HTML
    question: gr.Textbox
    send: gr.Button
    examples: list[gr.Button]
    new: gr.Button
    article: gr.HTML
    panel: DocumentsPanel
    conversation_id: gr.State  # the saved conversation being continued, None before its first answer
    past: gr.Radio
    form: FeedbackForm


def layout(max_question_chars: int, can_upload: bool = False) -> Layout:
    """Lay out the components, inside the `gr.Blocks` being built."""
    turns, conversation_id = gr.State([]), gr.State(None)
    gr.Markdown(INTRO)
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=180):
            past = past_list()
        with gr.Column(scale=3):
            conversation = gr.HTML(
                render_conversation([]),
                elem_id="conversation",
                css_template=CONVERSATION_CSS + RATE_CSS,
                js_on_load=CONVERSATION_JS + RATE_JS,
                autoscroll=True,
                min_height=320,
                max_height=640,
            )
            with gr.Row():
                question = gr.Textbox(
                    show_label=False,
                    placeholder="Posez une question sur les articles…",
                    max_length=max_question_chars,
                    autofocus=True,
                    scale=5,
                    elem_id="question",
                )
                send = gr.Button("Envoyer", variant="primary", scale=1, elem_id="send")
            with gr.Row():
                examples = [gr.Button(text, size="sm", variant="secondary") for text in EXAMPLES]
            new = gr.Button("Nouvelle conversation", size="sm", elem_id="new-conversation")
            form = feedback_form()
            panel = documents_panel(can_upload)
        with gr.Column(scale=2):
            article = gr.HTML(
                render_notice(ARTICLE_HINT),
                label="Article",
                show_label=True,
                container=True,
                elem_id="article",
                css_template=ARTICLE_CSS,
                js_on_load=ARTICLE_JS,
                min_height=320,
                max_height=720,
            )
    return Layout(
        turns, conversation, question, send, examples, new, article, panel, conversation_id, past, form
    )


def wire(ui: Layout, ask: Callable[..., Any], open_source: Callable[..., Any]) -> None:
    """Connect the components: asking (Enter, the button, an example), opening a source, starting over.
    No handler is part of a public API."""
    asked: dict[str, Any] = {
        "fn": ask,
        "outputs": [ui.question, ui.turns, ui.conversation, ui.conversation_id, ui.past],
        "concurrency_id": "ask",
        "api_visibility": "private",
        "show_progress": "minimal",
        "show_progress_on": [ui.conversation],
    }
    filters = [ui.panel.date_from, ui.panel.date_to, ui.panel.sources, ui.conversation_id]
    events: list[Any] = [
        ui.question.submit(inputs=[ui.question, ui.turns, *filters], **asked),
        ui.send.click(inputs=[ui.question, ui.turns, *filters], **asked),
        *(button.click(inputs=[button, ui.turns, *filters], **asked) for button in ui.examples),  # at once
    ]
    ui.conversation.open_source(
        open_source, inputs=[ui.turns], outputs=[ui.article], api_visibility="private"
    )
    ui.new.click(
        reset,
        outputs=[ui.turns, ui.conversation, ui.article, ui.question],
        cancels=events,
        api_visibility="private",
    )


def build_chat(
    engine: Engine,
    corpus: Corpus,
    *,
    concurrency_limit: int = 2,
    max_queue: int = 32,
    add: Add | None = None,
    uploads: UploadPolicy | None = None,
    history: ChatHistory | None = None,
    admission: Admission | None = None,
) -> gr.Blocks:
    """The chat for `engine` and the articles of `corpus`, queued: at most `concurrency_limit`
    answers at once, `max_queue` waiting. With `add` and an admin key in `uploads`, an admin can
    upload documents. With `history`, answers are saved, rated and resumed from a side list. With
    `admission` (the server's gate and rate limiter, shared with the API), questions go through it."""
    uploads = uploads or UploadPolicy(admin_key="", max_bytes=0)
    history = history or ChatHistory(None)
    # Gradio's temporary copies of uploads: removed after an hour (and each upload once read).
    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=(600, 3600)) as demo:
        ui = layout(engine.limits.max_question_chars, can_upload=uploads.enabled(add))
        wire(ui, asker(engine, history, admission), source_opener(corpus))
        wire_feedback(ui.conversation, ui.turns, ui.form, history, render_conversation)
        wire_past(
            demo, ui.past, ui.new, ui.conversation_id, ui.turns, ui.conversation, ui.article, ui.form, history
        )
        wire_documents(demo, ui.panel, corpus.documents, uploader(add, uploads))
    demo.queue(default_concurrency_limit=concurrency_limit, max_size=max_queue, api_open=False)
    return demo


def mount_chat(
    app: FastAPI,
    engine: Engine,
    corpus: Corpus,
    path: str = "/ui",
    *,
    auth: Callable[[str, str], bool] | None = None,
    add: Add | None = None,
    uploads: UploadPolicy | None = None,
    history: ChatHistory | None = None,
    admission: Admission | None = None,
) -> FastAPI:
    """Mount the chat on `app` at `path` (behind `auth`, if given): no footer links, no raw errors.
    Uploads (`add`, `uploads`) are refused past their size limit before they are stored, and every
    upload when the chat has none (its upload routes are closed); `history` saves the conversations;
    `admission` is the server's gate and rate limiter."""
    demo = build_chat(engine, corpus, add=add, uploads=uploads, history=history, admission=admission)
    uploads = uploads or UploadPolicy(admin_key="", max_bytes=0)
    if not uploads.enabled(add):
        close_uploads(app, path)
    limit = uploads.max_bytes if uploads.enabled(add) else 0
    return gr.mount_gradio_app(
        app, demo, path=path, auth=auth, footer_links=[], show_error=False, max_file_size=limit
    )


UPLOAD_ROUTES = ("/gradio_api/upload", "/gradio_api/process_recording", "/gradio_api/upload_progress")


def close_uploads(app: FastAPI, path: str) -> None:
    """Answer 404 on the chat's upload routes, before Gradio (mounted after) would store anything."""

    async def closed() -> PlainTextResponse:
        return PlainTextResponse("Not Found", status_code=404)

    for route in UPLOAD_ROUTES:
        app.add_api_route(path + route, closed, methods=["GET", "POST"], include_in_schema=False)
