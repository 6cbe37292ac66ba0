"""The chat's saved conversations and feedback in a real headless Chromium, served by uvicorn on
127.0.0.1 with the real engine and a real SQLite file: 👎 with a comment, the right answer and its
article; the side list of past conversations; one resumed and continued. Leaves a screenshot in
artifacts/ (ui-chat-history.png)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from playwright.sync_api import Page, expect

from rag.corpus import Corpus
from rag.engine import Engine
from rag.history import LOCAL_OWNER, HistoryStore, owner_of
from tests.browser import TIMEOUT_MS, headless, open_page, screenshot
from tests.live_server import live_server
from ui.chat import mount_chat
from ui.history import ChatHistory, Logins

pytestmark = pytest.mark.browser

LEIKE = "Pourquoi Leike est-il parti ?"
AMAZON = "Combien Amazon a-t-il investi dans Anthropic ?"
FOLLOW_UP = "Et lui, il a rejoint quelle entreprise ?"
CORRECTION = "Il jugeait que la sécurité passait après les produits."
ARTICLE = "004_d6bdbc85729e3bbc.txt"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> HistoryStore:
    return HistoryStore(f"sqlite:///{tmp_path_factory.mktemp('chat') / 'history.db'}")


@pytest.fixture(scope="module")
def chat_url(chromium: str, engine: Engine, engine_corpus: Corpus, store: HistoryStore) -> Iterator[str]:
    app = FastAPI()
    mount_chat(app, engine, engine_corpus, path="/ui", history=ChatHistory(store))
    with live_server(app) as url:
        yield f"{url}/ui/"


def ask(page: Page, question: str, turn: int) -> None:
    page.locator("#question textarea").fill(question)
    page.locator("#send").click()
    expect(page.locator("#conversation .turn").nth(turn).locator(".rate button")).to_have_count(2)


def test_chat__thumbs_down_with_correction_then_resume_a_past_conversation(
    chromium: str,
    chat_url: str,
    store: HistoryStore,
) -> None:
    with headless(chromium) as browser:
        page = open_page(browser, chat_url)
        history = page.locator("#history")
        expect(history).to_be_visible()

        ask(page, LEIKE, 0)
        expect(history.get_by_label(LEIKE)).to_be_checked()
        first = page.locator("#conversation .turn").nth(0)
        first.get_by_role("button", name="Mauvaise réponse").click()
        expect(first.get_by_role("button", name="Mauvaise réponse")).to_have_attribute("aria-pressed", "true")
        form = page.locator("#feedback")
        expect(form).to_be_visible()
        page.locator("#feedback-comment textarea").fill("La réponse oublie la raison principale.")
        page.locator("#feedback-correction textarea").fill(CORRECTION)
        sources = page.locator("#feedback-sources input")
        sources.click()
        page.get_by_role("option", name=ARTICLE).first.click()
        page.keyboard.press("Escape")
        page.locator("#send-feedback").click()
        expect(page.locator("#feedback-thanks")).to_contain_text("Merci")
        expect(form).to_be_hidden()
        [entry] = store.feedback_entries()
        given = entry.feedback
        assert (given.rating, given.correction, given.sources) == ("down", CORRECTION, [ARTICLE])
        assert given.comment == "La réponse oublie la raison principale." and entry.question == LEIKE

        page.get_by_role("button", name="Nouvelle conversation").click()
        expect(page.locator("#conversation .turn")).to_have_count(0)
        ask(page, AMAZON, 0)
        expect(history.locator("label")).to_have_count(2)
        expect(history.get_by_label(AMAZON)).to_be_checked()

        history.get_by_label(LEIKE).check()  # resume the first conversation as it was left
        turns = page.locator("#conversation .turn")
        expect(turns).to_have_count(1)
        expect(turns.nth(0).locator(".answer")).to_contain_text("[1]")
        expect(turns.nth(0).get_by_role("button", name="Mauvaise réponse")).to_have_attribute(
            "aria-pressed", "true"
        )
        turns.nth(0).locator("button.source").first.click()  # its sources still open their article
        expect(page.locator("#article mark")).to_have_count(1)

        ask(page, FOLLOW_UP, 1)
        expect(turns.nth(1).locator(".searched")).to_contain_text("Recherche : Leike")
        expect(turns.nth(1).locator(".answer")).to_contain_text("Anthropic")
        page.mouse.move(0, 0)
        screenshot(page, "ui-chat-history.png")

    saved = store.list_conversations(LOCAL_OWNER)
    assert [(c.title, c.turns) for c in saved] == [(LEIKE, 2), (AMAZON, 1)]
    leike = store.get_conversation(LOCAL_OWNER, saved[0].id)
    assert [t.question for t in leike.turns] == [LEIKE, FOLLOW_UP]


def test_chat__each_login_key_sees_only_its_own_conversations(
    chromium: str,
    engine: Engine,
    engine_corpus: Corpus,
    tmp_path: Path,
) -> None:
    store = HistoryStore(f"sqlite:///{tmp_path / 'history.db'}")
    logins = Logins(["alice-key-1", "bob-key-2"])
    app = FastAPI()
    mount_chat(app, engine, engine_corpus, path="/ui", auth=logins, history=ChatHistory(store, logins.owner))
    with live_server(app) as url, headless(chromium) as browser:

        def login(user: str, key: str) -> Page:
            page = browser.new_context(locale="fr-FR").new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(f"{url}/ui/")
            page.locator("input[type=text]").first.fill(user)
            page.locator("input[type=password]").fill(key)
            page.locator("input[type=password]").press("Enter")
            expect(page.locator("#history")).to_be_visible()
            return page

        alice = login("alice", "alice-key-1")
        ask(alice, LEIKE, 0)
        expect(alice.locator("#history").get_by_label(LEIKE)).to_be_checked()
        bob = login("bob", "bob-key-2")
        expect(bob.locator("#question textarea")).to_be_visible()
        expect(bob.locator("#history label")).to_have_count(0)
        alice.reload()
        expect(alice.locator("#history label")).to_have_count(1)
    assert [c.title for c in store.list_conversations(owner_of("alice-key-1"))] == [LEIKE]
    assert store.list_conversations(owner_of("bob-key-2")) == []
