"""The HTTP side of the simulated Assistants API: the server and answer helpers it shares
with the product's recorded-conversation replay (``reconify_otel.offline.assistants``),
plus server-sent events, which only the simulation streams."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from reconify_otel.offline.assistants import (
    JSON,
    RecordedRequest,
    _Answer,
    _AssistantsServer,
    _error,
    _json_answer,
    _paginate,
)

__all__ = [
    "JSON",
    "RecordedRequest",
    "_Answer",
    "_AssistantsServer",
    "_error",
    "_json_answer",
    "_paginate",
    "_sse",
]

_SSE_TYPE = "text/event-stream; charset=utf-8"


def _sse(events: Iterable[tuple[str, Any]]) -> _Answer:
    """A whole server-sent event stream, ended with ``done``/``[DONE]`` as OpenAI does."""
    parts = [
        f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"
        for name, data in events
    ]
    parts.append("event: done\ndata: [DONE]\n\n")
    return _Answer(200, "".join(parts).encode("utf-8"), _SSE_TYPE)
