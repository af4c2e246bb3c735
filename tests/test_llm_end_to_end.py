"""Every recorded LLM call, made with the real ``openai``/``anthropic`` SDK against the
loopback replay, under each instrumentation that covers it: exactly one payload per call,
in process (``BatchSpanProcessor(ReconifySpanExporter)``) and through the real OTLP/HTTP
exporter and the bridge, the two identical, each equal to what Reconify's own modules
would send for the recorded request and answer (``llm_expectations.check_call``, with the
convention's ``LACKS``), with the envelope taken from the span itself. And the calls
the recordings alone do not show: one that fails, a stream abandoned half way.

Each convention replays every recording once (a module-scoped cache); the tests then
check one call each.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from reconify_otel.offline.replay import LlmReplay, RecordedCall, recorded_calls
from reconify_otel.offline.sink import ReconifySink

from .llm_expectations import check_call
from .llm_recordings import exchanges
from .llm_replay import (
    CONVENTIONS,
    Pipeline,
    Replayed,
    all_calls,
    call_id,
    client,
    envelope_of,
    expected_envelope,
    instrumented,
    make_call,
    method_of,
    replay_all,
    selected,
)
from .privacy_checks import check_content_off


@pytest.fixture(scope="module")
def replayed() -> Iterator[Callable[[str], Replayed]]:
    cache: dict[str, Replayed] = {}

    def get(tag: str) -> Replayed:
        if tag not in cache:
            cache[tag] = replay_all(tag)
        return cache[tag]

    yield get


CASES = [
    pytest.param(tag, call, id=f"{tag}-{call_id(call)}")
    for tag, convention in CONVENTIONS.items()
    for call in all_calls()
    if convention.covers(call)
]


@pytest.mark.parametrize(("tag", "call"), CASES)
def test_each_recorded_call_is_one_exact_payload_on_both_routes(
    replayed: Callable[[str], Replayed], tag: str, call: RecordedCall
) -> None:
    outcome = replayed(tag).outcomes[(call.cassette, call.index)]
    assert outcome.sent == [call.request]  # the SDK sent exactly the recorded request
    (span,) = selected(outcome.spans)
    (payload,) = outcome.in_process
    assert outcome.bridged == [payload]
    kind = (payload["reconify"]["format"], payload["reconify"]["type"])
    assert envelope_of(payload) == expected_envelope(span, kind)
    exchange = exchanges(call.cassette)[call.index]
    assert exchange["request"] == call.request
    response = payload["response"]
    check_call(payload["request"], response, response["id"], kind, tag, True, exchange)


@pytest.mark.parametrize(("tag", "call"), CASES)
def test_capture_content_off_sends_the_same_call_without_texts(
    replayed: Callable[[str], Replayed], tag: str, call: RecordedCall
) -> None:
    """The exporter's ``capture_content=False`` on spans with content (a second exporter
    beside the first): the call sent with content (checked against the recording above)
    with every string but ids, model, roles, types, finish reasons and tool names null;
    numbers (parameters, usage) and the envelope as they were."""
    outcome = replayed(tag).outcomes[(call.cassette, call.index)]
    (payload,) = outcome.content_off
    (with_content,) = outcome.in_process
    check_content_off(with_content, payload)
    assert payload["request"]["model"] == call.request["model"]


@pytest.mark.parametrize("tag", list(CONVENTIONS))
def test_every_call_is_counted_once_and_nothing_else(
    replayed: Callable[[str], Replayed], tag: str
) -> None:
    calls = sum(1 for call in all_calls() if CONVENTIONS[tag].covers(call))
    stats = replayed(tag).stats
    assert stats["accepted"] == calls
    assert {k: v for k, v in stats.items() if v and k != "accepted"} == {}
    bridge = replayed(tag).bridge_stats
    assert bridge["accepted"] == calls


@pytest.mark.parametrize("tag", list(CONVENTIONS))
def test_async_clients_give_the_same_payloads(
    replayed: Callable[[str], Replayed], tag: str
) -> None:
    """``AsyncOpenAI`` / ``AsyncAnthropic``: the same payload for every recorded call as
    the synchronous client's, but for the span's own timestamps."""
    asynchronous = replay_all(tag, use_async=True, through_bridge=False)
    synchronous = replayed(tag)
    assert asynchronous.outcomes.keys() == synchronous.outcomes.keys()
    for key, outcome in asynchronous.outcomes.items():
        (span,) = selected(outcome.spans)
        (payload,) = outcome.in_process
        (expected,) = synchronous.outcomes[key].in_process
        kind = (payload["reconify"]["format"], payload["reconify"]["type"])
        assert envelope_of(payload) == expected_envelope(span, kind), key
        assert (payload["request"], payload["response"]) == (
            expected["request"],
            expected["response"],
        ), key


def nonzero(stats: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in stats.items() if v}


# --- a call that fails -------------------------------------------------------------------

FIRST_OF_EACH_PROVIDER = {
    "openai": "openai__test_chat__test_chat",
    "anthropic": "anthropic__test_messages__test_anthropic_message_create_legacy",
}


@pytest.mark.parametrize("tag", list(CONVENTIONS))
def test_a_failed_call_sends_nothing_and_is_counted(tag: str) -> None:
    """The provider answers 500 and the SDK raises: every convention ends its span with
    ERROR status, and Reconify's modules log nothing for a call that raised."""
    provider = "anthropic" if "anthropic" in tag else "openai"
    call = recorded_calls(FIRST_OF_EACH_PROVIDER[provider])[0]
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
    "openai": "openai__test_chat__test_chat_streaming",
    "anthropic": "anthropic__test_messages__test_anthropic_message_streaming_legacy",
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
    call = recorded_calls(STREAMS["anthropic" if "anthropic" in tag else "openai"])[0]
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
