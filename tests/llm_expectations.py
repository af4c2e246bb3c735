"""How a mapped LLM call must compare with its recording, for every convention.

``check_call`` is the one comparison, shared by the unit tests of the pure mapping (spans
captured in ``tests/fixtures/llm_spans``) and the end-to-end tests (payloads a sink
received): every value equals what was sent or answered (``llm_recordings``), and what a
convention does not record (``LACKS``) is ``None``/absent, never invented.
"""

from __future__ import annotations

import json
from typing import Any

from .llm_recordings import events, expected_request, expected_response

# Fields each capture leaves out (see tests/fixtures/llm_spans/README.md): they must map to
# None / absent.
LACKS: dict[str, set[str]] = {
    "traceloop-openai-0.62.4": {"created", "call_ids", "image_detail"},
    "traceloop-openai-0.54.0": {"created", "call_ids", "history_items", "finish:responses"},
    "traceloop-anthropic-0.62.4": set(),
    "traceloop-anthropic-0.53.4": {"max_tokens", "stream_usage"},
    "openai-v2-2.4b0": {"created", "list_content", "tools", "user", "stream", "finish:stream"},
    "openinference-openai-0.1.66": set(),
    "openinference-anthropic-3.1.0": set(),
}
CONTENT_OFF_LACKS = {
    "traceloop-openai-0.54.0": {"finish"},
    "traceloop-anthropic-0.53.4": {"finish"},
    "openinference-openai-0.1.66": {"id", "created", "finish:responses"},
    "openinference-anthropic-3.1.0": {"id"},
}


def check_call(
    request: dict[str, Any],
    response: dict[str, Any],
    response_id: str | None,
    kind: tuple[str, str],
    tag: str,
    content: bool,
    exchange: dict[str, Any],
) -> None:
    """Assert that a mapped call (``request``, ``response``, the call's response id and
    its (format, type)) is the recorded ``exchange`` as convention ``tag`` records it
    (``-nocontent``: captured with the convention's content switch off); ``content``:
    whether texts are expected at all (False also for the exporter's own switch)."""
    base = tag.removesuffix("-nocontent")
    recorded_without_content = tag != base
    lacks = LACKS[base] | (
        CONTENT_OFF_LACKS.get(base, set()) if recorded_without_content else set()
    )
    api, body = exchange["path"], exchange["request"]
    want_request = expected_request(api, body)
    want = expected_response(api, exchange["answer"])
    streamed = body.get("stream") is True

    assert kind == (
        "anthropic" if api.endswith("/messages") else "openai",
        "completion" if api.endswith("/completions") and "chat" not in api else "chat",
    )
    got = response

    # ids, model, created
    assert response_id == (None if "id" in lacks else want["id"])
    assert got["id"] == response_id
    lost_model = "stream_usage" in lacks and streamed
    assert got["model"] == (None if lost_model else want["model"])
    if "object" in want:
        assert got["object"] == want["object"]
        assert got["created"] == (None if "created" in lacks else want["created"])

    # usage
    if api.endswith("/messages"):
        want_usage = want["usage"]
        if streamed and "stream_usage" in lacks:
            want_usage = None
        elif streamed and base == "traceloop-anthropic-0.62.4":
            # Upstream defect: message_start's output_tokens added to message_delta's total.
            summed = _anthropic_summed_output(exchange["raw"])
            assert summed > want_usage["output_tokens"]
            want_usage = dict(want_usage, output_tokens=summed)
        assert got["usage"] == want_usage
        finish_key, got_finish, want_finish = "finish", got["stop_reason"], want["stop_reason"]
    else:
        assert got["usage"] == want["usage"]
        assert len(got["choices"]) == len(want["choices"])
        finish_key = "finish"
        got_finish = got["choices"][0]["finish_reason"]
        want_finish = want["choices"][0]["finish_reason"]
    lost_finish = (
        finish_key in lacks
        or (api.endswith("/responses") and "finish:responses" in lacks)
        or (streamed and "finish:stream" in lacks and recorded_without_content)
    )
    assert got_finish == (None if lost_finish else want_finish)

    # the answer's content
    if api.endswith("/messages"):
        assert got["content"] == (want["content"] if content else None)
    elif api.endswith("/completions") and "chat" not in api:
        assert [c["text"] for c in got["choices"]] == [
            c["text"] if content else None for c in want["choices"]
        ]
    else:
        for mine, theirs in zip(got["choices"], want["choices"], strict=True):
            assert mine["message"]["content"] == (theirs["message"]["content"] if content else None)
            calls = theirs["message"].get("tool_calls") if content else None
            if calls and "call_ids" in lacks and api.endswith("/responses"):
                ids = [
                    i["id"] for i in exchange["answer"]["output"] if i["type"] == "function_call"
                ]
                calls = [dict(c, id=i) for c, i in zip(calls, ids, strict=True)]
            assert args_parsed(mine["message"].get("tool_calls")) == args_parsed(calls)

    # the request: model always; content as sent (or None); no parameter invented
    assert request["model"] == body["model"]
    content_key = "prompt" if "prompt" in want_request else "messages"
    if not content:
        assert request[content_key] is None
        assert "tools" not in request and "system" not in request
    elif base.startswith("openinference"):
        assert request == want_request
    elif content_key == "prompt":
        assert request["prompt"] == want_request["prompt"]
    else:
        assert _messages(request, base, api) == _messages(want_request, base, api)
        if "system" in want_request:
            assert request["system"] == want_request["system"]
    for key, value in request.items():
        if key in ("model", "messages", "prompt", "system"):
            continue
        assert value == want_request[key], key
    if "max_tokens" in body and "max_tokens" not in lacks:
        assert request["max_tokens"] == body["max_tokens"]
    if streamed and "stream" not in lacks:
        assert request["stream"] is True


def args_parsed(calls: list[dict[str, Any]] | None) -> list[Any] | None:
    """Tool calls with parsed arguments: an instrumentation that parsed them cannot give
    back the original spacing, only the same JSON value."""
    if calls is None:
        return None
    return [
        dict(c, function=dict(c["function"], arguments=json.loads(c["function"]["arguments"])))
        for c in calls
    ]


def _anthropic_summed_output(raw: str) -> int:
    """What traceloop-anthropic 0.62 reports for a stream: message_start's output_tokens
    plus message_delta's (which is already the total)."""
    recorded = events(raw)
    start = next(e for e in recorded if e["type"] == "message_start")["message"]["usage"]
    end = next(e for e in recorded if e["type"] == "message_delta")["usage"]
    return int(start["output_tokens"]) + int(end["output_tokens"])


def _messages(request: dict[str, Any], base: str, api: str) -> list[dict[str, Any]]:
    """Messages compared by value: tool-call arguments parsed; what a convention is known
    not to record (list content, function-call history, item ids) set to what it gives."""
    result = []
    for message in request["messages"]:
        message = dict(message)
        if message.get("tool_calls"):
            message["tool_calls"] = args_parsed(message["tool_calls"])
            if base.startswith("traceloop-openai") and api.endswith("/responses"):
                message["tool_calls"] = [
                    dict(c, id="<item or call id>") for c in message["tool_calls"]
                ]
        if "list_content" in LACKS[base] and isinstance(message.get("content"), list):
            message["content"] = None
        if "image_detail" in LACKS[base] and isinstance(message.get("content"), list):
            message["content"] = [_without_detail(part) for part in message["content"]]
        result.append(message)
    if "history_items" in LACKS[base] and api.endswith("/responses"):
        result = [m for m in result if m["role"] in ("system", "user") and "tool_calls" not in m]
    return result


def _without_detail(part: dict[str, Any]) -> dict[str, Any]:
    if part.get("type") != "image_url":
        return part
    return dict(part, image_url={"url": part["image_url"]["url"]})
