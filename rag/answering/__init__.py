"""Answerers: turn a question and retrieved passages into cited sentences."""

from rag.answering.base import Answerer, Draft, Evidence

__all__ = ["Answerer", "Draft", "Evidence"]
