"""The Gradio chat driven over plain HTTP as a browser drives it: log in, then ask through its
queue (`queue/join`, then the session's event stream) and read the finished turn's outputs."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

ASK = 0  # the chat's first event: a question submitted with Enter (see `ui.chat.wire`)


def login(client: httpx.Client, key: str, user: str = "lecteur") -> None:
    response = client.post("/ui/login", data={"username": user, "password": key})
    assert response.status_code == 200, response.text


def new_session() -> str:
    return uuid.uuid4().hex[:12]


def ask(client: httpx.Client, question: str, session: str) -> dict[str, Any]:
    """Ask in `session` (whose turns the server keeps); the last message of the event: its outputs
    are [question box, turns (kept by the server), conversation HTML, conversation id, side list]."""
    return run(client, ASK, [question, None, "", "", [], None], session)


def run(client: httpx.Client, fn_index: int, data: list[Any], session: str) -> dict[str, Any]:
    """Run the chat's event `fn_index` on `data` in `session`; its last message (or why it was refused)."""
    body = {
        "data": data,
        "fn_index": fn_index,
        "session_hash": session,
        "event_data": None,
        "trigger_id": None,
    }
    joined = client.post("/ui/gradio_api/queue/join", json=body)
    if joined.status_code != 200:
        return {"msg": "refused", "status": joined.status_code}
    with client.stream("GET", "/ui/gradio_api/queue/data", params={"session_hash": session}) as events:
        for line in events.iter_lines():
            if line.startswith("data:"):
                message: dict[str, Any] = json.loads(line[5:])
                if message.get("msg") == "process_completed":
                    return message
    raise AssertionError("the chat's event stream ended before the answer")


def conversation(message: dict[str, Any]) -> str:
    """The conversation HTML a finished question shows."""
    return str(message["output"]["data"][2])
