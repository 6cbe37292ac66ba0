"""The Server-Sent Events of the API, documented like FastAPI documents its own: an `itemSchema` per
event, the schema of each event's JSON `data` generated from the model that shapes it (the events of
a `/v1/chat` stream here; a completion's chunks are in `api.completions`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field, TypeAdapter

from api.schemas import ErrorOut
from rag.types import Answer, Citation, Passage


# -- `/v1/chat` with `stream: true` -----------------------------------------------------------
class RetrievalData(BaseModel):
    """Event `retrieval`: the passages the answer is drawn from (and a follow-up's standalone question)."""

    passages: list[Passage]
    standalone_question: str | None = Field(None, exclude_if=lambda q: q is None)


class DeltaData(BaseModel):
    """Event `delta`: the next piece of the answer's text."""

    text: str


class DoneData(BaseModel):
    """Event `done`: the finished answer, the object `POST /v1/chat` answers without streaming."""

    refused: bool
    timings_ms: dict[str, float]
    answer: Answer


CHAT_EVENTS: dict[str, type[Any]] = {
    "retrieval": RetrievalData,
    "delta": DeltaData,
    "citation": Citation,
    "done": DoneData,
    "error": ErrorOut,
}
"""The events of a `/v1/chat` stream, in their order (`citation` once per citation; `error` ends a
stream that fails after it started)."""


def sse_doc(events: Mapping[str, Any]) -> dict[str, Any]:
    """OpenAPI `content` of a Server-Sent Events stream: for each event name, the schema of its JSON
    data, self-contained. Lines sent without a name are events named `message`, as in browsers."""
    items = []
    for name, shape in events.items():
        data = {"type": "string", "contentMediaType": "application/json", "contentSchema": _schema(shape)}
        items.append(
            {
                "type": "object",
                "required": ["data"] if name == "message" else ["event", "data"],
                "properties": {"event": {"const": name}, "data": data},
            }
        )
    return {"text/event-stream": {"itemSchema": items[0] if len(items) == 1 else {"oneOf": items}}}


def _schema(shape: Any) -> dict[str, Any]:
    """The serialization JSON schema of `shape` with its definitions inlined (it lives inside a
    response, not in the document's components)."""
    schema = TypeAdapter(shape).json_schema(mode="serialization")
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(definitions[node["$ref"].rsplit("/", 1)[-1]])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(value) for value in node]
        return node

    return dict(resolve(schema))
