"""Real responses of the HTTP API checked against the schemas its live `/openapi.json` publishes, so
the documented contract is the enforced one: every field sent is documented, every required one is
sent, with the documented type. Streams are checked event by event against their `itemSchema`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from rag.engine import Engine
from rag.settings import Settings
from tests.conftest import api_app
from tests.live_server import live_server, sse_events

pytestmark = pytest.mark.server

LEIKE = "Pourquoi Leike est-il parti ?"
FOLLOW_UP = [
    {"role": "user", "content": LEIKE},
    {"role": "assistant", "content": "Il jugeait que la sécurité passait après les produits. [1]"},
    {"role": "user", "content": "Et lui, il a rejoint quelle entreprise ?"},
]
ARTICLE = "004_d6bdbc85729e3bbc.txt"


@pytest.fixture(scope="module")
def client(engine: Engine, engine_settings: Settings) -> Iterator[httpx.Client]:
    """The real corpus engine behind uvicorn, without keys."""
    with live_server(api_app(engine, engine_settings)) as url, httpx.Client(base_url=url, timeout=60) as c:
        yield c


@pytest.fixture(scope="module")
def openapi(client: httpx.Client) -> dict[str, Any]:
    """The document the server publishes, every object closed: a field it does not list fails."""
    return dict(closed(client.get("/openapi.json").json()))


def closed(node: Any) -> Any:
    if isinstance(node, list):
        return [closed(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: closed(value) for key, value in node.items()}
    if isinstance(node.get("properties"), dict) and "additionalProperties" not in node:
        node["additionalProperties"] = False
    return node


def documented(openapi: dict[str, Any], path: str, method: str, status: int, media: str) -> dict[str, Any]:
    content = openapi["paths"][path][method]["responses"][str(status)]["content"][media]
    return dict(content["schema"] if "schema" in content else content["itemSchema"])


def check(openapi: dict[str, Any], schema: dict[str, Any], instance: Any) -> None:
    """Validate against `schema`, its `$ref`s resolved in the published components."""
    validator = Draft202012Validator({**schema, "components": openapi["components"]})
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(instance)]
    assert not errors, errors


def check_json(openapi: dict[str, Any], path: str, method: str, response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    check(openapi, documented(openapi, path, method, response.status_code, "application/json"), body)
    return dict(body)


def check_stream(openapi: dict[str, Any], path: str, response: httpx.Response) -> list[tuple[str, Any]]:
    """Each event against the branch of the published `itemSchema` for its name (or the unnamed one)."""
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    item = documented(openapi, path, "post", 200, "text/event-stream")
    branches = {
        b["properties"].get("event", {}).get("const", "message"): b for b in item.get("oneOf", [item])
    }
    events = list(sse_events(response))
    for kind, data in events:
        if data == "[DONE]":
            continue
        assert kind in branches, f"event {kind!r} is not documented"
        check(openapi, branches[kind]["properties"]["data"]["contentSchema"], data)
    return events


def test_schema__ask_answers_the_published_answer_object(
    client: httpx.Client, openapi: dict[str, Any]
) -> None:
    body = check_json(openapi, "/v1/ask", "post", client.post("/v1/ask", json={"question": LEIKE}))
    assert body["citations"] and "standalone_question" not in body and "passages" not in body
    outside = client.post("/v1/ask", json={"question": "Quelle est la recette de la tarte Tatin ?"})
    refusal = check_json(openapi, "/v1/ask", "post", outside)
    assert refusal["refused"] and refusal["citations"] == []


def test_schema__published_answer_requires_every_field_always_sent(openapi: dict[str, Any]) -> None:
    answer = openapi["components"]["schemas"]["Answer"]
    assert set(answer["required"]) == {
        "question",
        "answer",
        "refused",
        "citations",
        "sentences",
        "timings_ms",
        "answerer",
        "path",
        "degraded",
    }
    optional = {"standalone_question", "degraded_reason", "conversation_id", "turn_id"}  # the last two: saved
    assert set(answer["properties"]) - set(answer["required"]) == optional
    verdict = openapi["components"]["schemas"]["Sentence"]["properties"]["verdict"]
    assert verdict["enum"] == ["supported", "unsupported"]


def test_schema__chat_answers_the_published_answer_object(
    client: httpx.Client, openapi: dict[str, Any]
) -> None:
    body = check_json(openapi, "/v1/chat", "post", client.post("/v1/chat", json={"messages": FOLLOW_UP}))
    assert body["standalone_question"].startswith("Leike")


def test_schema__chat_stream_events_match_their_published_schemas(
    client: httpx.Client,
    openapi: dict[str, Any],
) -> None:
    with client.stream("POST", "/v1/chat", json={"messages": FOLLOW_UP, "stream": True}) as response:
        events = check_stream(openapi, "/v1/chat", response)
    assert {kind for kind, _ in events} == {"retrieval", "delta", "citation", "done"}


def test_schema__chat_completion_matches_the_published_schema(
    client: httpx.Client,
    openapi: dict[str, Any],
) -> None:
    response = client.post("/v1/chat/completions", json={"messages": FOLLOW_UP})
    body = check_json(openapi, "/v1/chat/completions", "post", response)
    assert body["citations"] and body["standalone_question"].startswith("Leike")


def test_schema__chat_completion_chunks_match_the_published_schema(
    client: httpx.Client,
    openapi: dict[str, Any],
) -> None:
    body = {"messages": FOLLOW_UP, "stream": True}
    with client.stream("POST", "/v1/chat/completions", json=body) as response:
        events = check_stream(openapi, "/v1/chat/completions", response)
    assert events[-1][1] == "[DONE]" and events[-2][1]["citations"]


def test_schema__sources_and_their_404_match_the_published_schemas(
    client: httpx.Client,
    openapi: dict[str, Any],
) -> None:
    path = "/v1/sources/{file}"
    assert check_json(openapi, path, "get", client.get(f"/v1/sources/{ARTICLE}"))["text"]
    missing = check_json(openapi, path, "get", client.get("/v1/sources/999_nothing.txt"))
    assert missing["error"]["code"] == "not_found"


def test_schema__errors_match_the_published_error_object(
    client: httpx.Client, openapi: dict[str, Any]
) -> None:
    invalid = client.post("/v1/ask", json={"question": LEIKE, "top_k": 0})
    assert check_json(openapi, "/v1/ask", "post", invalid)["error"]["code"] == "invalid_request"


def test_schema__a_field_the_schema_does_not_list_fails_the_check(openapi: dict[str, Any]) -> None:
    """The check above can fail: an undocumented or a missing field is caught."""
    schema = documented(openapi, "/v1/sources/{file}", "get", 200, "application/json")
    with pytest.raises(AssertionError):
        check(openapi, schema, {"file": "a.txt", "title": "T", "text": "x", "path": "/srv/a.txt"})
    with pytest.raises(AssertionError):
        check(openapi, schema, json.loads('{"file": "a.txt", "title": "T"}'))
