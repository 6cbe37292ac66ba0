"""`build_chat`: the Gradio chat around one engine (streamed answers with their sources, follow-up
questions, articles opened with the quoted passage highlighted), and `mount_chat` for a FastAPI app."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from typing import Any

# Before gradio is imported: it reads this at import time to decide on telemetry.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

import gradio as gr  # noqa: E402
from fastapi import FastAPI  # noqa: E402

from rag.engine import Engine  # noqa: E402
from rag.errors import RagError  # noqa: E402
from ui.render import ARTICLE_HINT, render_article, render_conversation, render_notice  # noqa: E402
from ui.style import ARTICLE_CSS, ARTICLE_JS, CONVERSATION_CSS, CONVERSATION_JS  # noqa: E402
from ui.turns import Turn, answer_turn, find_citation  # noqa: E402

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


def build_chat(engine: Engine, *, concurrency_limit: int = 2, max_queue: int = 32) -> gr.Blocks:
    """The chat for `engine`, queued: at most `concurrency_limit` answers at once, `max_queue` waiting."""

    def ask(question: str, turns: list[Turn]) -> Iterator[tuple[Any, Any, Any]]:
        question = (question or "").strip()
        if not question or (turns and not turns[-1].done):
            # Nothing to ask, or an answer still streaming (Enter, then a click): leave all as it is.
            yield gr.skip(), gr.skip(), gr.skip()
            return
        for turn in answer_turn(engine, turns, question):
            shown = [*turns, turn]
            yield "", shown, render_conversation(shown)

    def open_source(turns: list[Turn], evt: gr.EventData) -> str:
        data: dict[str, Any] = evt._data if isinstance(evt._data, dict) else {}
        try:
            citation = find_citation(turns, int(data["turn"]), int(data["n"]))
        except (KeyError, TypeError, ValueError):
            citation = None
        if citation is None:
            return render_notice(SOURCE_MISSING)
        try:
            text, title = engine.source(citation.file)
        except RagError as exc:
            log.warning("chat source %s cannot be opened: %s", citation.file, exc)
            return render_notice(SOURCE_MISSING)
        return render_article(text, title, citation)

    def reset() -> tuple[list[Turn], str, str, str]:
        return [], render_conversation([]), render_notice(ARTICLE_HINT), ""

    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        turns = gr.State([])
        gr.Markdown(INTRO)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                conversation = gr.HTML(
                    render_conversation([]), elem_id="conversation", css_template=CONVERSATION_CSS,
                    js_on_load=CONVERSATION_JS, autoscroll=True, min_height=320, max_height=640,
                )
                with gr.Row():
                    question = gr.Textbox(
                        show_label=False, placeholder="Posez une question sur les articles…",
                        max_length=engine.settings.max_question_chars, autofocus=True, scale=5,
                        elem_id="question",
                    )
                    send = gr.Button("Envoyer", variant="primary", scale=1, elem_id="send")
                with gr.Row():
                    examples = [gr.Button(text, size="sm", variant="secondary") for text in EXAMPLES]
                new = gr.Button("Nouvelle conversation", size="sm", elem_id="new-conversation")
            with gr.Column(scale=2):
                article = gr.HTML(
                    render_notice(ARTICLE_HINT), label="Article", show_label=True, container=True,
                    elem_id="article", css_template=ARTICLE_CSS, js_on_load=ARTICLE_JS,
                    min_height=320, max_height=720,
                )

        asked: dict[str, Any] = {
            "fn": ask, "outputs": [question, turns, conversation], "concurrency_id": "ask",
            "api_visibility": "private", "show_progress": "minimal", "show_progress_on": [conversation],
        }
        events: list[Any] = [
            question.submit(inputs=[question, turns], **asked),
            send.click(inputs=[question, turns], **asked),
            *(button.click(inputs=[button, turns], **asked) for button in examples),  # asks at once
        ]
        conversation.open_source(open_source, inputs=[turns], outputs=[article], api_visibility="private")
        new.click(
            reset, outputs=[turns, conversation, article, question], cancels=events,
            api_visibility="private",
        )
    demo.queue(default_concurrency_limit=concurrency_limit, max_size=max_queue, api_open=False)
    return demo


def mount_chat(
    app: FastAPI, engine: Engine, path: str = "/ui", *, auth: Callable[[str, str], bool] | None = None,
) -> FastAPI:
    """Mount the chat on `app` at `path` (behind `auth`, if given): no footer links, no raw errors."""
    return gr.mount_gradio_app(
        app, build_chat(engine), path=path, auth=auth, footer_links=[], show_error=False
    )
