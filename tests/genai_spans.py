"""GenAI spans as the instrumentations record them, built by hand for the mapping tests of
the provider formats (``test_providers_review*``): the record, its mapping, the messages."""

from __future__ import annotations

import json
from typing import Any

from reconify_otel.core.interaction import Interaction
from reconify_otel.core.mapping import map_span
from reconify_otel.core.record import SpanRecord

TRACE = 0x4BF92F3577B34DA6A3CE929D0E0E4736
START_NS, END_NS = 1_774_963_843_000_000_000, 1_774_963_845_000_000_000
OFFICIAL = "opentelemetry.instrumentation.google_genai"
GEMINI_SPAN = {
    "gen_ai.operation.name": "generate_content",
    "gen_ai.provider.name": "gcp.gen_ai",
    "gen_ai.request.model": "gemini-2.5-flash",
}
COHERE_SPAN = {
    "gen_ai.operation.name": "chat",
    "gen_ai.system": "cohere",
    "gen_ai.request.model": "command",
}


def record(
    attrs: dict[str, Any], span_id: int = 1, parent: int = 0, scope: str = OFFICIAL
) -> SpanRecord:
    return SpanRecord(
        name="generate_content gemini-2.5-flash",
        attributes=attrs,
        start_ns=START_NS,
        end_ns=END_NS,
        trace_id=TRACE,
        span_id=span_id,
        parent_span_id=parent,
        scope=scope,
    )


def mapped(attrs: dict[str, Any]) -> Interaction:
    found = map_span(record(attrs))
    assert isinstance(found, Interaction), found
    return found


def messages(*entries: tuple[str, list[dict[str, Any]]]) -> str:
    return json.dumps([{"role": role, "parts": parts} for role, parts in entries])


def text(content: str) -> dict[str, Any]:
    return {"type": "text", "content": content}
