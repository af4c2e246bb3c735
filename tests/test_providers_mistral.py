"""Mistral calls in Reconify's ``mistral`` format (type ``chat``; its request and answer are
OpenAI's chat shape): the real ``mistralai`` SDK replaying recorded Mistral traffic on
loopback, under OpenInference's instrumentation, the SDK's own GenAI spans, and both at
once, in process and through the bridge; traceloop's spans as the real SDK 1.x wrote them
(its instrumentation cannot import the SDK this environment has). Exactly one payload per
call; expected values from the recordings alone."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconify_otel.core.mapping import Selection, map_span
from reconify_otel.core.record import SpanRecord
from reconify_otel.offline.replay import LlmReplay, RecordedCall, recorded_calls

from .framework_runs import routed
from .llm_replay import Pipeline

# The real provider SDKs under their instrumentations (.ci/run runs the group).
pytestmark = pytest.mark.providers

FIXTURES = Path(__file__).parent / "fixtures" / "providers" / "mistralai"
PLAIN, STREAMED = "test_mistralai_chat_legacy", "test_mistralai_streaming_chat_legacy"
QUESTION = [{"role": "user", "content": "Tell me a joke about OpenTelemetry"}]


def recorded(cassette: str) -> RecordedCall:
    (call,) = recorded_calls(FIXTURES / f"{cassette}.yaml")
    return call


def answered(call: RecordedCall) -> dict[str, Any]:
    """What Mistral answered, as the unstreamed call returns it (chunks joined)."""
    answer = call.answer()
    if answer is not None:
        return answer
    chunks = call.events()
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    last = chunks[-1]
    message = {"role": "assistant", "content": text}
    choice = {"index": 0, "message": message, "finish_reason": last["choices"][0]["finish_reason"]}
    return {"id": last["id"], "model": last["model"], "choices": [choice], "usage": last["usage"]}


def expected_response(call: RecordedCall, created: bool) -> dict[str, Any]:
    """The answer as the payload holds it: the chat shape's fields, ``created`` where the
    span holds the answer object (OpenInference's unstreamed call)."""
    answer = answered(call)
    choice = answer["choices"][0]
    return {
        "id": answer["id"],
        "object": "chat.completion",
        "created": answer.get("created") if created else None,
        "model": answer["model"],
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": choice["message"]["content"]},
                "finish_reason": choice["finish_reason"],
            }
        ],
        "usage": answer["usage"],
    }


@contextlib.contextmanager
def mistral_traced(pipeline: Pipeline, setup: str, replay: LlmReplay) -> Iterator[Any]:
    """The real client on the replay, traced by ``setup``: "oi", "sdk" or "oi+sdk"."""
    from mistralai.client import Mistral

    instrumentor = None
    if "oi" in setup:
        from openinference.instrumentation.mistralai import MistralAIInstrumentor

        instrumentor = MistralAIInstrumentor()
        instrumentor.instrument(tracer_provider=pipeline.provider)
    client = Mistral(api_key="test-mistral-key", server_url=replay.url)
    if "sdk" in setup:
        from mistralai.extra.observability import configure_telemetry

        configure_telemetry(client, provider=pipeline.provider)
    try:
        yield client
    finally:
        if instrumentor is not None:
            instrumentor.uninstrument()


@pytest.mark.parametrize("setup", ["oi", "sdk", "oi+sdk"])
def test_one_mistral_payload_per_call(setup: str) -> None:
    calls = [recorded(PLAIN), recorded(STREAMED)]
    with routed(True) as (sink, bridge_sink, pipeline), LlmReplay(calls) as replay:
        with mistral_traced(pipeline, setup, replay) as client:
            client.chat.complete(model="mistral-tiny", messages=QUESTION)
            for _event in client.chat.stream(model="mistral-tiny", messages=QUESTION):
                pass
        pipeline.flush()
        bridge_sink.wait_for(2, timeout=5)
        sent = [body for _path, body in replay.received]
        stats = {k: v for k, v in pipeline.exporter.stats().items() if v}
    assert [body["stream"] for body in sent] == [False, True]
    assert stats == {"accepted": 2} | ({"skipped_duplicate": 2} if setup == "oi+sdk" else {})
    plain, streamed = sink.payloads
    for payload, call, body in ((plain, calls[0], sent[0]), (streamed, calls[1], sent[1])):
        assert (payload["reconify"]["format"], payload["reconify"]["type"]) == ("mistral", "chat")
        request = {"model": body["model"], "messages": body["messages"]}
        # OpenInference records the stream flag; the SDK's own spans do not.
        if body["stream"] and setup == "oi":
            request["stream"] = True
        assert payload["request"] == request
        created = setup == "oi" and call is calls[0]
        assert payload["response"] == expected_response(call, created)
    assert [(p["request"], p["response"]) for p in bridge_sink.payloads] == [
        (p["request"], p["response"]) for p in sink.payloads
    ]


def test_traceloops_mistral_spans_and_the_sdks_own() -> None:
    """traceloop 0.62.4 with mistralai 1.12.4: its ``mistralai.chat`` span is the call; the
    SDK's own span beside it (usage, no answer, no operation name) is no second payload."""
    captured = json.loads((FIXTURES / "traceloop-mistralai-0.62.4-spans.json").read_text())
    selects = Selection()
    payloads = []
    for span in captured["spans"]:
        found = selects.classify(span["name"], span["attributes"], span["scope"])
        if found is None:
            assert span["scope"] == "mistralai_sdk_tracer"
            continue
        record = SpanRecord(
            span["name"],
            span["attributes"],
            span["start_ns"],
            span["end_ns"],
            trace_id=int(span["trace_id"], 16),
            span_id=int(span["span_id"], 16),
            scope=span["scope"],
            classification=found,
        )
        mapped = map_span(record)
        payloads.append(mapped.to_json())  # type: ignore[union-attr]
    assert len(payloads) == 2
    for payload, call in zip(payloads, (recorded(PLAIN), recorded(STREAMED)), strict=True):
        assert (payload["reconify"]["format"], payload["reconify"]["type"]) == ("mistral", "chat")
        request = {"model": "mistral-tiny", "messages": QUESTION}
        assert payload["request"] == request | ({"stream": True} if call.streamed else {})
        assert payload["response"] == expected_response(call, created=False)
