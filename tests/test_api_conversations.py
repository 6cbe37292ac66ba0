"""Saved conversations and feedback over real HTTP, in a real SQLite file: answers saved under their
caller's key, listed, read, continued, renamed and deleted; feedback tied to a saved answer; another
key's conversations out of reach."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from rag.engine import Engine
from rag.history import HistoryStore, owner_of
from rag.settings import Settings
from tests.conftest import api_app
from tests.live_server import live_server, sse_events

pytestmark = pytest.mark.server

ALICE, BOB = "alice-key-123", "bob-key-456"
AS_ALICE, AS_BOB = ({"Authorization": f"Bearer {k}"} for k in (ALICE, BOB))
LEIKE = "Pourquoi Leike est-il parti ?"
FOLLOW_UP = "Et lui, il a rejoint quelle entreprise ?"


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("history") / "history.db"


@pytest.fixture(scope="module")
def client(engine: Engine, engine_settings: Settings, db: Path) -> Iterator[httpx.Client]:
    settings = engine_settings.model_copy(update={"api_keys": [ALICE, BOB]})
    app = api_app(engine, settings, history=HistoryStore(f"sqlite:///{db}"))
    with live_server(app) as url, httpx.Client(base_url=url, timeout=60) as c:
        yield c


def ask(client: httpx.Client, headers: dict[str, str], question: str = LEIKE) -> dict[str, Any]:
    response = client.post("/v1/ask", json={"question": question}, headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_conversations__an_answer_is_saved_under_its_callers_key(client: httpx.Client, db: Path) -> None:
    answer = ask(client, AS_ALICE)
    assert answer["conversation_id"] and answer["turn_id"]
    listed = client.get("/v1/conversations", headers=AS_ALICE).json()
    assert listed[0]["id"] == answer["conversation_id"] and listed[0]["title"] == LEIKE
    assert listed[0]["turns"] == 1
    assert answer["conversation_id"] not in {
        c["id"] for c in client.get("/v1/conversations", headers=AS_BOB).json()
    }
    read = client.get(f"/v1/conversations/{answer['conversation_id']}", headers=AS_ALICE).json()
    saved = read["turns"][0]
    assert saved["id"] == answer["turn_id"] and saved["question"] == LEIKE
    assert saved["answer"]["citations"] == answer["citations"]
    assert [s["verdict"] for s in saved["answer"]["sentences"]] == [s["verdict"] for s in answer["sentences"]]
    stored = HistoryStore(f"sqlite:///{db}").list_conversations(owner_of(ALICE))  # in the file itself
    assert answer["conversation_id"] in {c.id for c in stored}
    assert ALICE not in db.read_bytes().decode("utf-8", "replace")  # the key itself is never stored


def test_conversations__a_streamed_chat_continues_a_saved_conversation(client: httpx.Client) -> None:
    first = ask(client, AS_ALICE)
    messages = [
        {"role": "user", "content": LEIKE},
        {"role": "assistant", "content": first["answer"]},
        {"role": "user", "content": FOLLOW_UP},
    ]
    body = {"messages": messages, "stream": True, "conversation_id": first["conversation_id"]}
    with client.stream("POST", "/v1/chat", json=body, headers=AS_ALICE) as response:
        done = list(sse_events(response))[-1][1]["answer"]
    assert done["conversation_id"] == first["conversation_id"] and done["turn_id"] != first["turn_id"]
    turns = client.get(f"/v1/conversations/{first['conversation_id']}", headers=AS_ALICE).json()["turns"]
    assert [t["question"] for t in turns] == [LEIKE, FOLLOW_UP]
    assert "Anthropic" in turns[1]["answer"]["answer"]
    theirs = client.post("/v1/chat", headers=AS_BOB, json={**body, "stream": False})
    assert theirs.status_code == 404 and theirs.json()["error"]["code"] == "not_found"


def test_conversations__rename_and_delete_only_ones_own(client: httpx.Client) -> None:
    conversation = ask(client, AS_ALICE)["conversation_id"]
    path = f"/v1/conversations/{conversation}"
    for response in (
        client.get(path, headers=AS_BOB),
        client.patch(path, json={"title": "volé"}, headers=AS_BOB),
        client.delete(path, headers=AS_BOB),
        client.get("/v1/conversations/0123456789abcdef", headers=AS_ALICE),
    ):
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    renamed = client.patch(path, json={"title": "Départ de Leike"}, headers=AS_ALICE)
    assert renamed.status_code == 200 and renamed.json()["title"] == "Départ de Leike"
    assert client.patch(path, json={"title": ""}, headers=AS_ALICE).status_code == 422
    assert client.delete(path, headers=AS_ALICE).status_code == 204
    assert client.get(path, headers=AS_ALICE).status_code == 404
    assert client.get("/v1/conversations").status_code == 401


def test_feedback__tied_to_a_saved_answer_of_the_caller(client: httpx.Client) -> None:
    answer = ask(client, AS_ALICE)
    given = {
        "turn_id": answer["turn_id"],
        "rating": "down",
        "comment": "incomplet",
        "correction": "La sécurité passait après les produits.",
        "sources": ["004_d6bdbc85729e3bbc.txt"],
    }
    response = client.post("/v1/feedback", json=given, headers=AS_ALICE)
    assert response.status_code == 200, response.text
    assert response.json()["rating"] == "down" and response.json()["created_at"]
    turn = client.get(f"/v1/conversations/{answer['conversation_id']}", headers=AS_ALICE).json()["turns"][0]
    assert turn["feedback"]["correction"] == given["correction"]
    assert turn["feedback"]["sources"] == given["sources"]
    assert client.post("/v1/feedback", json=given, headers=AS_BOB).status_code == 404
    unknown = client.post("/v1/feedback", json={**given, "sources": ["../../etc/passwd"]}, headers=AS_ALICE)
    assert unknown.status_code == 422
    assert client.post("/v1/feedback", json={**given, "rating": "meh"}, headers=AS_ALICE).status_code == 422
    up = client.post("/v1/feedback", json={"turn_id": answer["turn_id"], "rating": "up"}, headers=AS_ALICE)
    assert up.json()["rating"] == "up" and up.json()["comment"] == ""


def test_conversations__off_when_the_server_saves_nothing(engine: Engine, engine_settings: Settings) -> None:
    with live_server(api_app(engine, engine_settings)) as url, httpx.Client(base_url=url, timeout=60) as c:
        answer = c.post("/v1/ask", json={"question": LEIKE}).json()
        assert "conversation_id" not in answer and "turn_id" not in answer
        listed = c.get("/v1/conversations")
        assert listed.status_code == 404 and listed.json()["error"]["code"] == "history_disabled"
