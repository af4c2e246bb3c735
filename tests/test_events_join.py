"""GenAI log events read back as content (``core.llm.events``) and kept for their span
(``runtime.event_join``): hostile events never raise and are counted, botocore's doubled
tool history is read once, and the join's bounds keep a call's question and answer."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from reconify_otel import ReconifySpanExporter
from reconify_otel.core.llm import bedrock
from reconify_otel.core.llm.events import GenAiEvent, joined, read
from reconify_otel.core.record import SpanRecord
from reconify_otel.exporter.log_processor import ReconifyLogRecordProcessor
from reconify_otel.prepare import Prepared, Preparer
from reconify_otel.runtime.counters import Counters
from reconify_otel.runtime.event_join import EventJoin
from reconify_otel.settings import resolve

TRACE, SPAN = 0x7E, 0x5B
USER = GenAiEvent("gen_ai.user.message", {"content": [{"text": "Hi"}]}, {})
ANSWER = GenAiEvent("gen_ai.choice", {"index": 0, "message": {"content": [{"text": "Hello"}]}}, {})


def inputs(events: list[GenAiEvent]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads(read(events).attributes["gen_ai.input.messages"])
    return found


# --- hostile events --------------------------------------------------------------------

circular: dict[str, Any] = {"kind": "loop"}  # no JSON for it
circular["self"] = circular

HOSTILE: list[tuple[str, Any, Any]] = [
    ("gen_ai.assistant.message", {"tool_calls": 5}, {}),
    ("gen_ai.assistant.message", {"tool_calls": "abc"}, {}),
    ("gen_ai.assistant.message", {"tool_calls": [5, None, {"function": 3}]}, {}),
    ("gen_ai.user.message", {"content": 7}, {}),
    ("gen_ai.user.message", {"content": {"text": "a dict"}}, {}),
    ("gen_ai.user.message", {"content": [1, None, ["x"]]}, {}),
    ("gen_ai.user.message", "a string body", {}),
    ("gen_ai.user.message", [1, 2], {}),
    ("gen_ai.user.message", {"role": 5, "content": "ok"}, {}),
    ("gen_ai.tool.message", {"id": {"not": "hashable"}, "content": [1]}, {}),
    ("gen_ai.choice", {"message": "not a dict"}, {}),
    ("gen_ai.choice", {"index": "first", "message": {"content": "x"}}, {}),
    ("gen_ai.choice", {"index": [0], "finish_reason": {"r": 1}}, {}),
    ("gen_ai.choice", 42, {}),
    ("gen_ai.client.inference.operation.details", None, 5),
    ("gen_ai.client.inference.operation.details", None, {"gen_ai.input.messages": circular}),
    ("gen_ai.user.message", {"content": [circular]}, {}),
]


@pytest.mark.parametrize(("name", "body", "attributes"), HOSTILE)
def test_a_hostile_event_never_raises_and_is_counted(name: str, body: Any, attributes: Any) -> None:
    content = read([USER, GenAiEvent(name, body, attributes), ANSWER])
    assert content.unusable >= 1
    assert json.loads(content.attributes["gen_ai.output.messages"])  # the rest is read
    assert "gen_ai.input.messages" in content.attributes


def test_an_unreadable_event_is_left_out_and_the_rest_kept() -> None:
    content = read([USER, GenAiEvent("gen_ai.user.message", {"content": [circular]}, {})])
    assert content.unusable == 1
    assert json.loads(content.attributes["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "Hi"}]}
    ]


def test_an_event_of_another_name_is_ignored() -> None:
    odd = GenAiEvent(["gen_ai.choice"], {}, {})  # type: ignore[arg-type]
    content = read([odd, GenAiEvent("app.event", {}, {}), ANSWER])
    assert content.unusable == 0 and list(content.attributes) == ["gen_ai.output.messages"]


def test_joined_tells_how_many_were_unusable() -> None:
    told: list[int] = []
    events = [USER, GenAiEvent("gen_ai.assistant.message", {"tool_calls": 5}, {}), ANSWER]
    attributes = joined({"a": 1}, events, told.append)
    assert told == [1] and attributes["a"] == 1 and "gen_ai.output.messages" in attributes
    told.clear()
    joined({}, [USER, ANSWER], told.append)
    assert told == []


def test_a_call_with_a_hostile_event_is_sent_and_counted_as_bad_attributes() -> None:
    counters = Counters()
    settings = resolve(endpoint="http://127.0.0.1:9/track", app_key="a", api_key="b")
    preparer = Preparer(settings, counters, resolve_personal=None)
    record = SpanRecord(
        name="chat m",
        attributes={
            "gen_ai.system": "aws.bedrock",
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "anthropic.claude-3",
            "aws.request_id": "req-1",
        },
        start_ns=1,
        end_ns=2,
        trace_id=TRACE,
        span_id=SPAN,
        scope="opentelemetry.instrumentation.botocore",
    )
    for event in (USER, GenAiEvent("gen_ai.assistant.message", {"tool_calls": 5}, {}), ANSWER):
        preparer.events.add(TRACE, SPAN, event)
    result = preparer.prepare(record)
    assert isinstance(result, Prepared), result
    assert result.payload["response"]["body"]["output"]["message"]["content"] == [{"text": "Hello"}]
    stats = counters.snapshot()
    assert stats.get("bad_attributes") == 1 and not stats.get("skipped_unmappable")


# --- botocore's tool history -----------------------------------------------------------

TOOL_USE = {"toolUse": {"toolUseId": "tu1", "name": "weather", "input": {"city": "Paris"}}}
RESULT = {"toolResult": {"toolUseId": "tu1", "content": [{"json": {"t": 20}}]}}


def test_tool_calls_already_in_content_are_read_once() -> None:
    call = {"id": "tu1", "type": "function", "function": {"name": "weather", "arguments": {}}}
    other = {"id": "tu9", "type": "function", "function": {"name": "clock"}}
    body = {"content": [TOOL_USE], "tool_calls": [call, other]}
    (message,) = inputs([GenAiEvent("gen_ai.assistant.message", body, {})])
    assert [(p["type"], p["id"]) for p in message["parts"]] == [
        ("tool_call", "tu1"),
        ("tool_call", "tu9"),
    ]


def test_tool_calls_alone_are_read() -> None:
    call = {"id": "tu1", "type": "function", "function": {"name": "weather", "arguments": "{}"}}
    (message,) = inputs([GenAiEvent("gen_ai.assistant.message", {"tool_calls": [call]}, {})])
    assert message["parts"] == [
        {"type": "tool_call", "id": "tu1", "name": "weather", "arguments": "{}"}
    ]


def test_a_tool_message_the_user_message_holds_too_is_read_once() -> None:
    events = [
        GenAiEvent("gen_ai.tool.message", {"id": "tu1", "content": [{"json": {"t": 20}}]}, {}),
        GenAiEvent("gen_ai.user.message", {"content": [RESULT]}, {}),
    ]
    assert [m["role"] for m in inputs(events)] == ["user"]
    # in the other order too
    assert [m["role"] for m in inputs(events[::-1])] == ["user"]


def test_a_tool_message_of_its_own_is_kept() -> None:
    events = [
        GenAiEvent("gen_ai.tool.message", {"id": "tu1", "content": "20C"}, {}),
        GenAiEvent("gen_ai.tool.message", {"id": "tu2", "content": "25C"}, {}),
        GenAiEvent("gen_ai.user.message", {"content": [RESULT, {"text": "and?"}]}, {}),
    ]
    found = inputs(events)
    assert [m["role"] for m in found] == ["tool", "user"]
    assert found[0]["parts"][0]["id"] == "tu2"


def test_a_tool_result_given_as_converse_blocks_is_sent_as_given() -> None:
    blocks = [{"json": {"t": 20}}, {"text": "sunny"}]
    part = {"type": "tool_call_response", "id": "tu1", "response": blocks}
    assert bedrock.block(part) == {"toolResult": {"toolUseId": "tu1", "content": blocks}}
    for answer in ([{"t": 20}], [], {"t": 20}, [{"text": "x", "json": 1}]):
        wrapped = bedrock.block({"type": "tool_call_response", "id": "tu1", "response": answer})
        assert wrapped["toolResult"]["content"] == [{"json": answer}]


# --- the join's bounds -----------------------------------------------------------------


def message(n: int) -> GenAiEvent:
    return GenAiEvent("gen_ai.user.message", {"content": f"turn {n}"}, {})


def test_over_its_bound_a_span_drops_its_oldest_request_events_never_its_answer() -> None:
    dropped: list[int] = []
    join = EventJoin(on_unjoined=dropped.append, max_events=4)
    join.add(TRACE, SPAN, message(0))
    join.add(TRACE, SPAN, ANSWER)
    for n in range(1, 6):
        join.add(TRACE, SPAN, message(n))
    kept = join.take(TRACE, SPAN)
    assert [e.body["content"] if e is not ANSWER else "A" for e in kept] == [
        "A",
        "turn 3",
        "turn 4",
        "turn 5",
    ]
    assert sum(dropped) == 3


def test_the_total_bound_drops_the_spans_that_waited_longest() -> None:
    dropped: list[int] = []
    join = EventJoin(on_unjoined=dropped.append, max_events=4, max_total=8)
    for span in (1, 2, 3):
        for n in range(3):
            join.add(TRACE, span, message(n))
    assert join.events == 6 and not join.has(TRACE, 1) and sum(dropped) == 3
    join.add(TRACE, 2, message(9))  # span 2 is now the newest
    join.add(TRACE, 4, message(0))
    join.add(TRACE, 4, message(1))
    assert not join.has(TRACE, 3) and join.has(TRACE, 2) and join.events == 6


def test_the_time_runs_from_a_spans_latest_event() -> None:
    now = [0.0]
    dropped: list[int] = []
    join = EventJoin(on_unjoined=dropped.append, ttl_s=10, clock=lambda: now[0])
    join.add(TRACE, 1, message(0))
    join.add(TRACE, 2, message(0))
    now[0] = 8.0
    join.add(TRACE, 1, message(1))  # span 1 moves behind span 2
    now[0] = 12.0
    join.expire()
    assert join.has(TRACE, 1) and not join.has(TRACE, 2) and dropped == [1]


def test_take_expires_what_outlived_its_time_but_returns_its_own() -> None:
    now = [0.0]
    dropped: list[int] = []
    join = EventJoin(on_unjoined=dropped.append, ttl_s=10, clock=lambda: now[0])
    join.add(TRACE, 1, message(0))
    join.add(TRACE, 2, message(0))
    now[0] = 20.0
    assert len(join.take(TRACE, 2)) == 1  # its own, however old
    assert len(join) == 0 and dropped == [1]


def test_defaults_keep_a_long_conversation() -> None:
    join = EventJoin()
    for n in range(256):
        join.add(TRACE, SPAN, message(n))
    join.add(TRACE, SPAN, ANSWER)
    kept = join.take(TRACE, SPAN)
    assert len(kept) == 256 and kept[-1] is ANSWER and kept[-2].body["content"] == "turn 255"


# --- the logs-side companion -----------------------------------------------------------


def record(**fields: Any) -> SimpleNamespace:
    base: dict[str, Any] = {
        "event_name": "gen_ai.choice",
        "attributes": {},
        "body": {"message": {"content": "x"}},
        "trace_id": TRACE,
        "span_id": SPAN,
    }
    return SimpleNamespace(**{**base, **fields})


def test_on_emit_counts_a_genai_record_it_cannot_read_and_ignores_others() -> None:
    exporter = ReconifySpanExporter("http://127.0.0.1:9/track", "a", "b")
    try:
        processor = ReconifyLogRecordProcessor(exporter)
        processor.on_emit(record(attributes=5))  # GenAI-named, unreadable: counted
        processor.on_emit(record(event_name=["gen_ai.choice"]))  # no name: not ours
        processor.on_emit(record(event_name=None, attributes=7))
        processor.on_emit(record(event_name="app.log"))
        processor.on_emit(object())
        assert exporter.stats()["events_unjoined"] == 1
        processor.on_emit(record())
        assert exporter.event_join.has(TRACE, SPAN)
        assert exporter.stats()["events_unjoined"] == 1
    finally:
        exporter.shutdown()
