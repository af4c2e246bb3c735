"""LLM calls in the shapes the recordings alone do not show: two instrumentations on one
call, a framework's span around the provider's, a call that fails, a stream the
application abandons half way. Real SDKs, real instrumentations, the loopback replay, a
real sink; exactly one payload per call, or exactly nothing and the reason counted.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan

from reconify_otel.offline.replay import LlmReplay, RecordedCall, recorded_calls
from reconify_otel.offline.sink import ReconifySink

from .bridge_helpers import bridges
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
    method_of,
    selected,
)

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
        ("langchain-openinference", "openinference-openai-0.1.66", 0),  # not selected
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


# --- a call that fails -------------------------------------------------------------------

FIRST_OF_EACH_PROVIDER = {
    "openai": recorded_calls("openai__test_chat__test_chat")[0],
    "anthropic": recorded_calls("anthropic__test_messages__test_anthropic_message_create_legacy")[
        0
    ],
}


@pytest.mark.parametrize("tag", list(CONVENTIONS))
def test_a_failed_call_sends_nothing_and_is_counted(tag: str) -> None:
    """The provider answers 500 and the SDK raises: every convention ends its span with
    ERROR status, and Reconify's modules log nothing for a call that raised."""
    provider = "anthropic" if "anthropic" in tag else "openai"
    call = FIRST_OF_EACH_PROVIDER[provider]
    with ReconifySink() as sink, Pipeline(sink) as pipeline:
        with instrumented(pipeline.provider, tag), LlmReplay([call]) as replay:
            replay.fail_next(500)
            with pytest.raises(Exception, match="failure asked for by the test") as raised:
                make_call(call, replay)
            assert type(raised.value).__name__ == "InternalServerError"
        pipeline.flush()
        (span,) = pipeline.memory.get_finished_spans()
        assert span.status.status_code.name == "ERROR"
        assert sink.payloads == []
        assert nonzero(pipeline.exporter.stats()) == {"skipped_error_call": 1}


# --- a stream abandoned half way ---------------------------------------------------------

STREAMS = {
    "openai": recorded_calls("openai__test_chat__test_chat_streaming")[0],
    "anthropic": recorded_calls(
        "anthropic__test_messages__test_anthropic_message_streaming_legacy"
    )[0],
}
READ = 3  # events read before the application stops reading


def _partial(call: RecordedCall) -> tuple[str, dict[str, Any]]:
    """The text of the first ``READ`` events the SDK yields (it skips Anthropic's
    ``ping``), and the usage known by then."""
    events = [e for e in call.events() if e.get("type") != "ping"][:READ]
    if call.provider == "anthropic":
        text = "".join(e["delta"]["text"] for e in events if e["type"] == "content_block_delta")
        usage = next(e for e in events if e["type"] == "message_start")["message"]["usage"]
        return text, {k: usage[k] for k in ("input_tokens", "output_tokens")}
    return "".join(e["choices"][0]["delta"].get("content") or "" for e in events), {}


# What each convention does when the stream is closed unread: (span ended?, finish reason).
ABANDONED = {
    "traceloop-openai-0.62.4": (True, None),
    "openai-v2-2.4b0": (True, "error"),  # util-genai marks the unfinished answer "error"
    "openinference-openai-0.1.66": (True, None),
    "traceloop-anthropic-0.62.4": (False, None),  # the span is never ended: nothing to send
    "openinference-anthropic-3.1.0": (True, None),
}


@pytest.mark.parametrize("tag", list(CONVENTIONS))
def test_an_abandoned_stream(tag: str) -> None:
    """The application reads three events, then closes the stream. Where the convention
    ends its span, one payload is sent with what had arrived: the partial text, no
    usage (OpenInference-Anthropic: message_start's), the convention's finish reason."""
    call = STREAMS["anthropic" if "anthropic" in tag else "openai"]
    ended, finish = ABANDONED[tag]
    with ReconifySink() as sink, Pipeline(sink) as pipeline:
        with instrumented(pipeline.provider, tag), LlmReplay([call]) as replay:
            sdk_client = client(call, replay)
            with method_of(sdk_client, call)(**call.request) as stream:
                for read, _event in enumerate(stream, start=1):
                    if read == READ:
                        break
            sdk_client.close()
        pipeline.flush()
        spans = pipeline.memory.get_finished_spans()
        stats = nonzero(pipeline.exporter.stats())
        payloads = sink.payloads
    if not ended:
        assert (list(spans), payloads, stats) == ([], [], {})
        return
    (span,) = spans
    assert span.status.status_code.name != "ERROR"
    (payload,) = payloads
    assert stats == {"accepted": 1}
    text, usage = _partial(call)
    answer = payload["response"]
    assert answer["id"] == call.events()[0].get("id", call.events()[0].get("message", {}).get("id"))
    if call.provider == "anthropic":
        assert answer["content"] == [{"type": "text", "text": text}]
        assert (answer["stop_reason"], answer["usage"]) == (finish, usage)
    else:
        (choice,) = answer["choices"]
        assert choice["message"] == {"role": "assistant", "content": text}
        assert (choice["finish_reason"], answer["usage"]) == (finish, None)
