"""French BM25 over the chunks in the store, built with bm25s and rebuilt when the store changes."""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import bm25s
import numpy as np

from rag.text import fold, tokens

logging.getLogger("bm25s").setLevel(logging.WARNING)


class Bm25Index:
    """A bm25s index of chunk texts, plus document frequencies for term weighting."""

    def __init__(self, rows: Iterable[tuple[str, str, Mapping[str, Any]]]) -> None:
        self.ids: list[str] = []
        self.texts: list[str] = []
        self.metas: list[Mapping[str, Any]] = []
        corpus_tokens: list[list[str]] = []
        for chunk_id, text, meta in rows:
            self.ids.append(chunk_id)
            self.texts.append(text)
            self.metas.append(meta)
            corpus_tokens.append(tokens(text))
        self.files = np.array([str(m.get("file", "")) for m in self.metas], dtype=object)
        self.df: Counter[str] = Counter(t for toks in corpus_tokens for t in set(toks))
        self.names = proper_names(self.texts)
        self.retriever = bm25s.BM25()
        if corpus_tokens:
            self.retriever.index(corpus_tokens, show_progress=False)

    def __len__(self) -> int:
        return len(self.ids)

    def idf(self, term: str) -> float:
        """Smoothed inverse document frequency; a term absent from the corpus gets the highest."""
        n = max(len(self.ids), 1)
        return math.log(1.0 + (n - self.df.get(term, 0) + 0.5) / (self.df.get(term, 0) + 0.5))

    def search(self, query: str, k: int, files: Sequence[str] | None = None) -> list[tuple[int, float]]:
        """Top-k (row, score) pairs with a positive score."""
        if not self.ids:
            return []
        query_tokens = tokens(query)
        if not query_tokens:
            return []
        mask = np.isin(self.files, list(files)).astype(np.float32) if files else None
        scores = self.retriever.get_scores(query_tokens, weight_mask=mask)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        ranked = sorted(((int(i), float(scores[i])) for i in top if scores[i] > 0), key=lambda x: -x[1])
        return ranked


_CAPITALISED = re.compile(r"\b[A-ZÀ-Ý][\w-]{2,}")
_LOWER = re.compile(r"\b[a-zà-ÿ][\w-]{2,}")


def proper_names(texts: Sequence[str]) -> frozenset[str]:
    """Folded words that the corpus only ever writes capitalised: names of people and companies."""
    capitalised: set[str] = set()
    lower: set[str] = set()
    for text in texts:
        capitalised.update(fold(w) for w in _CAPITALISED.findall(text))
        lower.update(fold(w) for w in _LOWER.findall(text))
    return frozenset(capitalised - lower)
