"""The 👍 / 👎 under each saved answer of the chat: their HTML, style and the script that sends a
click to the server (the `rate` event of the conversation panel)."""

from __future__ import annotations

from html import escape

from ui.turns import Turn

# Thumbs drawn in SVG (Feather icons, MIT): a browser without an emoji font still shows 👍 / 👎.
_THUMB = (
    '<svg viewBox="0 0 24 24" width="16" height="16" fill="none" stroke="currentColor" stroke-width="2" '
    'stroke-linecap="round" stroke-linejoin="round" aria-hidden="true"><path d="{}"/></svg>'
)
RATINGS = (
    (
        "up",
        _THUMB.format(
            "M14 9V5a3 3 0 0 0-3-3l-4 9v11h11.28a2 2 0 0 0 2-1.7l1.38-9a2 2 0 0 0-2-2.3z"
            "M7 22H4a2 2 0 0 1-2-2v-7a2 2 0 0 1 2-2h3"
        ),
        "Bonne réponse",
    ),
    (
        "down",
        _THUMB.format(
            "M10 15v4a3 3 0 0 0 3 3l4-9V2H5.72a2 2 0 0 0-2 1.7l-1.38 9a2 2 0 0 0 2 2.3z"
            "m7-13h2.67A2.31 2.31 0 0 1 22 4v7a2.31 2.31 0 0 1-2.33 2H17"
        ),
        "Mauvaise réponse",
    ),
)
RATE_CSS = """
.rate { display: flex; gap: .35rem; margin-top: .6rem; }
.rate button {
  display: inline-flex; line-height: 1; padding: .3rem .45rem; border-radius: 6px; cursor: pointer;
  background: none; border: 1px solid var(--border-color-primary); color: var(--body-text-color-subdued);
}
.rate button:hover { color: var(--body-text-color); }
.rate button[aria-pressed="true"] {
  color: var(--color-accent); border-color: var(--color-accent); background: var(--color-accent-soft);
}
"""

# A click on 👍 or 👎 sends the turn and the rating to the server.
RATE_JS = """
element.addEventListener('click', (event) => {
  const button = event.target.closest('[data-rating]');
  if (!button || !element.contains(button)) return;
  trigger('rate', {turn: Number(button.dataset.turn), rating: button.dataset.rating});
});
"""


def render_rating(index: int, turn: Turn) -> str:
    """The 👍 / 👎 of a finished, saved turn (nothing for the others)."""
    if not turn.done or turn.error or turn.turn_id is None:
        return ""
    buttons = "".join(
        f'<button type="button" class="rate-{rating}" data-turn="{index}" data-rating="{rating}" '
        f'aria-pressed="{str(turn.rating == rating).lower()}" title="{escape(label)}" '
        f'aria-label="{escape(label)}">{icon}</button>'
        for rating, icon, label in RATINGS
    )
    return f'<div class="rate" role="group" aria-label="Votre avis">{buttons}</div>'


__all__ = ["RATE_CSS", "RATE_JS", "render_rating"]
