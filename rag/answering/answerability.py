"""Whether the retrieved passages answer the question: signals measured on the extractive answer, a few
of which refuse on their own (vetoes; those that read the French are in `rag.answering.vetoes`), the rest
combined by a logistic model fitted on the dev part (`python -m eval.fit_answerability`)."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.answering.vetoes import relation_missing, typed_names
from rag.errors import ConfigError
from rag.guard import hostile_spans
from rag.text import fold_word, tokens, words
from rag.types import Citation, Passage

if TYPE_CHECKING:
    from rag.answering.reading import Candidate, Reading

COEFFICIENTS = Path(__file__).with_name("answerability.json")
NAN = float("nan")
PRESENT = 0.7  # a name's credit from the sentence itself or the one before it (extractive's scale)
OVERLAP = 0.1  # under this share of the question's weight matched, BM25 found next to nothing
log = logging.getLogger(__name__)

FEATURES: dict[str, str] = {
    "best": "score of the best sentence (the extractive ranking's)",
    "margin": "its lead over the second best",
    "dense": "best cosine between the question and a sentence",
    "passage_dense": "best cosine between the question and a retrieved passage",
    "lexical": "best BM25 score of a passage over the question terms' total IDF (French questions)",
    "no_overlap": "how far that score is under 0.1: the question's words are nearly absent from the passages",
    "type_missing": "the kind of answer asked for (number, date, name...) is in no answer sentence",
    "names_missing": "share of the question's names in no answer sentence (nor the one before it)",
    "names_absent": "share of the question's names in no retrieved passage",
    "typed_names": "a name of the question is missing from the main clause of the sentence that "
    "holds the number or date asked for (« Anthropic, fondée par d'anciens d'OpenAI, a reçu 4 milliards "
    "d'Amazon » says nothing of Amazon in OpenAI)",
    "unknown": "share of the question's terms the corpus never uses",
    "instruction": "the question speaks to a model (« ignore tes instructions »), as `rag.guard` reads it",
    "coverage": "IDF share of the question's other terms found in the answer sentences",
    "unrelated": "the answer sentences share no name and no other term with the (French) question",
    "relation_missing": "a question asking for a name (« Qui a racheté Anthropic ? ») or a cause whose "
    "words other than its names (or words of the same relation) are in no sentence that holds the answer "
    "(nor the one before it): the sentence names someone, or gives a reason, but not for what was asked",
    "llm": "an LLM's verdict: +1 it answered, -1 it refused, 0 none (a slot: 0 until fitted on LLM runs)",
}


# Signals that refuse on their own, whatever the others say: a sentence that matches the question
# well but lacks the kind of fact asked for, or gives it about another name, is a confident wrong
# answer (the fit cannot learn this from 16 unanswerable questions, whose matches are weaker).
VETOES = ("type_missing", "typed_names", "names_absent", "instruction", "unrelated", "relation_missing")


@dataclass(frozen=True)
class Signals:
    """One value per feature of `FEATURES`, in that order."""

    values: tuple[float, ...]

    def as_dict(self) -> dict[str, float]:
        return dict(zip(FEATURES, self.values, strict=True))

    def vetoed(self) -> list[str]:
        """The vetoes that fire (`VETOES`)."""
        found = self.as_dict()
        return [name for name in VETOES if found[name] > 0]


@dataclass(frozen=True)
class Assessment:
    """The extractive answer (quotes, best first, with their sentence scores) and the verdict on it."""

    quotes: list[tuple[Citation, float]]
    signals: Signals
    probability: float
    answerable: bool


def measure(
    reading: Reading,
    chosen: Sequence[Candidate],
    passages: Sequence[Passage],
    *,
    llm_refused: bool | None = None,
) -> Signals:
    """The signals of one question, from its reading, the chosen sentences and the passages."""
    ranked = reading.ranked
    best = ranked[0].score if ranked else 0.0
    second = next((c.score for c in ranked[1:] if c.quote.quote != ranked[0].quote.quote), 0.0)
    idf_total = sum(reading.weights.values()) or 1.0
    names = reading.names
    in_answer = [any(c.credits and c.credits[i] >= PRESENT for c in chosen) for i in range(len(names))]
    retrieved = {w for p in passages for w in words(p.text.lower() + " " + p.title.lower())}
    retrieved = {fold_word(w) for w in retrieved}
    absent = [not (group & retrieved) for group in names]
    # The terms are stems (« leik »), the names folded words (« leike »): compare stems.
    name_terms = {t for g in names for w in g for t in tokens(w)}
    other_terms = {t: w for t, w in reading.weights.items() if t not in name_terms}
    found = {t for c in chosen for t in c.terms}
    coverage = sum(w for t, w in other_terms.items() if t in found) / (sum(other_terms.values()) or 1.0)
    best_bm25 = max((p.lexical for p in passages if p.lexical is not None), default=0.0)
    lexical = NAN if reading.english else best_bm25 / idf_total
    typed = reading.expected is None or not reading.expected.strict or any(c.typed for c in chosen)
    values = {
        "best": best,
        "margin": best - second,
        "dense": max((c.cosine for c in ranked), default=0.0),
        "passage_dense": max((p.dense for p in passages if p.dense is not None), default=0.0),
        "lexical": lexical,
        "no_overlap": NAN if reading.english else max(0.0, 1.0 - lexical / OVERLAP),
        "type_missing": 0.0 if typed else 1.0,
        "names_missing": _share(not ok for ok in in_answer),
        "names_absent": _share(absent),
        "typed_names": typed_names(reading, chosen),
        # Not measured (NaN, the model then adds nothing for them): an English question's words are
        # not the corpus's, and without an LLM there is no verdict.
        "unknown": NAN if reading.english else len(reading.unknown) / max(len(reading.weights), 1),
        "instruction": 1.0 if hostile_spans(reading.question) else 0.0,
        "coverage": NAN if reading.english else (coverage if other_terms else 1.0),
        "unrelated": NAN
        if reading.english
        else (1.0 if not any(in_answer) and other_terms and not other_terms.keys() & found else 0.0),
        "relation_missing": NAN if reading.english else relation_missing(reading, chosen),
        "llm": NAN if llm_refused is None else (-1.0 if llm_refused else 1.0),
    }
    return Signals(tuple(values[name] for name in FEATURES))


def _share(flags: Iterable[bool]) -> float:
    items = list(flags)
    return sum(items) / len(items) if items else 0.0


@dataclass(frozen=True)
class AnswerabilityModel:
    """A logistic model over standardised signals; its intercept is shifted so that a probability
    of 0.5 is the operating point chosen on the dev part."""

    bias: float
    weights: tuple[float, ...]
    means: tuple[float, ...]
    scales: tuple[float, ...]
    embed_model: str = ""

    def probability(self, signals: Signals) -> float:
        """The logistic model's probability that the passages answer; 0 when a veto fires."""
        if signals.vetoed():
            return 0.0
        return self.logistic(signals)

    def logistic(self, signals: Signals) -> float:
        z = self.bias + sum(
            w * (x - m) / s
            for w, x, m, s in zip(self.weights, signals.values, self.means, self.scales, strict=True)
            if not math.isnan(x)  # not measured: as if it had the mean value
        )
        return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))

    def to_dict(self) -> dict[str, Any]:
        return {
            "bias": self.bias,
            "weights": dict(zip(FEATURES, self.weights, strict=True)),
            "means": dict(zip(FEATURES, self.means, strict=True)),
            "scales": dict(zip(FEATURES, self.scales, strict=True)),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], embed_model: str = "") -> AnswerabilityModel:
        def column(key: str, default: float) -> tuple[float, ...]:
            return tuple(float(data[key].get(name, default)) for name in FEATURES)

        return cls(
            float(data["bias"]),
            column("weights", 0.0),
            column("means", 0.0),
            column("scales", 1.0),
            embed_model,
        )


def load_model(embed_model: str, path: Path = COEFFICIENTS) -> AnswerabilityModel:
    """The coefficients fitted for this embedding model (signals such as cosines depend on it); for
    a model fitted on none, those of the default model, with a warning."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"The answerability coefficients cannot be read ({exc}).") from exc
    models: dict[str, Any] = data["models"]
    if embed_model not in models:
        log.warning(
            "No answerability fit for the embedding model %r: using %r's; run "
            "`python -m eval.fit_answerability` with it.",
            embed_model,
            data["default"],
        )
        embed_model = data["default"]
    return AnswerabilityModel.from_dict(models[embed_model], embed_model)
