"""👍 / 👎 under each saved answer of the chat, and the form a click opens: an optional comment, the
right answer and the article(s) that hold it. Saved with the answer, for `rag feedback export`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import gradio as gr

from ui.history import ChatHistory
from ui.turns import Turn

ASK_MORE = "Merci ! Vous pouvez préciser votre avis (facultatif) :"
THANKS = "Merci, votre avis est enregistré."
NOT_SAVED = "Votre avis n’a pas pu être enregistré. Réessayez dans un instant."


@dataclass
class FeedbackForm:
    """The form under the conversation, shown after a click on 👍 or 👎."""

    pending: gr.State  # index of the turn being rated
    box: gr.Column
    note: gr.Markdown
    comment: gr.Textbox
    correction: gr.Textbox
    sources: gr.Dropdown
    send: gr.Button
    thanks: gr.Markdown


def feedback_form() -> FeedbackForm:
    """Lay out the form, hidden, inside the `gr.Blocks` being built."""
    pending = gr.State(None)
    with gr.Column(visible=False, variant="panel", elem_id="feedback") as box:
        note = gr.Markdown(ASK_MORE)
        comment = gr.Textbox(label="Commentaire", max_length=2000, elem_id="feedback-comment")
        correction = gr.Textbox(
            label="Quelle était la bonne réponse ?", max_length=2000, elem_id="feedback-correction"
        )
        sources = gr.Dropdown(
            choices=[],
            multiselect=True,
            allow_custom_value=True,
            label="Dans quel(s) article(s) ?",
            elem_id="feedback-sources",
        )
        send = gr.Button("Envoyer l’avis", size="sm", variant="primary", elem_id="send-feedback")
    thanks = gr.Markdown(visible=False, elem_id="feedback-thanks")
    return FeedbackForm(pending, box, note, comment, correction, sources, send, thanks)


def _articles(turn: Turn) -> list[tuple[str, str]]:
    """(title — file, file) of the articles the answer was drawn from: the likely places of the answer."""
    files = {p.file: p.title for p in turn.passages} | {c.file: c.title for c in turn.citations}
    return [(f"{title} — {file}", file) for file, title in files.items()]


def wire_feedback(
    conversation: gr.HTML,
    turns: gr.State,
    form: FeedbackForm,
    history: ChatHistory,
    render: Callable[[Sequence[Turn]], str],
) -> None:
    """A click on 👍 / 👎 saves the rating at once and opens the form; the form adds to it.
    `render` draws the conversation again (its buttons show the rating given)."""
    conversation.rate(  # type: ignore[attr-defined]  # a custom event of the HTML (ui.rating.RATE_JS)
        _rater(history, render),
        inputs=[turns],
        outputs=[
            turns,
            conversation,
            form.pending,
            form.box,
            form.comment,
            form.correction,
            form.sources,
            form.thanks,
        ],
        api_visibility="private",
    )
    form.send.click(
        _sender(history),
        inputs=[turns, form.pending, form.comment, form.correction, form.sources],
        outputs=[form.box, form.thanks],
        api_visibility="private",
    )


def _rater(history: ChatHistory, render: Callable[[Sequence[Turn]], str]) -> Callable[..., tuple[Any, ...]]:
    """The handler of a click on 👍 / 👎: the rating saved, the conversation drawn again, the form open
    (or, when it could not be saved, the reason said)."""

    def rate(shown: list[Turn], evt: gr.EventData, request: gr.Request) -> tuple[Any, ...]:
        data: dict[str, Any] = evt._data if isinstance(evt._data, dict) else {}
        index, rating = data.get("turn"), data.get("rating")
        if not isinstance(index, int) or not 0 <= index < len(shown) or rating not in ("up", "down"):
            return (gr.skip(),) * 8
        rated = [*shown]
        rated[index] = replace(shown[index], rating=rating)
        saved = history.rate(request, rated[index])
        return (
            rated if saved else gr.skip(),
            render(rated) if saved else gr.skip(),
            index,
            gr.update(visible=saved),
            "",
            "",
            gr.update(choices=_articles(rated[index]), value=[]),
            gr.update(visible=not saved, value=NOT_SAVED),
        )

    return rate


def _sender(history: ChatHistory) -> Callable[..., tuple[Any, Any]]:
    """The handler of the form's button: the comment, correction and articles added to the rating."""

    def send(
        shown: list[Turn],
        index: int | None,
        comment: str,
        correction: str,
        sources: list[str] | None,
        request: gr.Request,
    ) -> tuple[Any, Any]:
        if index is None or not 0 <= index < len(shown):
            return gr.update(visible=False), gr.skip()
        given = {"comment": comment.strip(), "correction": correction.strip(), "sources": list(sources or [])}
        saved = history.rate(request, shown[index], **given)
        return gr.update(visible=False), gr.update(visible=True, value=THANKS if saved else NOT_SAVED)

    return send


def closed() -> list[Any]:
    """Updates of (`pending`, `box`, `thanks`) that close the form and its thanks (a new or resumed
    conversation)."""
    return [None, gr.update(visible=False), gr.update(visible=False)]


__all__ = ["FeedbackForm", "feedback_form", "closed", "wire_feedback"]
