"""The chat's HTML: hostile article, question and answer text is escaped, never active markup; the
highlight covers exactly the quoted span; refusals and errors read as notices; unsupported sentences
are marked; the evidence shows while the answer is written."""

from __future__ import annotations

from html import unescape
from html.parser import HTMLParser

import pytest

from rag.types import REFUSAL, Citation, Passage, Sentence
from tests.conftest import CORPUS
from ui.render import (
    EVIDENCE_LABEL,
    UNSUPPORTED_LABEL,
    UNSUPPORTED_NOTE,
    render_article,
    render_conversation,
    render_turn,
)
from ui.turns import Turn

HOSTILE = (
    'Titre <img src=http://x onerror="alert(1)"> fin.\n'
    '<a href="javascript:alert(2)">cliquez</a> <script>alert(3)</script> & « guillemets »'
)
ALLOWED_TAGS = {"div", "p", "span", "strong", "br", "button", "ol", "li", "blockquote", "mark", "article"}
ALLOWED_ATTRS = {"class", "role", "type", "tabindex", "data-turn", "data-n", "title"}


class Tags(HTMLParser):
    """Every start tag of a document, with its attributes."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def assert_inert(html: str) -> None:
    for tag, attrs in Tags(html).tags:
        assert tag in ALLOWED_TAGS, f"unexpected <{tag}> in {html!r}"
        assert set(attrs) <= ALLOWED_ATTRS, f"unexpected attributes {attrs} on <{tag}>"
        assert not any("javascript:" in (value or "") for value in attrs.values())


def citation(text: str, quote: str, n: int = 1, file: str = "999_hostile.txt") -> Citation:
    start = text.index(quote)
    return Citation(n, file, "Titre <b>gras</b>", quote, start, start + len(quote), 0.9)


def marked(html: str) -> str:
    return unescape(html.split("<mark>", 1)[1].split("</mark>", 1)[0])


def test_render_article__hostile_text_is_escaped_not_markup() -> None:
    html = render_article(HOSTILE, "Titre <img src=x>", citation(HOSTILE, '<a href="javascript:alert(2)">'))
    assert_inert(html)
    assert "&lt;img src=http://x onerror=&quot;alert(1)&quot;&gt;" in html
    assert "&lt;script&gt;alert(3)&lt;/script&gt;" in html
    assert "<img" not in html and "<a " not in html and "<script" not in html
    assert marked(html) == '<a href="javascript:alert(2)">'


def test_render_article__highlight_covers_exactly_the_quoted_span() -> None:
    text = (CORPUS / "004_d6bdbc85729e3bbc.txt").read_text(encoding="utf-8")
    quote = "La décision de Leike fait suite à une série de départs notables d'OpenAI."
    html = render_article(text, "Titre", citation(text, quote, file="004_d6bdbc85729e3bbc.txt"))
    before, _, rest = html.partition("<mark>")
    assert html.count("<mark>") == 1
    assert marked(html) == quote
    assert unescape(before.rsplit('<div class="article-text">', 1)[1]) == text[: text.index(quote)]
    assert unescape(rest.partition("</mark>")[2]).startswith(text[text.index(quote) + len(quote) :][:40])


@pytest.mark.parametrize("span", [(5000, 5100), (30, 10)])
def test_render_article__span_outside_the_text_shows_it_unmarked(span: tuple[int, int]) -> None:
    html = render_article("Un court article.", "Titre", Citation(1, "f.txt", "Titre", "x", *span, 0.5))
    assert "<mark>" not in html
    assert "Un court article." in html


def test_render_conversation__hostile_question_answer_and_sources_stay_text() -> None:
    turn = Turn(
        question="<img src=http://x> ?",
        answer="Réponse <a href=javascript:alert(1)>ici</a>. [1] [7]",
        citations=[citation(HOSTILE, "<script>alert(3)</script>", file='f"><img src=x>.txt')],
        done=True,
    )
    html = render_conversation([turn])
    assert_inert(html)
    assert "&lt;img src=http://x&gt; ?" in html
    assert "&lt;a href=javascript:alert(1)&gt;ici&lt;/a&gt;" in html
    assert "&lt;script&gt;alert(3)&lt;/script&gt;" in html


def test_render_turn__markers_open_their_source_and_sources_list_file_title_quote() -> None:
    quote = "Leike a démissionné."
    turn = Turn("Pourquoi ?", answer=f"{quote} [1] Autre. [2]", citations=[citation(quote, quote)], done=True)
    html = render_turn(3, turn)
    assert 'role="button" tabindex="0" class="marker" data-turn="3" data-n="1"' in html
    assert '<span class="marker">[2]</span>' in html  # no citation 2: nothing to open
    assert 'class="source" data-turn="3" data-n="1"' in html
    assert "999_hostile.txt" in html and "Titre &lt;b&gt;gras&lt;/b&gt;" in html
    assert f"« {quote} »" in html


def test_render_turn__refusal_is_a_neutral_notice_not_an_error() -> None:
    html = render_turn(0, Turn("Capitale de l'Australie ?", answer=REFUSAL, refused=True, done=True))
    assert 'class="notice refusal"' in html and REFUSAL in html
    assert "error" not in html and "sources" not in html


def test_render_turn__error_is_shown_as_its_message() -> None:
    html = render_turn(0, Turn("?", error="Les articles ne sont pas encore indexés.", done=True))
    assert 'class="notice error" role="alert"' in html
    assert "Les articles ne sont pas encore indexés." in html


def test_render_turn__searched_question_shown_only_when_it_differs() -> None:
    first = render_turn(0, Turn("Pourquoi Leike est-il parti ?", searched="Pourquoi Leike est-il parti ?"))
    follow = render_turn(1, Turn("Et lui ?", searched="Leike : Et lui ?"))
    assert "Recherche :" not in first
    assert '<p class="searched">Recherche : Leike : Et lui ?</p>' in follow


def test_render_turn__pending_then_streaming_cursor_until_done() -> None:
    assert "Recherche dans les articles…" in render_turn(0, Turn("Question ?"))
    assert 'class="cursor"' in render_turn(0, Turn("Question ?", answer="Début"))
    assert 'class="cursor"' not in render_turn(0, Turn("Question ?", answer="Fin.", done=True))


def passage(text: str, file: str = "004_d6bdbc85729e3bbc.txt") -> Passage:
    return Passage(f"{file}:0", file, "Titre <i>article</i>", text, 0, len(text), 0.5)


def test_render_turn__unsupported_sentence_is_marked_in_words_and_supported_one_is_not() -> None:
    quote = "Leike a démissionné."
    sentences = [
        Sentence(quote, (1,)),
        Sentence("Son salaire est de <b>3 M$</b>.", verdict="unsupported"),
    ]
    turn = Turn(
        "Pourquoi ?",
        answer=f"{quote} [1] Son salaire est de <b>3 M$</b>.",
        citations=[citation(quote, quote)],
        sentences=sentences,
        done=True,
    )
    html = render_turn(0, turn)
    assert_inert(html)
    unsupported = html.split('<span class="unsupported"', 1)[1].split("</span></span>", 1)[0]
    assert "Son salaire est de &lt;b&gt;3 M$&lt;/b&gt;." in unsupported and UNSUPPORTED_LABEL in unsupported
    assert quote not in unsupported and html.count('class="unsupported"') == 1
    assert 'data-turn="0" data-n="1"' in html  # the supported sentence keeps its marker button
    assert UNSUPPORTED_NOTE in html


def test_render_turn__rendered_sentences_read_as_the_answer_text() -> None:
    quote = "Leike a démissionné."
    answer = f"{quote} [1] Il a rejoint Anthropic. [1][2]"
    sentences = [Sentence(quote, (1,)), Sentence("Il a rejoint Anthropic.", (1, 2))]
    turn = Turn("?", answer=answer, citations=[citation(quote, quote)], sentences=sentences, done=True)
    from_sentences = render_turn(0, turn)
    from_text = render_turn(0, Turn("?", answer=answer, citations=turn.citations, done=True))
    assert from_sentences == from_text
    assert UNSUPPORTED_NOTE not in from_sentences and 'class="unsupported"' not in from_sentences


def test_render_turn__evidence_is_shown_while_the_answer_is_written_then_sources_replace_it() -> None:
    evidence = [passage("Leike a démissionné <script>x</script>."), passage("Anthropic, créée en 2021.")]
    waiting = render_turn(0, Turn("Pourquoi ?", passages=evidence))
    writing = render_turn(0, Turn("Pourquoi ?", answer="Leike a", passages=evidence))
    for html in (waiting, writing):
        assert_inert(html)
        assert EVIDENCE_LABEL in html and html.count("<blockquote>") == 2
        assert "Leike a démissionné &lt;script&gt;x&lt;/script&gt;." in html
        assert "Titre &lt;i&gt;article&lt;/i&gt;" in html
    assert 'class="answer draft"' in writing
    quote = "Leike a démissionné."
    done = render_turn(
        0,
        Turn(
            "Pourquoi ?",
            answer=f"{quote} [1]",
            citations=[citation(quote, quote)],
            passages=evidence,
            done=True,
        ),
    )
    assert EVIDENCE_LABEL not in done and "draft" not in done and 'class="sources"' in done
