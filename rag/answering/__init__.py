"""Answerers: turn a question and retrieved passages into cited sentences."""

from rag.answering.base import Answerer, Draft, DraftSentence, Evidence, Quote

__all__ = ["Answerer", "Draft", "DraftSentence", "Evidence", "Quote"]
