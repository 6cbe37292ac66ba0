"""The grounding checker on the real embedder: its accuracy on the labelled pairs shipped with the
eval, the perturbations it must catch (numbers, dates, names, negations, wrong passages), sentences
that do not answer the question asked, and the sentences real LLMs wrote on the eval questions."""

from __future__ import annotations

from collections import Counter

import pytest

from eval.dataset import load_pairs
from eval.runner import check_checker
from eval.sentences import load_llm_sentences, score_sentences
from rag.claims import negation_scopes, quantities
from rag.corpus import read_text
from rag.engine import Engine
from rag.grounding import GroundingChecker, build_grounding_checker
from tests.conftest import CORPUS

TEXTS = {path.name: read_text(path) for path in sorted(CORPUS.glob("*.txt"))}
AMAZON = (
    "Anthropic, créée en 2021 par d'anciens employés et dirigeants d'OpenAI, a récemment obtenu un "
    "investissement de 4 milliards de dollars d'Amazon."
)
FIVE_MONTHS = (
    "John Schulman, chercheur de premier plan en intelligence artificielle et co-fondateur d’OpenAI, "
    "vient de quitter Anthropic après seulement cinq mois."
)
TUESDAY = (
    "L'ancien cadre d'OpenAI, Jan Leike, a annoncé mardi qu'il avait rejoint Anthropic, le rival "
    "d'OpenAI soutenu par Amazon."
)
DENG = "Deng dirigeait auparavant le développement de produits chez Meta et Uber."


@pytest.fixture(scope="module")
def checker(engine: Engine) -> GroundingChecker:
    """The checker as production verification and the eval build it, on the indexed corpus."""
    return build_grounding_checker(engine.embedder.embed_cached, engine.retriever.bm25())


def test_grounding_pairs__are_verbatim_corpus_text_and_cover_every_perturbation() -> None:
    pairs = load_pairs()
    assert len(pairs) >= 40
    for pair in pairs:
        assert all(any(p in text for text in TEXTS.values()) for p in pair.passages), pair.id
    kinds = Counter(p.kind for p in pairs)
    for kind in (
        "verbatim",
        "paraphrase",
        "number_swap",
        "date_swap",
        "name_swap",
        "negation",
        "wrong_passage",
    ):
        assert kinds[kind] >= 4, kind
    assert {p.supported for p in pairs if p.kind == "paraphrase"} == {True}


def test_checker__accuracy_on_labelled_pairs_is_at_least_the_floor(checker: GroundingChecker) -> None:
    result = check_checker(checker, load_pairs())
    assert result.accuracy >= 0.95, result.misses
    for kind in ("number_swap", "date_swap", "name_swap", "negation", "wrong_passage"):
        assert result.by_kind[kind] == 1.0, kind


@pytest.mark.parametrize(
    ("sentence", "passage", "reason"),
    [
        (AMAZON.replace("4 milliards", "6 milliards"), AMAZON, "number"),
        ("Amazon a investi 4 millions de dollars dans Anthropic.", AMAZON, "number"),
        ("Anthropic a été créée en 2019.", AMAZON, "number"),
        (FIVE_MONTHS.replace("cinq", "sept"), FIVE_MONTHS, "number"),
        (TUESDAY.replace("mardi", "jeudi"), TUESDAY, "number"),
        (DENG.replace("Meta", "Google"), DENG, "name"),
        ("Leike a quitté Anthropic après seulement cinq mois.", FIVE_MONTHS, "name"),
        ("Shulman a quitté Anthropic après seulement cinq mois.", FIVE_MONTHS, "name"),  # no such word
        ("Deng ne dirigeait pas le développement de produits chez Meta et Uber.", DENG, "negation"),
        ("Anthropic n’a obtenu aucun investissement d’Amazon.", AMAZON, "negation"),
        ("The author never wanted to work at Meta.", DENG, "negation"),
        ("Amazon a investi 4 milliards de dollars dans Anthropic.", DENG, "weak support"),
    ],
)
def test_checker__catches_perturbation(
    checker: GroundingChecker,
    sentence: str,
    passage: str,
    reason: str,
) -> None:
    verdict = checker.check(sentence, [passage])
    assert not verdict.supported
    assert any(reason in r for r in verdict.reasons), verdict.reasons


@pytest.mark.parametrize(
    "sentence",
    [
        AMAZON + " [1]",
        "Amazon a investi 4 milliards de dollars dans Anthropic.",
        "Schulman a quitté Anthropic au bout de 5 mois seulement.",
        "Anthropic a été fondée en 2021 par d'anciens employés d'OpenAI.",
    ],
)
def test_checker__supports_verbatim_and_paraphrased_sentences(
    checker: GroundingChecker,
    sentence: str,
) -> None:
    verdict = checker.check(sentence, [FIVE_MONTHS if "mois" in sentence else AMAZON])
    assert verdict.supported, verdict.reasons


def test_checker__a_capitalised_first_word_the_corpus_also_opens_sentences_with_is_no_name(
    checker: GroundingChecker,
) -> None:
    # The corpus writes « Cependant » only at the start of sentences: not a name to find in the passage.
    assert "cependant" not in checker.names and {"leike", "anthropic", "amazon"} <= checker.names
    claim = "Cependant, Anthropic a obtenu un investissement de 4 milliards de dollars d'Amazon. [1]"
    verdict = checker.check(claim, [AMAZON])
    assert verdict.supported, verdict.reasons


def test_checker__a_sentence_citing_nothing_is_unsupported(checker: GroundingChecker) -> None:
    assert checker.check("Amazon a investi 4 milliards.", []).reasons == ["no cited passage"]
    assert not checker.check(" [1]", [AMAZON]).supported


def test_checker__title_context_names_what_the_passage_calls_the_company(checker: GroundingChecker) -> None:
    passage = (
        "Le cofondateur et scientifique en chef de l’entreprise, Ilya Sutskever, a également quitté "
        "l’entreprise en mai."
    )
    claim = "Ilya Sutskever a quitté OpenAI en mai."
    title = "Deux membres clés du personnel d’OpenAI quittent l’entreprise"
    assert not checker.check(claim, [passage]).supported
    assert checker.check(claim, [passage], context=[title]).supported


def test_quantities__digits_and_words_dates_and_magnitudes_compare_equal() -> None:
    assert quantities("après seulement cinq mois") == quantities("après 5 mois") == {"5"}
    assert quantities("6 août 2024") == quantities("August 6, 2024")
    assert quantities("4 milliards de dollars") == quantities("4 billion dollars")
    assert quantities("4 000 employés") == quantities("4000 employés")


def test_negation_scopes__ne_que_is_not_a_negation_and_ne_pas_is_one() -> None:
    assert negation_scopes("Il ne reste que 3 cofondateurs.") == []
    (scope,) = negation_scopes("Son départ n’était pas dû à un manque de soutien.")
    assert {"manqu", "soutien"} <= scope


# The article on Leike joining Anthropic: it names Sutskever and Anthropic, never as founder and company.
LEIKE_ARTICLE = TEXTS["004_d6bdbc85729e3bbc.txt"]
LEIKE_TITLE = LEIKE_ARTICLE.splitlines()[0]


@pytest.mark.parametrize(
    ("question", "sentence", "reason"),
    [
        # The two hallucinations, passed as supported before the question was read.
        (
            "Quel est le salaire de Jan Leike chez Anthropic ?",
            "Le salaire de Jan Leike chez Anthropic est indiqué dans le texte. [1]",
            "never mention what was asked",
        ),
        ("Quelle entreprise Ilya Sutskever a-t-il fondée ?", "Anthropic [1]", "ties the answer"),
        ("Quelle entreprise soutient OpenAI selon l'article ?", "OpenAI.", "repeats the question"),
        ("Quand Leike a-t-il rejoint Anthropic ?", "Quand Leike a-t-il rejoint Anthropic ?", "a question"),
        (
            "Quand Sutskever a-t-il quitté OpenAI ?",
            "Jan Leike a quitté OpenAI il y a moins de deux semaines.",
            "not sutskever as asked",
        ),
    ],
)
def test_checker__a_sentence_that_does_not_answer_the_question_is_unsupported(
    checker: GroundingChecker, question: str, sentence: str, reason: str
) -> None:
    assert checker.check(sentence, [LEIKE_ARTICLE], context=[LEIKE_TITLE]).supported or "?" in sentence
    verdict = checker.check(sentence, [LEIKE_ARTICLE], context=[LEIKE_TITLE], question=question)
    assert not verdict.supported
    assert any(reason in r for r in verdict.reasons), verdict.reasons


@pytest.mark.parametrize(
    ("question", "sentence"),
    [
        ("Quelle entreprise Jan Leike a-t-il rejointe ?", "Anthropic [1]."),
        ("Combien Amazon a-t-il investi dans Anthropic ?", "4 milliards de dollars [1]."),
        (
            "Combien Amazon a-t-il investi dans Anthropic ?",
            "Amazon a investi 4 milliards de dollars dans Anthropic.",
        ),
        (
            "Pourquoi Leike est-il parti ?",
            "Il critiquait la priorité donnée aux « produits brillants » plutôt qu'à la sécurité.",
        ),
        (
            "Avec qui Leike codirigeait-il l'équipe Superalignment ?",
            "Avec le co-fondateur Ilya Sutskever [1].",
        ),
        ("Qui a rejoint Anthropic ?", "Jan Leike a rejoint Anthropic, le rival d'OpenAI."),
    ],
)
def test_checker__a_sentence_that_answers_the_question_from_its_passage_is_supported(
    checker: GroundingChecker, question: str, sentence: str
) -> None:
    verdict = checker.check(sentence, [LEIKE_ARTICLE], context=[LEIKE_TITLE], question=question)
    assert verdict.supported, verdict.reasons


def test_llm_sentences__real_llm_sentences_labelled_with_the_corpus_text_they_could_cite() -> None:
    rows = load_llm_sentences()
    assert len(rows) >= 150
    assert {r.split for r in rows} == {"dev", "test"}
    assert len({r.model for r in rows}) >= 2
    assert {r.supported for r in rows} == {True, False}
    kinds = Counter(r.kind for r in rows if not r.supported)
    assert kinds["wrong_entity"] >= 5 and kinds["absent"] >= 3  # both kinds of hallucination
    for row in rows:
        for passage in row.passages:
            assert TEXTS[passage.file][passage.char_start : passage.char_end] == passage.text, row.id


def test_checker__unsupported_llm_sentences_of_the_test_part_rarely_pass(checker: GroundingChecker) -> None:
    """On the held-out part (thresholds fitted on the dev part only): measured 0.976 recall, 0.018 of
    sentences unsupported yet passed (the target is 0.02), 0.241 false alarms. The false-alarm bound
    was 0.2 when this test was written, before the cross-lingual threshold traded false alarms for
    recall: it is 0.3 now."""
    scores = score_sentences(checker, load_llm_sentences())["test"]
    assert scores.recall is not None and scores.recall >= 0.93, scores.misses
    assert scores.reaching is not None and scores.reaching <= 0.02, scores.misses  # the target
    assert scores.false_alarm is not None and scores.false_alarm <= 0.3, scores.misses
