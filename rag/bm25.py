"""French BM25 over the chunks in the store, built with bm25s and rebuilt when the store changes."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any

import bm25s
import numpy as np

from rag.text import tokens, written_forms

logging.getLogger("bm25s").setLevel(logging.WARNING)


class ChunkAnalyses:
    """What BM25 needs from each chunk's text (its tokens, and its words written capitalised inside a
    sentence and in lower case, each as int32 ids of a growing vocabulary), kept across rebuilds.
    Chunk ids are derived from the chunk's text, so an id's analysis never goes stale: after a
    change, a rebuild analyses only the new chunks (analysing every text was ~90% of a full
    rebuild's time)."""

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}  # BM25 tokens (folded, stemmed)
        self.words: list[str] = []  # folded words, for names
        self._word_ids: dict[str, int] = {}
        self._by_id: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def of(self, chunk_id: str, text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        found = self._by_id.get(chunk_id)
        if found is None:
            capitalised, lower = written_forms(text)
            found = (_ids(self.vocab, tokens(text)), self._words_of(capitalised), self._words_of(lower))
            self._by_id[chunk_id] = found
        return found

    def _words_of(self, found: set[str]) -> np.ndarray:
        ids = []
        for word in found:
            index = self._word_ids.get(word)
            if index is None:
                index = self._word_ids[word] = len(self.words)
                self.words.append(word)
            ids.append(index)
        return np.array(sorted(ids), dtype=np.int32)

    def keep_only(self, chunk_ids: AbstractSet[str]) -> None:
        """Forget chunks no longer stored (the vocabularies keep their words: harmless, df 0)."""
        for gone in [i for i in self._by_id if i not in chunk_ids]:
            del self._by_id[gone]


def _ids(vocab: dict[str, int], items: list[str]) -> np.ndarray:
    return np.fromiter((vocab.setdefault(t, len(vocab)) for t in items), dtype=np.int32, count=len(items))


class Bm25Index:
    """A bm25s index of chunk texts, plus document frequencies for term weighting and the corpus's
    proper names."""

    def __init__(
        self,
        rows: Iterable[tuple[str, str, Mapping[str, Any]]],
        analyses: ChunkAnalyses | None = None,
    ) -> None:
        analyses = analyses if analyses is not None else ChunkAnalyses()
        self.ids: list[str] = []
        self.texts: list[str] = []
        self.metas: list[Mapping[str, Any]] = []
        token_ids: list[np.ndarray] = []
        capitalised: list[np.ndarray] = []
        lower: list[np.ndarray] = []
        for chunk_id, text, meta in rows:
            self.ids.append(chunk_id)
            self.texts.append(text)
            self.metas.append(meta)
            ids, caps, lows = analyses.of(chunk_id, text)
            token_ids.append(ids)
            capitalised.append(caps)
            lower.append(lows)
        self.known = frozenset(self.ids)
        analyses.keep_only(self.known)
        self.files = np.array([str(m.get("file", "")) for m in self.metas], dtype=object)
        self.vocab = dict(analyses.vocab)  # a snapshot: later chunks add words to the shared one
        self._df = np.bincount(_concat([np.unique(ids) for ids in token_ids]), minlength=len(self.vocab))
        # Names of people and companies: folded words the corpus writes capitalised inside sentences
        # and never in lower case (the rule of `written_forms`, used by answerer and checker alike).
        only_capitalised = np.setdiff1d(_concat(capitalised), _concat(lower))
        self.names = frozenset(analyses.words[i] for i in only_capitalised)
        self.retriever = bm25s.BM25()
        if token_ids:
            self.retriever.index(([ids.tolist() for ids in token_ids], self.vocab), show_progress=False)

    def __len__(self) -> int:
        return len(self.ids)

    def idf(self, term: str) -> float:
        """Smoothed inverse document frequency; a term absent from the corpus gets the highest."""
        n = max(len(self.ids), 1)
        df = self.df(term)
        return math.log(1.0 + (n - df + 0.5) / (df + 0.5))

    def df(self, term: str) -> int:
        """How many chunks contain the (folded, stemmed) term."""
        index = self.vocab.get(term)
        return int(self._df[index]) if index is not None and index < len(self._df) else 0

    def search(
        self,
        query: str,
        k: int,
        files: Sequence[str] | None = None,
        allowed: Callable[[Mapping[str, Any]], bool] | None = None,
    ) -> list[tuple[int, float]]:
        """Top-k (row, score) pairs with a positive score, among the chunks of `files` whose
        metadata `allowed` lets through (the dense side's metadata filter, applied here too)."""
        if not self.ids:
            return []
        query_tokens = [t for t in tokens(query) if t in self.vocab]
        if not query_tokens:
            return []
        mask = np.isin(self.files, list(files)).astype(np.float32) if files else None
        if allowed is not None:
            kept = np.fromiter((allowed(m) for m in self.metas), dtype=np.float32, count=len(self.metas))
            mask = kept if mask is None else mask * kept
        scores = self.retriever.get_scores(query_tokens, weight_mask=mask)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        ranked = sorted(((int(i), float(scores[i])) for i in top if scores[i] > 0), key=lambda x: -x[1])
        return ranked


def _concat(arrays: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int32)
