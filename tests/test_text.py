from rag.text import fold, query_terms, sentence_spans, tokens


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
        "Titre sans point", "Première phrase.", "« Deuxième » phrase !", "Troisième ?", "Fin.",
    ]
    for span in spans:
        assert text[span.start - 10 : span.end - 10] == span.text
