"""Core of the question-answering service: settings, retrieval, answering, citations, the engine."""

__version__ = "0.1.0"
