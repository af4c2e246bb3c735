"""Every recorded LLM call, made with the real ``openai``/``anthropic`` SDK against the
loopback replay, under each instrumentation that covers it: exactly one payload per call,
in process (``BatchSpanProcessor(ReconifySpanExporter)``) and through the real OTLP/HTTP
exporter and the bridge, the two identical, each equal to what Reconify's own modules
would send for the recorded request and answer (``llm_expectations.check_call``, with the
convention's ``LACKS``), with the envelope taken from the span itself.

Each convention replays every recording once (a module-scoped cache); the tests then
check one call each.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from reconify_otel.offline.replay import RecordedCall

from .llm_expectations import check_call
from .llm_recordings import exchanges
from .llm_replay import (
    CONVENTIONS,
    Replayed,
    all_calls,
    call_id,
    envelope_of,
    expected_envelope,
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
