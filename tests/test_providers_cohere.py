"""Cohere chat calls in Reconify's ``cohere`` format: the v1 client's keyword arguments
(``model``, ``message``) and response fields (``response_id``, ``text``, ``finish_reason``,
``meta``); a v2 call in that closest documented form. The real ``cohere`` SDK replays
recorded Cohere traffic on loopback under traceloop's instrumentation (``skip_dep_check``:
0.62.4 declares cohere < 6 and otherwise wraps nothing), OpenInference's (v2 only) and
both, in process and through the bridge. Expected values from the recordings alone."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconify_otel.offline.replay import LlmReplay, RecordedCall, recorded_calls
from reconify_otel.offline.sink import ReconifySink

from .framework_runs import routed
from .handler_llm_helpers import handler_for
from .llm_replay import Pipeline

# The real provider SDKs under their instrumentations (.ci/run runs the group).
pytestmark = pytest.mark.providers

FIXTURES = Path(__file__).parent / "fixtures" / "providers" / "cohere"
V1, V2, V2_STREAM = (
    "test_cohere_chat_legacy",
    "test_cohere_v2_chat_legacy",
    "test_cohere_v2_chat_legacy_with_streaming",
)
QUESTION = "Tell me a joke, pirate style"


def recorded(cassette: str) -> RecordedCall:
    (call,) = recorded_calls(FIXTURES / f"{cassette}.yaml")
    return call


def answered(call: RecordedCall) -> dict[str, Any]:
    """What Cohere answered: id, text, finish reason, billed units and token counts."""
    answer = call.answer()
    if call.path == "/v1/chat" and answer is not None:
        meta = answer["meta"]
        return {
            "id": answer["response_id"],
            "text": answer["text"],
            "finish_reason": answer["finish_reason"],
            "billed_units": meta["billed_units"],
            "tokens": meta["tokens"],
        }
    if answer is not None:  # v2
        text = "".join(part["text"] for part in answer["message"]["content"])
        return {
            "id": answer["id"],
            "text": text,
            "finish_reason": answer["finish_reason"],
            **answer["usage"],
        }
    events = call.events()  # a v2 stream
    end = next(e for e in events if e["type"] == "message-end")["delta"]
    deltas = [
        e["delta"]["message"]["content"]["text"] for e in events if e["type"] == "content-delta"
    ]
    start = next(e for e in events if e["type"] == "message-start")
    return {
        "id": start["id"],
        "text": "".join(deltas),
        "finish_reason": end["finish_reason"],
        **end["usage"],
    }


def expected(call: RecordedCall, counted: str, with_id: bool = True) -> dict[str, Any]:
    """The payload's ``response``: token counts as the span counts them (traceloop the
    billed units, OpenInference the model's tokens)."""
    answer = answered(call)
    return {
        "response_id": answer["id"] if with_id else None,
        "text": answer["text"],
        "finish_reason": answer["finish_reason"],
        "meta": {counted: answer[counted]},
    }


@contextlib.contextmanager
def cohere_restored() -> Iterator[None]:
    """The clients' methods put back: traceloop's ``uninstrument`` (0.62.4) unwraps
    ``"cohere.client.Client"`` as a module path, which fails quietly, and leaves its
    wrappers in place (on ``ClientV2`` over the methods it inherits from ``V2Client``,
    which OpenInference wraps: instrumented after traceloop's, OpenInference sees no call).
    """
    import cohere

    classes = (cohere.Client, cohere.ClientV2, cohere.AsyncClient, cohere.AsyncClientV2)
    saved = [(cls, dict(vars(cls))) for cls in classes]
    try:
        yield
    finally:
        for cls, before in saved:
            for name in set(vars(cls)) - set(before):  # a wrapper set over an inherited one
                delattr(cls, name)
            for name, value in before.items():
                if vars(cls).get(name) is not value and callable(value):
                    setattr(cls, name, value)


@contextlib.contextmanager
def cohere_traced(pipeline: Pipeline, setup: str) -> Iterator[None]:
    """``setup``: "tl", "oi" or "tl+oi" (OpenInference first: see ``cohere_restored``);
    every instrumentor uninstrumented after and the clients left bare."""
    with pytest.MonkeyPatch.context() as env, cohere_restored(), contextlib.ExitStack() as stack:
        env.setenv("TRACELOOP_TRACE_CONTENT", "true")
        if "oi" in setup:
            from openinference.instrumentation.cohere import CohereInstrumentor

            openinference = CohereInstrumentor()
            openinference.instrument(tracer_provider=pipeline.provider)
            stack.callback(openinference.uninstrument)
        if "tl" in setup:
            from opentelemetry.instrumentation.cohere import CohereInstrumentor as Traceloop

            traceloop = Traceloop()
            traceloop.instrument(tracer_provider=pipeline.provider, skip_dep_check=True)
            stack.callback(traceloop.uninstrument)
        yield


@pytest.mark.parametrize("setup", ["tl", "oi", "tl+oi"])
def test_one_cohere_payload_per_call(setup: str) -> None:
    import cohere

    calls = [recorded(V1), recorded(V2), recorded(V2_STREAM)]
    with routed(True) as (sink, bridge_sink, pipeline), LlmReplay(calls) as replay:
        with cohere_traced(pipeline, setup):
            v1 = cohere.Client(api_key="test-cohere-key", base_url=replay.url)
            v2 = cohere.ClientV2(api_key="test-cohere-key", base_url=replay.url)
            v1.chat(message=QUESTION, model="command")
            asked = [{"role": "user", "content": QUESTION}]
            v2.chat(model="command", messages=asked)
            for _event in v2.chat_stream(model="command", messages=asked):
                pass
        pipeline.flush()
        sent = [body for _path, body in replay.received]
        traced = calls if "tl" in setup else calls[1:]  # OpenInference wraps v2 only
        bridge_sink.wait_for(len(traced), timeout=5)
        stats = {k: v for k, v in pipeline.exporter.stats().items() if v}
    assert [body["model"] for body in sent] == ["command"] * 3
    duplicates = {"skipped_duplicate": 2} if setup == "tl+oi" else {}
    assert stats == {"accepted": len(traced)} | duplicates
    assert len(sink.payloads) == len(traced)
    for payload, call in zip(sink.payloads, traced, strict=True):
        assert (payload["reconify"]["format"], payload["reconify"]["type"]) == ("cohere", "chat")
        assert payload["request"] == {"model": "command", "message": QUESTION}
        # OpenInference's span (of a v2 call) is inside traceloop's, so it is the one sent:
        # it counts the model's tokens, and its stream span holds no id.
        by_openinference = "oi" in setup and call.path == "/v2/chat"
        counted = "tokens" if by_openinference else "billed_units"
        with_id = not (by_openinference and call.streamed)
        assert payload["response"] == expected(call, counted, with_id)
    assert [(p["request"], p["response"]) for p in bridge_sink.payloads] == [
        (p["request"], p["response"]) for p in sink.payloads
    ]


def test_log_chat_cohere_sends_the_call_as_given(sink: ReconifySink) -> None:
    """As Reconify's Cohere module: the v1 keyword arguments and the response's fields."""
    call = recorded(V1)
    answer = call.answer()
    handler = handler_for(None, sink.url)
    assert handler.log_chat(call.request, answer, 1_000, 2_000, format="cohere")
    assert handler.close(5)
    (payload,) = sink.payloads
    assert (payload["reconify"]["format"], payload["reconify"]["type"]) == ("cohere", "chat")
    assert (payload["request"], payload["response"]) == (call.request, answer)
