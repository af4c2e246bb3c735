"""Exactly one payload per LLM call. Which spans ``core.dedup`` takes for one call: the
same response id, or, for a span without one, the same trace and answer text; never two
calls whose ids differ; a span that comes back (a Collector resending a batch the bridge
could not deliver) is not its own duplicate. Then with real SDKs, real instrumentations,
the loopback replay and a real sink: two calls with the same answer in one trace, two
instrumentations on one call, a framework's span around the provider's."""

from __future__ import annotations

import json
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan

from reconify_otel.core.dedup import RecentCalls, call_key
from reconify_otel.core.payload import CallKey
from reconify_otel.offline.replay import LlmReplay, recorded_calls
from reconify_otel.offline.sink import ReconifySink

from .bridge_helpers import bridges
from .handler_llm_helpers import numbered, recorded_chat
from .llm_expectations import check_call
from .llm_recordings import exchanges
from .llm_replay import (
    BRIDGE_LIMITS,
    CONVENTIONS,
    Pipeline,
    all_calls,
    client,
    envelope_of,
    expected_envelope,
    instrumented,
    make_call,
    selected,
)

TRACE = 0x4BF92F3577B34DA6A3CE929D0E0E4736
OTHER_TRACE = 0x0AF7651916CD43DD8448EB211C80319C


def chat(response_id: str | None, text: str | None, usage: int | None = 7) -> dict[str, Any]:
    """A chat payload; the id, usage and finish reason differ between conventions."""
    message = {"role": "assistant", "content": text}
    return {
        "reconify": {"format": "openai", "type": "chat"},
        "response": {
            "id": response_id,
            "choices": [{"index": 0, "message": message, "finish_reason": None}],
            "usage": {"total_tokens": usage} if usage is not None else None,
        },
    }


def seen(recent: RecentCalls, payload: dict[str, Any], trace: int = TRACE) -> bool:
    """True when ``recent`` takes the span for a call already sent."""
    kind = (payload["reconify"]["format"], payload["reconify"]["type"])
    response = payload["response"]
    return not recent.first_time(call_key(kind, response, response["id"], trace))


def test_the_same_response_id_is_one_call() -> None:
    recent = RecentCalls()
    assert not seen(recent, chat("chatcmpl-1", "Hi"))
    assert seen(recent, chat("chatcmpl-1", "Hi", usage=None), OTHER_TRACE)


def test_a_span_without_an_id_after_the_providers_span() -> None:
    recent = RecentCalls()
    assert not seen(recent, chat("chatcmpl-1", "Hi"))
    assert seen(recent, chat(None, "Hi", usage=None))  # the framework's span around it
    assert not seen(recent, chat(None, "Hi"), OTHER_TRACE)  # another trace: another call


def test_a_span_without_an_id_before_the_providers_span() -> None:
    recent = RecentCalls()
    assert not seen(recent, chat(None, "Hi", usage=None))
    assert seen(recent, chat("chatcmpl-1", "Hi"))
    # The id-less span is claimed: a second call with the same words is its own.
    assert not seen(recent, chat("chatcmpl-2", "Hi"))


def test_two_ids_are_two_calls_even_with_the_same_answer_in_one_trace() -> None:
    recent = RecentCalls()
    assert not seen(recent, chat("chatcmpl-1", "Yes"))
    assert not seen(recent, chat("chatcmpl-2", "Yes"))
    assert seen(recent, chat(None, "Yes"))


def test_spans_without_ids_or_texts_match_only_the_whole_answer() -> None:
    recent = RecentCalls()
    assert not seen(recent, chat(None, None))
    assert seen(recent, chat(None, None))
    assert not seen(recent, chat(None, None, usage=8))  # another answer: another call
    assert not seen(recent, chat("chatcmpl-1", None))  # content off: only ids can match


def test_tool_calls_and_anthropic_blocks_are_the_answer() -> None:
    recent = RecentCalls()
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather"}}
    tools = chat("chatcmpl-1", None)
    tools["response"]["choices"][0]["message"]["tool_calls"] = [call]
    assert not seen(recent, tools)
    bare = chat(None, None, usage=None)
    bare["response"]["choices"][0]["message"]["tool_calls"] = [dict(call, id="fc_1")]
    assert seen(recent, bare)
    anthropic = {"reconify": {"format": "anthropic", "type": "chat"}}
    blocks = [{"type": "text", "text": "Hi"}, {"type": "tool_use", "name": "get_weather"}]
    assert not seen(recent, dict(anthropic, response={"id": "msg_1", "content": blocks}))
    assert seen(recent, dict(anthropic, response={"id": None, "content": blocks}))


def test_the_window_forgets_the_oldest() -> None:
    recent = RecentCalls(window=2)  # two calls: four keys
    for n in range(3):
        assert not seen(recent, chat(f"chatcmpl-{n}", f"answer {n}"))
    assert len(recent) == 4
    assert not seen(recent, chat("chatcmpl-0", "answer 0"))
    assert seen(recent, chat("chatcmpl-2", "answer 2"))


# --- the same span again --------------------------------------------------------------------


def resent_chat(response_id: str | None) -> dict[str, Any]:
    message = {"role": "assistant", "content": "4"}
    return {
        "reconify": {"format": "openai", "type": "chat"},
        "response": {"id": response_id, "choices": [{"index": 0, "message": message}]},
    }


def resent_key(payload: dict[str, Any], response_id: str | None, span_id: int) -> CallKey:
    return call_key(("openai", "chat"), payload["response"], response_id, TRACE, span_id)


def first_sent(recent: RecentCalls, response_id: str | None, span_id: int) -> bool:
    return recent.first_time(resent_key(resent_chat(response_id), response_id, span_id))


def test_a_span_sent_again_is_not_its_own_duplicate() -> None:
    recent = RecentCalls()
    assert first_sent(recent, "chatcmpl-1", span_id=1)
    assert first_sent(recent, "chatcmpl-1", span_id=1)  # the Collector resent the batch
    assert not first_sent(recent, "chatcmpl-1", span_id=2)  # another instrumentation's span


def test_a_duplicates_keys_stay_with_the_span_that_was_sent() -> None:
    """A framework's span without an id was sent; the provider's span is its duplicate,
    and stays one when it comes back; the framework's span may come back."""
    recent = RecentCalls()
    assert first_sent(recent, None, span_id=1)
    assert not first_sent(recent, "chatcmpl-1", span_id=2)
    assert not first_sent(recent, "chatcmpl-1", span_id=2)
    assert first_sent(recent, None, span_id=1)
    assert not first_sent(recent, None, span_id=3)


def test_records_without_a_span_id_are_never_the_same_span() -> None:
    """The handler's records (span id 0): one call logged twice is still one call."""
    recent = RecentCalls()
    assert first_sent(recent, "chatcmpl-1", span_id=0)
    assert not first_sent(recent, "chatcmpl-1", span_id=0)


def test_the_window_stays_bounded_under_twenty_thousand_calls() -> None:
    """Two keys a call (id and answer), at most twice the window: the oldest go first."""
    recent = RecentCalls()  # the default window: 10,000 calls
    for n in range(20_000):
        payload = resent_chat(f"chatcmpl-{n}")
        payload["response"]["choices"][0]["message"]["content"] = f"answer {n}"
        assert recent.first_time(resent_key(payload, f"chatcmpl-{n}", n + 1))
    assert len(recent) == 20_000
    assert not first_sent(recent, "chatcmpl-19999", span_id=1)  # remembered: a duplicate
    assert first_sent(recent, "chatcmpl-0", span_id=1)  # forgotten


# --- with real instrumentations ------------------------------------------------------------

TRACELOOP, OFFICIAL, OPENINFERENCE = (
    "traceloop-openai-0.62.4",
    "openai-v2-2.4b0",
    "openinference-openai-0.1.66",
)


@pytest.mark.parametrize(
    ("tags", "content"),
    [
        ((TRACELOOP,), True),
        ((TRACELOOP,), False),
        ((OFFICIAL,), True),
        ((OFFICIAL,), False),
        ((OPENINFERENCE,), True),
        ((TRACELOOP, OPENINFERENCE), True),
        ((OPENINFERENCE, TRACELOOP), True),
        ((TRACELOOP, OFFICIAL), False),
        # Content hidden, OpenInference's spans carry neither the response id nor a text:
        # each is a call of its own (two of them in one trace once went as one).
        ((OPENINFERENCE,), False),
    ],
)
def test_two_calls_with_the_same_answer_in_one_trace_are_two_payloads(
    tags: tuple[str, ...], content: bool
) -> None:
    chat = recorded_chat()
    with (
        ReconifySink() as sink,
        Pipeline(sink) as pipeline,
        instrumented(pipeline.provider, *tags, content=content),
        LlmReplay(numbered(chat, 2)) as replay,
    ):
        sdk_client = client(chat, replay)
        with pipeline.provider.get_tracer("app").start_as_current_span("handle request"):
            make_call(chat, replay, sdk_client)
            make_call(chat, replay, sdk_client)
        sdk_client.close()
        pipeline.flush()
        stats = pipeline.exporter.stats()
    assert len(sink.payloads) == 2
    assert stats["skipped_duplicate"] == 2 * (len(tags) - 1)


# The instrumentation scope each convention's spans carry, to tell whose span was sent.
SCOPES = {
    "opentelemetry.instrumentation.openai.v1": "traceloop-openai-0.62.4",
    "opentelemetry.instrumentation.anthropic": "traceloop-anthropic-0.62.4",
    "openinference.instrumentation.openai": "openinference-openai-0.1.66",
    "openinference.instrumentation.anthropic": "openinference-anthropic-3.1.0",
}


def nonzero(stats: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in stats.items() if v}


# --- two instrumentations on one call --------------------------------------------------


@pytest.mark.parametrize(
    "tags",
    [
        ("traceloop-openai-0.62.4", "openinference-openai-0.1.66"),
        ("openinference-openai-0.1.66", "traceloop-openai-0.62.4"),
        ("traceloop-anthropic-0.62.4", "openinference-anthropic-3.1.0"),
    ],
    ids=["traceloop+openinference-openai", "openinference+traceloop-openai", "anthropic"],
)
def test_two_instrumentations_give_one_payload_per_call(tags: tuple[str, str]) -> None:
    """Both spans are selected and carry the provider's response id: the first finished
    (the inner wrapper's) is sent, on both routes, the other counted as a duplicate."""
    calls = [c for c in all_calls() if CONVENTIONS[tags[0]].covers(c)]
    with ReconifySink() as sink, ReconifySink() as bridge_sink, bridges(bridge_sink) as start:
        url, app = start(**BRIDGE_LIMITS)
        with Pipeline(sink, url) as pipeline, instrumented(pipeline.provider, *tags):
            for call in calls:
                with LlmReplay([call]) as replay:
                    make_call(call, replay)
                    pipeline.flush()
                spans = selected(pipeline.memory.get_finished_spans())
                assert sorted(SCOPES[s.instrumentation_scope.name] for s in spans) == sorted(tags)
                first = spans[0]  # finish order
                (payload,) = sink.payloads
                assert bridge_sink.payloads == [payload]
                kind = (payload["reconify"]["format"], payload["reconify"]["type"])
                assert envelope_of(payload) == expected_envelope(first, kind)
                tag = SCOPES[first.instrumentation_scope.name]
                exchange = exchanges(call.cassette)[call.index]
                response = payload["response"]
                check_call(payload["request"], response, response["id"], kind, tag, True, exchange)
                pipeline.memory.clear()
                sink.clear()
                bridge_sink.clear()
            stats = pipeline.exporter.stats()
        bridge_stats = app.stats()
    assert nonzero(stats) == {"accepted": len(calls), "skipped_duplicate": len(calls)}
    assert bridge_stats["accepted"] == len(calls)


# --- a framework's span around the provider's ------------------------------------------

CHAT = recorded_calls("openai__test_chat__test_chat")[0]
CHAT_ANSWER = exchanges("openai__test_chat__test_chat")[0]["answer"]
ANSWER_TEXT = CHAT_ANSWER["choices"][0]["message"]["content"]
GENAI_OUTPUT = json.dumps(
    [{"role": "assistant", "parts": [{"type": "text", "content": ANSWER_TEXT}]}]
)
# What frameworks record on their own span around the model call.
FRAMEWORK_SPANS: dict[str, tuple[str, dict[str, Any]]] = {
    # LangChain under OpenInference: an LLM span named after the LangChain class.
    "langchain-openinference": (
        "ChatOpenAI",
        {
            "openinference.span.kind": "LLM",
            "llm.model_name": "gpt-3.5-turbo",
            "llm.provider": "openai",
            "input.value": json.dumps({"messages": [[{"content": "Tell me a joke"}]]}),
            "output.value": json.dumps({"generations": [[{"text": ANSWER_TEXT}]]}),
            "llm.token_count.prompt": 15,
        },
    ),
    # A traceloop workflow (``@workflow``).
    "traceloop-workflow": (
        "joke_workflow.workflow",
        {"traceloop.span.kind": "workflow", "traceloop.entity.name": "joke_workflow"},
    ),
    # A framework following the GenAI conventions, recording the provider's response id.
    "genai-with-id": (
        "chat gpt-3.5-turbo",
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-3.5-turbo",
            "gen_ai.response.id": CHAT_ANSWER["id"],
            "gen_ai.output.messages": GENAI_OUTPUT,
        },
    ),
}
# The same without the id: the answer's text and the trace still tell it is the same call.
FRAMEWORK_SPANS["genai-without-id"] = (
    "chat gpt-3.5-turbo",
    {k: v for k, v in FRAMEWORK_SPANS["genai-with-id"][1].items() if k != "gen_ai.response.id"},
)


def _framework_call(
    tag: str, name: str, attributes: dict[str, Any]
) -> tuple[list[ReadableSpan], list[dict[str, Any]], dict[str, int]]:
    with ReconifySink() as sink, Pipeline(sink) as pipeline:
        with instrumented(pipeline.provider, tag), LlmReplay([CHAT]) as replay:
            tracer = pipeline.provider.get_tracer("a.framework")
            with tracer.start_as_current_span(name, attributes=attributes):
                make_call(CHAT, replay)
        pipeline.flush()
        return list(pipeline.memory.get_finished_spans()), sink.payloads, pipeline.exporter.stats()


@pytest.mark.parametrize(
    ("framework", "tag", "duplicates"),
    [
        # Selected by its kind, and the parent of the call that was sent: that call.
        ("langchain-openinference", "openinference-openai-0.1.66", 1),
        ("traceloop-workflow", "traceloop-openai-0.62.4", 0),  # not selected
        ("genai-with-id", "traceloop-openai-0.62.4", 1),  # selected, same id: deduplicated
        ("genai-with-id", "openinference-openai-0.1.66", 1),
        # No id: matched by the trace and the answer's text.
        ("genai-without-id", "traceloop-openai-0.62.4", 1),
        ("genai-without-id", "openinference-openai-0.1.66", 1),
    ],
)
def test_a_framework_span_around_the_call_adds_no_payload(
    framework: str, tag: str, duplicates: int
) -> None:
    spans, payloads, stats = _framework_call(tag, *FRAMEWORK_SPANS[framework])
    provider_span, framework_span = spans
    assert framework_span.name == FRAMEWORK_SPANS[framework][0]
    assert provider_span.parent is not None
    assert provider_span.parent.span_id == framework_span.context.span_id
    (payload,) = payloads
    assert envelope_of(payload) == expected_envelope(provider_span, ("openai", "chat"))
    exchange = exchanges(CHAT.cassette)[0]
    response = payload["response"]
    check_call(
        payload["request"], response, response["id"], ("openai", "chat"), tag, True, exchange
    )
    expected = {"accepted": 1} | ({"skipped_duplicate": duplicates} if duplicates else {})
    assert nonzero(stats) == expected
