"""The chat's side list of past conversations: filled when the page opens, updated after each
answer, and a click on one resumes it as it was left (answers, sources, ratings)."""

from __future__ import annotations

from typing import Any

import gradio as gr

from ui.feedback import FeedbackForm, closed
from ui.history import ChatHistory
from ui.render import ARTICLE_HINT, render_conversation, render_notice
from ui.turns import Turn

RESUME_FAILED = "Cette conversation n’est plus disponible."


def past_list() -> gr.Radio:
    """The side list, inside the `gr.Blocks` being built (filled by `wire_past`)."""
    return gr.Radio(
        choices=[], value=None, label="Conversations passées", elem_id="history", interactive=True
    )


def wire_past(
    demo: gr.Blocks,
    past: gr.Radio,
    new: gr.Button,
    conversation_id: gr.State,
    turns: gr.State,
    conversation: gr.HTML,
    article: gr.HTML,
    form: FeedbackForm,
    history: ChatHistory,
) -> None:
    """Fill the list when the page opens; resume a conversation picked in it; forget the current
    one when a new conversation starts."""

    def fill(request: gr.Request) -> Any:
        return history.side_list(request, None)

    def resume(picked: str | None, request: gr.Request) -> tuple[Any, ...]:
        loaded: list[Turn] | None = history.load(request, picked) if picked else None
        if loaded is None:
            return gr.skip(), gr.skip(), render_notice(RESUME_FAILED), gr.skip(), *closed()
        return loaded, render_conversation(loaded), render_notice(ARTICLE_HINT), picked, *closed()

    def forget(request: gr.Request) -> tuple[Any, ...]:
        return None, history.side_list(request, None), *closed()

    closing = [form.pending, form.box, form.thanks]
    demo.load(fill, outputs=[past], api_visibility="private")
    past.input(
        resume,
        inputs=[past],
        outputs=[turns, conversation, article, conversation_id, *closing],
        api_visibility="private",
    )
    new.click(forget, outputs=[conversation_id, past, *closing], api_visibility="private")


__all__ = ["past_list", "wire_past"]
