"""The `[n]` citation markers of an answer text, defined once: reading them, removing them and
cutting an answer into its marked pieces, for the engine, verification and the eval alike."""

from __future__ import annotations

import re

MARKER = re.compile(r"\[(\d+)\]")
_SPACED = re.compile(rf"\s*{MARKER.pattern}")
_ONLY = re.compile(rf"^(?:{_SPACED.pattern}\s*)+[.!?]?$")
# « Phrase. [1] »: markers written after the sentence's final stop.
_AFTER_STOP = re.compile(rf"([.!?…])((?:{_SPACED.pattern})+)")
# Space after a marker, or after a marker and the stop that follows it, ends a piece.
_PIECE_END = re.compile(r"(?:(?<=\])|(?<=\][.!?]))\s+")


def markers(text: str) -> list[int]:
    """The citation numbers a text uses, in order of appearance."""
    return [int(n) for n in MARKER.findall(text)]


def strip_markers(text: str) -> str:
    """The text without its markers (and the space before each)."""
    return _SPACED.sub("", text).strip()


def only_markers(text: str) -> bool:
    """Whether the text is nothing but markers (« [2]. »): they belong to the sentence before."""
    return bool(_ONLY.match(text))


def markers_inside(answer: str) -> str:
    """« Phrase. [1] » written « Phrase [1]. », so a sentence splitter keeps a marker with its
    sentence."""
    return _AFTER_STOP.sub(r"\2\1", answer)


def marked_pieces(answer: str) -> list[str]:
    """An answer text cut after each run of markers: its sentences with their markers."""
    return [piece for piece in _PIECE_END.split(answer.strip()) if piece]


__all__ = ["MARKER", "marked_pieces", "markers", "markers_inside", "only_markers", "strip_markers"]
