"""The evidence an LLM reads instead of whole chunks: the sentences the extractive scorer ranks best,
with the neighbour a sentence needs to be understood, merged into short numbered sources. Each source
is an exact span of its file, so every citation drawn from it quotes the file exactly."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from rag.answering.base import Evidence
from rag.answering.extractive import ExtractiveAnswerer
from rag.text import fold, sentence_spans
from rag.types import Passage

# A sentence that opens on a pronoun or a connector leans on the one before it (« Il a ensuite… »).
_LEANS_BACK = re.compile(
    r"^[«\"(\s]*(?:il|elle|ils|elles|ce|cet|cette|ces|cela|ca|celui-ci|celle-ci|ceux-ci|ce dernier|"
    r"cette derniere|son|sa|ses|leur|leurs|lui|eux|mais|cependant|toutefois|pourtant|en outre|de plus|"
    r"par ailleurs|ainsi|donc|aussi|selon lui|selon elle|he|she|they|it|this|these|his|her|their|"
    r"however|but)\b"
)
MIN_SHARE = 0.4  # a sentence scoring under 0.4 of the best one is noise, not evidence
MAX_CHARS = 2200  # ~600 tokens of French: the variable part of the prompt stays short


@dataclass(frozen=True)
class _Piece:
    """A sentence span of one passage, in the passage's sentence order."""

    passage: int
    index: int
    start: int
    end: int


def _sentences(passages: Sequence[Passage]) -> list[list[tuple[int, int]]]:
    return [[(s.start, s.end) for s in sentence_spans(p.text, offset=p.char_start)] for p in passages]


def _locate(
    file: str, start: int, end: int, passages: Sequence[Passage], spans: list[list[tuple[int, int]]]
) -> _Piece | None:
    for i, passage in enumerate(passages):
        if passage.file == file and passage.char_start <= start and end <= passage.char_end:
            for j, (s, e) in enumerate(spans[i]):
                if s == start and e == end:
                    return _Piece(i, j, s, e)
    return None


def _with_neighbours(
    piece: _Piece, passages: Sequence[Passage], spans: list[list[tuple[int, int]]], leading: bool
) -> list[_Piece]:
    """The sentence, the one before when it leans back on it, and (for the leading sentences) the one
    after when it ends on a colon or the next one carries it on."""
    own = spans[piece.passage]
    text = passages[piece.passage].text
    offset = passages[piece.passage].char_start

    def sentence(j: int) -> str:
        return text[own[j][0] - offset : own[j][1] - offset]

    pieces = [piece]
    # A chunk may begin inside a sentence: such a fragment explains nothing.
    fragment = piece.index == 1 and offset > 0 and sentence(0)[:1].islower()
    if piece.index > 0 and not fragment and _LEANS_BACK.match(fold(sentence(piece.index))):
        j = piece.index - 1
        pieces.insert(0, _Piece(piece.passage, j, *own[j]))
    if piece.index + 1 < len(own) and (
        sentence(piece.index).rstrip().endswith(":")
        or (leading and _LEANS_BACK.match(fold(sentence(piece.index + 1))))
    ):
        j = piece.index + 1
        pieces.append(_Piece(piece.passage, j, *own[j]))
    return pieces


def evidence_sources(
    question: str,
    passages: Sequence[Passage],
    evidence: Evidence,
    scorer: ExtractiveAnswerer,
    *,
    sentences: int = 8,
    max_chars: int = MAX_CHARS,
) -> list[Passage]:
    """Sources for the LLM, best first: runs of consecutive sentences of one passage, each the exact
    text of its file between `char_start` and `char_end`, scored by their best sentence."""
    ranked = scorer.score(question, list(passages), evidence)
    if not ranked:
        return []
    spans = _sentences(passages)
    floor = MIN_SHARE * ranked[0].score
    runs: dict[tuple[int, int], float] = {}  # (passage, sentence index) -> score of its run's best
    chosen = 0
    for candidate in ranked:
        if chosen >= sentences or candidate.score < floor:
            break
        quote = candidate.quote
        piece = _locate(quote.file, quote.char_start, quote.char_end, passages, spans)
        if piece is None or (piece.passage, piece.index) in runs:
            continue
        chosen += 1
        for neighbour in _with_neighbours(piece, passages, spans, leading=chosen <= 2):
            runs.setdefault((neighbour.passage, neighbour.index), candidate.score)
    sources = _merge(runs, passages, spans)
    kept: list[Passage] = []
    used = 0
    for source in sources:
        if kept and used + len(source.text) > max_chars:
            continue
        kept.append(source)
        used += len(source.text)
    return kept


def _merge(
    runs: dict[tuple[int, int], float], passages: Sequence[Passage], spans: list[list[tuple[int, int]]]
) -> list[Passage]:
    """Consecutive sentences of a passage become one source; sources sorted by score, best first."""
    merged: list[list[float | int]] = []  # [score, passage index, start, end]
    for passage_index, index in sorted(runs):
        score = runs[(passage_index, index)]
        start, end = spans[passage_index][index]
        if merged and merged[-1][1] == passage_index and (passage_index, index - 1) in runs:
            merged[-1][0], merged[-1][3] = max(float(merged[-1][0]), score), end
        else:
            merged.append([score, passage_index, start, end])
    merged.sort(key=lambda run: -run[0])
    return [_source(passages[int(i)], int(s), int(e), float(score)) for score, i, s, e in merged]


def _source(passage: Passage, start: int, end: int, score: float) -> Passage:
    text = passage.text[start - passage.char_start : end - passage.char_start]
    return replace(  # the document's metadata (date, source, pages...) goes along
        passage,
        id=f"{passage.id}@{start}-{end}",
        text=text,
        char_start=start,
        char_end=end,
        score=round(score, 4),
    )


__all__ = ["evidence_sources"]
