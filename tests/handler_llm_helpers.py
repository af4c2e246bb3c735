"""Recorded LLM calls for the handler tests: making them with the real SDKs, and what
Reconify must receive for each (``llm_recordings``: from the recording alone, never the
mapping)."""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path
from typing import Any

from reconify_otel import reconify_openai_handler
from reconify_otel.handler.openai_handler import ReconifyHandler
from reconify_otel.offline.replay import CALLS, RecordedCall, recorded_calls

from . import llm_recordings as reference
from .helpers import API_KEY, APP_KEY

SYNTHETIC = Path(__file__).parent / "fixtures" / "llm_spans" / "synthetic_exchanges.json"
# Every recorded OpenAI cassette: the handler wraps these calls on the client.
OPENAI_CASSETTES = (
    "openai__test_chat__test_chat",
    "openai__test_chat__test_chat_streaming",
    "openai__test_chat__test_chat_tool_calls",
    "openai__test_completions__test_completion",
    "openai__test_responses__test_responses",
    "openai__test_responses__test_responses_tool_calls",
)
ANTHROPIC_CASSETTES = (
    "anthropic__test_messages__test_anthropic_message_create_legacy",
    "anthropic__test_messages__test_anthropic_tools_legacy",
)


def synthetic_calls(name: str) -> list[RecordedCall]:
    """The hand-written exchanges of ``tests/fixtures/llm_spans`` as recorded calls."""
    exchanges = json.loads(SYNTHETIC.read_text())[name]
    calls = []
    for index, exchange in enumerate(exchanges):
        provider, method = CALLS[exchange["path"]]
        calls.append(
            RecordedCall(
                cassette=name,
                index=index,
                provider=provider,
                method=method,
                path=exchange["path"],
                request=exchange["request"],
                status=exchange["status"],
                body=exchange["body"].encode(),
                content_type=exchange["content_type"],
            )
        )
    return calls


def calls_of(*cassettes: str) -> list[RecordedCall]:
    found: list[RecordedCall] = []
    for name in cassettes:
        found += synthetic_calls(name) if name.startswith("synthetic__") else recorded_calls(name)
    return found


@functools.cache
def recorded_chat() -> RecordedCall:
    """One recorded, unstreamed chat completion: read on first use, not at import."""
    return next(c for c in calls_of("openai__test_chat__test_chat") if not c.streamed)


def numbered(call: RecordedCall, count: int) -> list[RecordedCall]:
    """``count`` copies of a recorded call, each answered with its own response id
    (``chat-0``, ``chat-1``...): as many distinct calls as a test needs."""
    answer_id = call.answer()["id"]  # type: ignore[index]
    return [
        dataclasses.replace(call, body=call.body.replace(answer_id.encode(), f"chat-{n}".encode()))
        for n in range(count)
    ]


def handler_for(client: Any, sink_url: str, **options: Any) -> ReconifyHandler:
    return reconify_openai_handler(
        client, app_key=APP_KEY, api_key=API_KEY, endpoint=f"{sink_url}/t", **options
    )


def create_method(client: Any, call: RecordedCall) -> Any:
    """``client.chat.completions.create`` and the like, for a recorded call."""
    found = client
    for name in call.method.split("."):
        found = getattr(found, name)
    return found


def make_call(client: Any, call: RecordedCall) -> Any:
    """The recorded call made again with the SDK; a stream is read to its end."""
    result = create_method(client, call)(**call.request)
    if call.streamed:
        return [chunk for chunk in result]
    return result


async def make_async_call(client: Any, call: RecordedCall) -> Any:
    result = await create_method(client, call)(**call.request)
    if call.streamed:
        return [chunk async for chunk in result]
    return result


def by_response_id(payloads: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    found = {p["response"]["id"]: p for p in payloads}
    assert len(found) == len(payloads), "two payloads for one call"
    return found


# --- what Reconify's modules send for a recorded call ------------------------------------


def kind(call: RecordedCall) -> dict[str, str]:
    if call.provider == "anthropic":
        return {"format": "anthropic", "type": "chat"}
    return {
        "format": "openai",
        "type": "completion" if call.method == "completions.create" else "chat",
    }


def expected_request(call: RecordedCall) -> dict[str, Any]:
    """The kwargs as sent; a Responses call in the chat shape."""
    return reference.expected_request(call.path, call.request)


def expected_response(call: RecordedCall) -> dict[str, Any]:
    """The answer as the unstreamed call returns it, in the documented shape."""
    exchange = reference.exchanges(call.cassette)[call.index]
    assert exchange["request"] == call.request
    return reference.expected_response(call.path, exchange["answer"])


def joined_chat(call: RecordedCall, first: int | None = None) -> dict[str, Any]:
    """A streamed chat answer (its first ``first`` events) joined into one completion."""
    events = call.events()[:first]
    text = "".join(
        (choice["delta"].get("content") or "") for event in events for choice in event["choices"]
    )
    finishes = [c["finish_reason"] for e in events for c in e["choices"] if c["finish_reason"]]
    usages = [e["usage"] for e in events if e.get("usage")]
    finish = finishes[-1] if finishes else None
    choice = {"index": 0, "message": {"content": text}, "finish_reason": finish}
    head = {k: events[0][k] for k in ("id", "created", "model")}
    return {**head, "choices": [choice], "usage": usages[-1] if usages else None}
