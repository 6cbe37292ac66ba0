"""Admission of engine calls: the server's one gate and rate limiter live in `rag.admission`, shared
with the chat; the HTTP app turns their refusals into 503, 504 and 429 (`api.errors`)."""

from rag.admission import Admission, Gate, RateLimiter

__all__ = ["Admission", "Gate", "RateLimiter"]
