"""French text helpers: tokens, folding, sentence spans, how names and numbers are written."""

from __future__ import annotations

from rag.answering.answer_types import expectation, satisfies
from rag.claims import quantities
from rag.text import NUMBER_WORDS, fold, query_terms, sentence_spans, tokens, written_forms


def test_tokens__split_elisions_fold_accents_and_stem() -> None:
    assert tokens("L’entreprise d'OpenAI") == tokens("l'entreprise d’openai")
    assert "entrepris" in tokens("l'entreprise")
    assert tokens("sécurité") == tokens("securite")
    assert "le" not in tokens("le la les")


def test_query_terms__drop_interrogative_filler() -> None:
    assert query_terms("Combien Amazon a-t-il investi dans Anthropic ?") == ["amazon", "invest", "anthropic"]


def test_fold__ignores_case_accents_and_apostrophes() -> None:
    assert fold("Qu’À") == fold("qu'a")


def test_sentence_spans__are_exact_slices() -> None:
    text = "Titre sans point\nPremière phrase. « Deuxième » phrase ! Troisième ?\n\nFin."
    spans = sentence_spans(text, offset=10)
    assert [s.text for s in spans] == [
        "Titre sans point",
        "Première phrase.",
        "« Deuxième » phrase !",
        "Troisième ?",
        "Fin.",
    ]
    for span in spans:
        assert text[span.start - 10 : span.end - 10] == span.text


def test_written_forms__names_are_capitalised_inside_sentences_never_at_their_start() -> None:
    text = "Cependant, Jan Leike a rejoint l'équipe d'Anthropic. Peter le suit. Les experts de l'IA parlent."
    capitalised, lower = written_forms(text)
    assert capitalised == {"jan", "leike", "anthropic"}  # not « Cependant », « Peter », « Les », « IA »
    assert {"rejoint", "equipe", "suit", "experts"} <= lower and "leike" not in lower


def test_number_words__the_checker_and_the_answer_types_read_the_same_numbers() -> None:
    asked = expectation("Combien de temps est-il resté ?")
    assert asked is not None
    for word, digits in NUMBER_WORDS.items():
        assert quantities(f"{word} ans") == {digits}
        assert satisfies(asked, f"Il est resté {word} ans.", "Combien de temps est-il resté ?"), word
