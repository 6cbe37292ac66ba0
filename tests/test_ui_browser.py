"""The chat in a real headless Chromium, served by uvicorn on 127.0.0.1 with the real engine: a streamed
answer with its sources, an article opened with the quoted passage highlighted, a follow-up, a refusal
and a new conversation; with a real LLM (SmolLM2 on llama.cpp's server), the evidence shown while the
LLM writes and the sentences verification found unsupported marked (arbitration often answers
with the quoted evidence instead: then nothing is marked). Leaves screenshots in artifacts/
(ui-chat-answer.png, ui-chat.png, ui-chat-evidence.png, ui-chat-unsupported.png)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from fastapi import FastAPI
from playwright.sync_api import Locator, expect

from rag.conversation import Message
from rag.corpus import Corpus
from rag.engine import Engine
from rag.events import DoneEvent, Event
from rag.settings import Settings
from rag.types import REFUSAL, Answer
from tests.browser import headless, open_page, screenshot
from tests.live_server import live_server
from tests.llm_server import llama_server, require_llm_tier
from tests.test_generative import generative
from ui.chat import mount_chat
from ui.render import UNSUPPORTED_LABEL, UNSUPPORTED_NOTE

pytestmark = pytest.mark.browser

LEIKE_FILES = {"003_45baa9305485c6a1.txt", "004_d6bdbc85729e3bbc.txt"}
# Every distinct text the first answer shows (streaming cursor aside), recorded in the page as it grows.
RECORD_ANSWERS = """
window.seenAnswers = new Set();
new MutationObserver(() => {
  const answer = document.querySelector('#conversation .turn .answer');
  if (answer) window.seenAnswers.add(answer.textContent.replace('▍', '').trim());
}).observe(document.querySelector('#conversation'), {subtree: true, childList: true, characterData: true});
"""


def quoted(source: Locator) -> str:
    """The passage a listed source quotes, without its « » guillemets."""
    return source.locator("blockquote").inner_text().strip().removeprefix("« ").removesuffix(" »")


@pytest.fixture(scope="module")
def chat_url(  # chromium first: no server without it
    chromium: str,
    engine: Engine,
    engine_corpus: Corpus,
) -> Iterator[str]:
    app = FastAPI()
    mount_chat(app, engine, engine_corpus, path="/ui")
    with live_server(app) as url:
        yield f"{url}/ui/"


def test_chat__answers_cites_highlights_and_refuses_in_chromium(chromium: str, chat_url: str) -> None:
    with headless(chromium) as browser:
        page = open_page(browser, chat_url)
        expect(page.get_by_role("button", name="Pourquoi Leike est-il parti ?")).to_be_visible()
        expect(page.get_by_role("button", name="Nouvelle conversation")).to_be_visible()
        page.evaluate(RECORD_ANSWERS)

        page.locator("#question textarea").fill("Pourquoi Leike est-il parti ?")
        page.locator("#send").click()
        first = page.locator("#conversation .turn").nth(0)
        expect(first.locator("button.source").first).to_be_visible()
        expect(first.locator(".answer")).to_contain_text("[1]")
        assert len(page.evaluate("[...window.seenAnswers]")) >= 2, "the answer should appear piece by piece"

        sources = first.locator(".sources li")
        files = [sources.nth(i).locator(".file").inner_text() for i in range(sources.count())]
        assert LEIKE_FILES & set(files), files
        first.locator(".answer .marker[data-n='2']").click()  # a marker opens its source too
        expect(page.locator("#article mark")).to_have_text(quoted(sources.nth(1)))
        leike = sources.nth(next(i for i, f in enumerate(files) if f in LEIKE_FILES))
        leike.locator("button.source").click()
        mark = page.locator("#article mark")
        expect(mark).to_have_count(1)
        expect(mark).to_have_text(quoted(leike))
        expect(page.locator("#article .file")).to_have_text(leike.locator(".file").inner_text())
        assert page.locator("#article img, #article a, #article script").count() == 0
        page.mouse.move(0, 0)
        screenshot(page, "ui-chat-answer.png")

        page.locator("#question textarea").fill("Et lui, il a rejoint quelle entreprise ?")
        page.locator("#question textarea").press("Enter")
        follow = page.locator("#conversation .turn").nth(1)
        expect(follow.locator(".searched")).to_contain_text("Recherche : Leike")
        expect(follow.locator(".answer")).to_contain_text("Anthropic")

        page.locator("#question textarea").fill("Quelle est la capitale de l'Australie ?")
        page.locator("#send").click()
        refusal = page.locator("#conversation .turn").nth(2).locator(".notice.refusal")
        expect(refusal).to_contain_text(REFUSAL)
        assert page.locator("#conversation .notice.error").count() == 0
        refusal.scroll_into_view_if_needed()
        page.wait_for_timeout(500)  # let the stream's last update and the scrolling settle
        screenshot(page, "ui-chat.png")

        page.get_by_role("button", name="Nouvelle conversation").click()
        expect(page.locator("#conversation .turn")).to_have_count(0)
        expect(page.locator("#article mark")).to_have_count(0)
        page.get_by_role("button", name="Pourquoi Leike est-il parti ?").click()
        expect(page.locator("#conversation .turn .answer")).to_contain_text("[1]")
        expect(page.locator("#conversation .turn")).to_have_count(1)


# Questions SmolLM2 answers with a copied sentence first (kept by arbitration), then invented ones.
LLM_QUESTIONS = (
    "Avec quel cofondateur Leike codirigeait-il l'équipe Superalignment ?",
    "Leike a codirigé l'équipe Superalignment avec le co-fondateur Ilya Sutskever : est-ce exact ?",
)
LLM_TIMEOUT_MS = 300_000  # SmolLM2 on one thread of a busy machine
# Whether the evidence was on the page while the answer was still pending or being written.
RECORD_EVIDENCE = """
window.evidenceWhileWriting = false;
new MutationObserver(() => {
  const turn = document.querySelector('#conversation .turn');
  if (turn && turn.querySelector('.evidence li') && turn.querySelector('.pending, .answer.draft'))
    window.evidenceWhileWriting = true;
}).observe(document.querySelector('#conversation'), {subtree: true, childList: true, characterData: true});
"""


def recording(engine: Engine) -> list[Answer]:
    """The answers `engine` gives the chat, in order: its `chat_stream` still does all the work."""
    answers: list[Answer] = []
    stream = engine.chat_stream

    def chat_stream(messages: Sequence[Message], **options: Any) -> Iterator[Event]:
        for event in stream(messages, **options):
            if isinstance(event, DoneEvent):
                answers.append(event.answer)
            yield event

    engine.chat_stream = chat_stream  # type: ignore[method-assign]
    return answers


@pytest.fixture(scope="module")
def llm_chat(
    chromium: str, engine: Engine, engine_settings: Settings, engine_corpus: Corpus
) -> Iterator[tuple[str, list[Answer]]]:
    """The chat on a generative engine (SmolLM2 behind llama.cpp's server on 127.0.0.1, greedy), and
    the answers it gets from the engine."""
    with llama_server(require_llm_tier()) as llm:
        gen = generative(engine, engine_settings, llm.base_url, llm_temperature=0.0, llm_max_tokens=120)
        answers = recording(gen)
        app = FastAPI()
        mount_chat(app, gen, engine_corpus, path="/ui")
        with live_server(app) as url:
            yield f"{url}/ui/", answers


@pytest.mark.llm
def test_chat__shows_evidence_while_the_llm_writes_and_marks_what_verification_found(
    chromium: str, llm_chat: tuple[str, list[Answer]]
) -> None:
    url, answers = llm_chat
    with headless(chromium) as browser:
        page = open_page(browser, url, timeout_ms=LLM_TIMEOUT_MS)
        expect(page.locator("#conversation .welcome")).to_be_visible()
        page.evaluate(RECORD_EVIDENCE)
        turn = page.locator("#conversation .turn").nth(0)
        marked_any = False
        for i, question in enumerate(LLM_QUESTIONS):  # each in a new conversation: no follow-up rewriting
            if i:
                page.get_by_role("button", name="Nouvelle conversation").click()
                expect(page.locator("#conversation .turn")).to_have_count(0)
            page.locator("#question textarea").fill(question)
            page.locator("#send").click()
            expect(turn.locator(".evidence li").first).to_be_visible(timeout=LLM_TIMEOUT_MS)
            if not i:
                screenshot(page, "ui-chat-evidence.png")
            expect(turn.locator(".sources, .notice")).to_be_visible(timeout=LLM_TIMEOUT_MS)
            expect(turn.locator(".evidence")).to_have_count(0)
            assert page.evaluate("window.evidenceWhileWriting"), (
                "the evidence should show while the LLM writes"
            )
            # The chat marks exactly the sentences verification found unsupported in the answer it got.
            answer = answers[-1]
            unsupported = [s.text for s in answer.sentences if s.verdict == "unsupported"]
            marked = turn.locator(".answer .unsupported")
            expect(marked).to_have_count(len(unsupported))
            for n, text in enumerate(unsupported):
                expect(marked.nth(n)).to_contain_text(text)
                expect(marked.nth(n).locator(".verdict")).to_have_text(UNSUPPORTED_LABEL)
            note = turn.locator(".unsupported-note")
            expect(note).to_have_count(1 if unsupported else 0)
            if unsupported:
                expect(note).to_have_text(UNSUPPORTED_NOTE)
            shown = turn.locator(".answer").inner_text() if not answer.refused else ""
            assert all(s.text in shown for s in answer.sentences)
            if unsupported and not marked_any:
                marked_any = True
                marked.first.scroll_into_view_if_needed()
                page.mouse.move(0, 0)
                page.wait_for_timeout(300)
                screenshot(page, "ui-chat-unsupported.png")
