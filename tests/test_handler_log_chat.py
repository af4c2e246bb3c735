"""``handler.log_chat(request, response, started_ms, ended_ms, format)``: Reconify's
universal ``logChat``, giving the payload the exporter sends for the same call."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from typing import Any

import pytest
from anthropic import Anthropic
from openai import OpenAI
from opentelemetry.instrumentation.anthropic import AnthropicInstrumentor
from opentelemetry.instrumentation.openai import OpenAIInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from reconify_otel import ReconifySpanExporter
from reconify_otel.handler.openai_handler import ReconifyHandler
from reconify_otel.offline.replay import LlmReplay, RecordedCall
from reconify_otel.offline.sink import ReconifySink

from .handler_llm_helpers import (
    ANTHROPIC_CASSETTES,
    by_response_id,
    calls_of,
    create_method,
    expected_request,
    expected_response,
    handler_for,
    recorded_chat,
)
from .helpers import API_KEY, APP_KEY


@functools.cache
def parity_calls() -> list[RecordedCall]:
    """One call of each kind whose every field traceloop records (but ``created``)."""
    return [
        calls_of("openai__test_chat__test_chat")[0],
        calls_of("openai__test_completions__test_completion")[0],
        calls_of("openai__test_responses__test_responses")[0],
        *(calls_of(name)[0] for name in ANTHROPIC_CASSETTES),
    ]


STARTED_MS, ENDED_MS = 1_774_963_843_123, 1_774_963_844_456


@pytest.fixture
def handler(sink: ReconifySink) -> Iterator[ReconifyHandler]:
    made = handler_for(None, sink.url)
    yield made
    made.close(timeout=2)


def sdk_call(call: RecordedCall, openai_client: OpenAI, anthropic_client: Anthropic) -> Any:
    client = anthropic_client if call.provider == "anthropic" else openai_client
    return create_method(client, call)(**call.request)


def replayed(calls: list[RecordedCall], traced_to: ReconifySink | None = None) -> list[Any]:
    """The SDKs' answers to ``calls``; traced by traceloop and exported to ``traced_to``."""
    provider = TracerProvider()
    instrumentors = [OpenAIInstrumentor(), AnthropicInstrumentor()]
    if traced_to is not None:
        exporter = ReconifySpanExporter(f"{traced_to.url}/t", APP_KEY, API_KEY)
        provider.add_span_processor(BatchSpanProcessor(exporter))
        for instrumentor in instrumentors:
            instrumentor.instrument(tracer_provider=provider)
    try:
        with LlmReplay(calls) as replay:
            openai_client = OpenAI(base_url=replay.base_url, api_key="sk-test")
            anthropic_client = Anthropic(base_url=replay.url, api_key="sk-ant-test")
            return [sdk_call(call, openai_client, anthropic_client) for call in calls]
    finally:
        if traced_to is not None:
            for instrumentor in instrumentors:
                instrumentor.uninstrument()
        provider.shutdown()


def test_log_chat_sends_what_the_exporter_sends_for_the_same_call(
    sink: ReconifySink, in_process_sink: ReconifySink, handler: ReconifyHandler
) -> None:
    answers = replayed(parity_calls(), traced_to=in_process_sink)
    for call, answer in zip(parity_calls(), answers, strict=True):
        fmt = "anthropic" if call.provider == "anthropic" else "openai"
        assert handler.log_chat(call.request, answer, STARTED_MS, ENDED_MS, format=fmt)
    assert handler.flush(5)
    exported = by_response_id(in_process_sink.payloads)
    logged = by_response_id(sink.payloads)
    assert sorted(logged) == sorted(exported) and len(logged) == len(parity_calls())
    for call in parity_calls():
        mine = logged[expected_response(call)["id"]]
        theirs = exported[expected_response(call)["id"]]
        for key in ("reconify", "session", "sessionTimeout", "user", "request"):
            assert mine[key] == theirs[key], key
        if call.provider == "anthropic":
            assert mine["response"] == theirs["response"]
        else:  # traceloop records no ``created``; the handler has the object itself
            assert theirs["response"]["created"] is None
            assert mine["response"] == {
                **theirs["response"],
                "created": mine["response"]["created"],
            }
        assert mine["request"] == expected_request(call)
        assert mine["response"] == expected_response(call)
        assert mine["timestamps"] == {"request": STARTED_MS, "response": ENDED_MS}


def test_log_chat_takes_plain_dicts_like_objects(
    sink: ReconifySink, handler: ReconifyHandler
) -> None:
    for call in parity_calls():
        fmt = "anthropic" if call.provider == "anthropic" else "openai"
        assert handler.log_chat(call.request, call.answer(), STARTED_MS, ENDED_MS, fmt)
    assert handler.flush(5)
    logged = by_response_id(sink.payloads)
    assert len(logged) == len(parity_calls())
    for call in parity_calls():
        payload = logged[expected_response(call)["id"]]
        assert payload["request"] == expected_request(call)
        assert payload["response"] == expected_response(call)


def test_anthropic_tool_use_answer_as_the_message_object(
    sink: ReconifySink, handler: ReconifyHandler
) -> None:
    call = calls_of(ANTHROPIC_CASSETTES[1])[0]
    (message,) = replayed([call])
    assert handler.log_chat(call.request, message, format="anthropic")
    assert handler.flush(5)
    (payload,) = sink.payloads
    assert payload["reconify"]["format"] == "anthropic"
    recorded = call.answer()
    assert recorded is not None
    assert payload["response"]["stop_reason"] == recorded["stop_reason"] == "tool_use"
    assert payload["response"] == expected_response(call)
    kinds = [block["type"] for block in payload["response"]["content"]]
    assert (
        kinds
        == [block["type"] for block in recorded["content"]]
        == [
            "text",
            "tool_use",
            "tool_use",
        ]
    )
    assert payload["request"]["tools"] == call.request["tools"]


def test_the_same_call_logged_twice_is_sent_once(
    sink: ReconifySink, handler: ReconifyHandler
) -> None:
    call = parity_calls()[0]
    assert handler.log_chat(call.request, call.answer(), format="openai")
    assert handler.log_chat(call.request, call.answer(), format="openai") is False
    assert handler.flush(5)
    assert len(sink.payloads) == 1
    assert handler.stats()["skipped_duplicate"] == 1


def test_missing_times_are_now_and_bad_ones_never_zero(
    sink: ReconifySink, handler: ReconifyHandler
) -> None:
    import time

    before = int(time.time() * 1000)
    call = parity_calls()[0]
    assert handler.log_chat(call.request, call.answer(), None, "soon", format="openai")  # type: ignore[arg-type]
    assert handler.flush(5)
    stamps = sink.payloads[0]["timestamps"]
    assert before <= stamps["request"] <= stamps["response"]


def test_bad_input_is_skipped_counted_and_never_raised(
    sink: ReconifySink, handler: ReconifyHandler, caplog: pytest.LogCaptureFixture
) -> None:
    call = parity_calls()[0]
    assert handler.log_chat("not a dict", call.answer()) is False  # type: ignore[arg-type]
    assert handler.log_chat(call.request, None) is False
    assert handler.log_chat(call.request, call.answer(), format="titan") is False
    assert (
        handler.log_chat({"model": "gpt-4o"}, {"id": "x"}, format="openai") is False
    )  # which call?
    assert handler.flush(5)
    assert sink.attempts == 0
    assert {k: v for k, v in handler.stats().items() if v} == {"skipped_bad_input": 4}
    assert "log_chat needs the request dict" in caplog.text


def test_capture_content_off_sends_no_texts(sink: ReconifySink) -> None:
    handler = handler_for(None, sink.url, capture_content=False)
    call = parity_calls()[0]
    assert handler.log_chat(call.request, call.answer(), format="openai")
    assert handler.close(5)
    (payload,) = sink.payloads
    assert payload["request"] == {
        "model": "gpt-3.5-turbo",
        "messages": [{"role": "user", "content": None}],
    }
    assert payload["response"]["choices"][0]["message"] == {"role": "assistant", "content": None}
    assert payload["response"]["usage"] == expected_response(call)["usage"]


class _Unreadable:
    """An answer object whose conversion fails: a failure of ours, not the caller's."""

    def model_dump(self, **_: Any) -> dict[str, Any]:
        raise RuntimeError("cannot dump")


def test_a_failure_of_ours_is_counted_logged_once_and_never_raised(
    sink: ReconifySink, handler: ReconifyHandler, caplog: pytest.LogCaptureFixture
) -> None:
    call = parity_calls()[0]
    assert handler.log_chat(call.request, _Unreadable(), format="openai") is False
    assert handler.log_chat(call.request, _Unreadable(), format="openai") is False
    assert handler.flush(5)
    assert sink.attempts == 0
    assert {k: v for k, v in handler.stats().items() if v} == {"internal_errors": 2}
    assert caplog.text.count("reconify handler failed") == 1  # rate-limited


def test_a_failed_response_is_an_error_call_and_not_sent(
    sink: ReconifySink, handler: ReconifyHandler
) -> None:
    call = calls_of("openai__test_responses__test_responses")[0]
    answer = call.answer()
    assert answer is not None
    failed = dict(answer, status="failed", error={"code": "server_error", "message": "x"})
    assert handler.log_chat(call.request, failed, format="openai") is False
    assert handler.flush(5)
    assert sink.attempts == 0
    assert {k: v for k, v in handler.stats().items() if v} == {"skipped_error_call": 1}


@pytest.mark.parametrize("bad_time", [math.inf, -math.inf, math.nan], ids=["inf", "-inf", "nan"])
def test_a_non_finite_time_is_now_and_the_call_is_sent(bad_time: float, sink: ReconifySink) -> None:
    chat = recorded_chat()
    handler = handler_for(None, sink.url)
    started = 1_774_963_843_123
    assert handler.log_chat(chat.request, chat.answer(), started, bad_time, format="openai") is True
    assert handler.close(timeout=5)
    (payload,) = sink.payloads
    assert payload["timestamps"]["request"] == started
    assert payload["timestamps"]["response"] > started  # now, not the junk
    assert {k: v for k, v in handler.stats().items() if v} == {"accepted": 1}


def test_a_request_json_cannot_write_is_bad_input(sink: ReconifySink) -> None:
    """README: ``False`` (and ``skipped_bad_input``) for something it cannot log."""
    chat = recorded_chat()
    handler = handler_for(None, sink.url)
    circular: dict[str, Any] = dict(chat.request)
    circular["metadata"] = circular
    assert handler.log_chat(circular, chat.answer(), format="openai") is False
    assert (
        handler.log_chat({("model",): "gpt-4o", "messages": []}, chat.answer(), format="openai")
        is False
    )
    assert handler.close(timeout=5)
    assert sink.attempts == 0
    assert {k: v for k, v in handler.stats().items() if v} == {"skipped_bad_input": 2}
