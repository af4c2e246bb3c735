"""``POST /v1/logs``: a call whose messages are GenAI log events (Bedrock through
``opentelemetry-instrumentation-botocore``) reaches Reconify as one payload with them,
whichever of its span and its events comes first. Real uvicorn, the SDK's real OTLP/HTTP
span and log exporters, the loopback sink; exact payloads."""

from __future__ import annotations

import base64
import gzip
import json
import logging
import threading
import time
from typing import Any

import pytest
import requests
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from reconify_otel.bridge import BridgeApp, resolve_config
from reconify_otel.bridge.arrivals import EventArrivals
from reconify_otel.bridge.otlp_logs import SpanEvent
from reconify_otel.bridge.otlp_spans import selected_spans
from reconify_otel.core.llm.events import GenAiEvent
from reconify_otel.core.record import SpanRecord
from reconify_otel.offline.sink import Answer, ReconifySink
from reconify_otel.runtime.counters import Counters, Event
from reconify_otel.runtime.event_join import EventJoin

from .bridge_events import (
    CHOICE,
    USER,
    bedrock_call,
    expected,
    export_logs,
    export_spans,
    without_keys,
)
from .bridge_helpers import JSON, PROTOBUF, TOKEN, post, protobuf
from .helpers import API_KEY, APP_KEY

LOGS = "/v1/logs"


def _count(app: BridgeApp, name: str) -> int:
    return app.stats().get(name, 0)


def _in_thread(target: Any, *args: Any) -> tuple[threading.Thread, list[float]]:
    """Run ``target(*args)`` in a thread; the list gets its duration in seconds."""
    took: list[float] = []

    def run() -> None:
        began = time.monotonic()
        target(*args)
        took.append(time.monotonic() - began)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, took


def test_events_first_then_the_span_send_one_payload_with_the_messages(
    sink: ReconifySink, start_bridge: Any
) -> None:
    url, app = start_bridge(events_wait=5.0)
    call = bedrock_call("req-logs-first")
    export_logs(url, call.logs, TOKEN)
    assert _count(app, "events_held") == 1 and sink.payloads == []
    began = time.monotonic()
    export_spans(url, call.spans, TOKEN)
    assert time.monotonic() - began < 1.0  # its events were in: no wait
    assert [without_keys(p) for p in sink.payloads] == [expected("req-logs-first")]
    keys = sink.payloads[0]["reconify"]
    assert (keys["appKey"], keys["apiKey"]) == (APP_KEY, API_KEY)
    counts = {k: _count(app, k) for k in ("log_events", "event_waits", "events_unjoined")}
    assert counts == {"log_events": 2, "event_waits": 0, "events_unjoined": 0}
    assert _count(app, "events_held") == 0


def test_the_span_first_waits_for_its_events_and_is_woken_when_they_come(
    sink: ReconifySink, start_bridge: Any
) -> None:
    url, app = start_bridge(events_wait=5.0)
    call = bedrock_call("req-spans-first")
    thread, took = _in_thread(export_spans, url, call.spans, TOKEN)
    time.sleep(0.3)
    assert sink.payloads == [] and thread.is_alive()  # the trace request waits
    export_logs(url, call.logs, TOKEN)
    thread.join(10)
    assert [without_keys(p) for p in sink.payloads] == [expected("req-spans-first")]
    assert 0.3 <= took[0] < 1.5  # woken by the events, not at the 5 s deadline
    assert (_count(app, "event_waits"), _count(app, "event_waits_expired")) == (1, 0)


def test_a_user_message_alone_does_not_end_the_wait(sink: ReconifySink, start_bridge: Any) -> None:
    """The question is emitted when the call starts, the answer when it ends: with a batch
    processor they often leave in different exports. The span waits for the answer."""
    url, _ = start_bridge(events_wait=5.0)
    call = bedrock_call("req-split-events")
    user, choice = call.logs
    export_logs(url, [user], TOKEN)
    thread, _ = _in_thread(export_spans, url, call.spans, TOKEN)
    time.sleep(0.3)
    assert sink.payloads == [] and thread.is_alive()
    export_logs(url, [choice], TOKEN)
    thread.join(10)
    assert [without_keys(p) for p in sink.payloads] == [expected("req-split-events")]


def test_events_that_never_come_leave_one_payload_without_messages_after_the_wait(
    sink: ReconifySink, start_bridge: Any
) -> None:
    url, app = start_bridge(events_wait=0.5)
    call = bedrock_call("req-no-events")
    began = time.monotonic()
    export_spans(url, call.spans, TOKEN)
    took = time.monotonic() - began
    assert 0.5 <= took < 1.5
    assert [without_keys(p) for p in sink.payloads] == [expected("req-no-events", messages=False)]
    assert (_count(app, "event_waits"), _count(app, "event_waits_expired")) == (1, 1)
    # Events coming later join nothing: kept until they expire, then counted unjoined.
    export_logs(url, call.logs, TOKEN)
    assert len(sink.payloads) == 1 and _count(app, "events_held") == 1


def test_no_wait_when_events_wait_is_0(sink: ReconifySink, start_bridge: Any) -> None:
    url, app = start_bridge(events_wait=0)
    call = bedrock_call("req-no-wait")
    began = time.monotonic()
    export_spans(url, call.spans, TOKEN)
    assert time.monotonic() - began < 0.5
    assert [without_keys(p) for p in sink.payloads] == [expected("req-no-wait", messages=False)]
    assert _count(app, "event_waits") == 0


def test_a_span_with_its_own_content_never_waits(sink: ReconifySink, start_bridge: Any) -> None:
    url, app = start_bridge(events_wait=5.0)
    body = json.dumps([{"role": "user", "parts": [{"type": "text", "content": "Hi"}]}])
    call = bedrock_call("req-own-content", [], extra={"gen_ai.input.messages": body})
    began = time.monotonic()
    export_spans(url, call.spans, TOKEN)
    assert time.monotonic() - began < 1.0
    assert len(sink.payloads) == 1 and _count(app, "event_waits") == 0


def test_a_503_keeps_the_events_for_the_collectors_resend(
    sink: ReconifySink, start_bridge: Any
) -> None:
    """The Collector resends the trace batch after a 503, never the logs it was answered
    200 for: the resend must still find the span's events."""
    url, _ = start_bridge(events_wait=5.0)
    call = bedrock_call("req-resent")
    export_logs(url, call.logs, TOKEN)
    sink.script(Answer.status(503, headers={"Retry-After": "3"}))  # beyond the 1 s timeout
    assert post(url, protobuf(call.spans)).status_code == 503
    assert sink.payloads == []
    assert post(url, protobuf(call.spans)).status_code == 200
    assert [without_keys(p) for p in sink.payloads] == [expected("req-resent")]


def test_logs_in_otlp_json(sink: ReconifySink, start_bridge: Any) -> None:
    """OTLP JSON writes trace and span ids in hex; the answer is JSON too."""
    url, _ = start_bridge(events_wait=5.0)
    call = bedrock_call("req-json")
    document = json_format.MessageToDict(encode_logs(call.logs))
    for resource_logs in document["resourceLogs"]:
        for scope_logs in resource_logs["scopeLogs"]:
            for record in scope_logs["logRecords"]:
                for name in ("traceId", "spanId"):
                    record[name] = bytes.fromhex(_hex_of_b64(record[name])).hex()
    response = post(url, json.dumps(document).encode(), JSON, path=LOGS)
    assert (response.status_code, response.json()) == (200, {})
    assert response.headers["content-type"] == JSON
    export_spans(url, call.spans, TOKEN)
    assert [without_keys(p) for p in sink.payloads] == [expected("req-json")]


def _hex_of_b64(value: str) -> str:
    return base64.b64decode(value).hex()


def test_events_named_by_the_older_event_name_attribute(
    sink: ReconifySink, start_bridge: Any
) -> None:
    """SDKs before ``LogRecord.event_name`` named an event by its ``event.name`` attribute."""
    url, _ = start_bridge(events_wait=5.0)
    call = bedrock_call("req-attribute-name", by_attribute=True)
    request = encode_logs(call.logs)
    assert not any(r.event_name for r in request.resource_logs[0].scope_logs[0].log_records)
    export_logs(url, call.logs, TOKEN)
    export_spans(url, call.spans, TOKEN)
    assert [without_keys(p) for p in sink.payloads] == [expected("req-attribute-name")]


SECRET = "do-not-log-this-3f9a1c"


def test_logs_need_the_token_and_never_log_the_body(
    sink: ReconifySink, start_bridge: Any, caplog: pytest.LogCaptureFixture
) -> None:
    url, app = start_bridge(events_wait=0.2)
    call = bedrock_call("req-token", [("gen_ai.user.message", {"content": SECRET}), CHOICE])
    body = bytes(encode_logs(call.logs).SerializeToString())
    with caplog.at_level(logging.DEBUG):
        for token in (None, "wrong-token"):
            response = post(url, body, token=token, path=LOGS)
            assert response.status_code == 401
            assert SECRET not in response.text
        assert _count(app, "log_events") == 0 and _count(app, "events_held") == 0
        assert post(url, body, path=LOGS).status_code == 200
        export_spans(url, call.spans, TOKEN)
    assert _count(app, "http_401") == 2
    (payload,) = sink.payloads
    assert payload["request"]["messages"] == [{"role": "user", "content": [{"text": SECRET}]}]
    assert SECRET not in caplog.text and TOKEN not in caplog.text


@pytest.mark.parametrize(
    ("body", "content_type", "encoding"),
    [
        (b"\xff\xff\xff not protobuf", PROTOBUF, None),
        (b"{not json", JSON, None),
        (b"[1, 2]", JSON, None),
        (b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"traceId": "zz"}]}]}]}', JSON, None),
        (b"not gzip at all", PROTOBUF, "gzip"),
    ],
    ids=["protobuf", "json", "json-array", "json-bad-hex-id", "gzip"],
)
def test_a_bad_logs_body_is_400(
    body: bytes, content_type: str, encoding: str | None, bridge: tuple[str, BridgeApp]
) -> None:
    url, app = bridge
    response = post(url, body, content_type, path=LOGS, encoding=encoding)
    assert response.status_code == 400
    assert _count(app, "http_400") == 1 and _count(app, "log_events") == 0


def test_logs_get_the_same_checks_as_traces(bridge: tuple[str, BridgeApp]) -> None:
    url, app = bridge
    headers = {"Authorization": f"Bearer {TOKEN}"}
    assert requests.get(f"{url}{LOGS}", headers=headers, timeout=5).status_code == 405
    assert requests.post(f"{url}/v1/metrics", headers=headers, timeout=5).status_code == 404
    assert post(url, b"", "text/plain", path=LOGS).status_code == 415
    assert post(url, b"", path=LOGS, encoding="br").status_code == 415
    assert post(url, b"x" * (64 * 1024 + 1), path=LOGS).status_code == 413  # MAX_BODY
    bomb = gzip.compress(b"\0" * (256 * 1024 + 1))  # over MAX_DECOMPRESSED
    assert post(url, bomb, path=LOGS, encoding="gzip").status_code == 413
    empty = post(url, b"", path=LOGS)
    assert (empty.status_code, empty.content) == (200, b"")  # an empty request is valid
    assert app.stats()["request_memory"] == 0 and app.stats()["in_flight"] == 0


def test_logs_for_unknown_spans_and_other_records_are_bounded_and_counted(
    sink: ReconifySink, start_bridge: Any
) -> None:
    """Events whose span never comes are held for at most 2,048 spans (the oldest make
    room, counted as unjoined), events without a span at once; other records pass by."""
    url, app = start_bridge(max_body_bytes=1 << 20, max_decompressed_bytes=1 << 20)
    request = ExportLogsServiceRequest()
    records = request.resource_logs.add().scope_logs.add().log_records
    for i in range(2100):
        records.append(_record("gen_ai.user.message", (i + 1).to_bytes(8, "big")))
    records.append(_record("gen_ai.choice", b""))  # no span: joins nothing
    records.append(_record("app.audit", (1).to_bytes(8, "big")))  # not a GenAI event
    records.append(LogRecord(body=AnyValue(string_value="a plain log line")))
    assert post(url, request.SerializeToString(), path=LOGS).status_code == 200
    stats = app.stats()
    assert (stats["log_events"], stats["log_records_ignored"]) == (2101, 2)
    assert (stats["events_held"], stats["events_unjoined"]) == (2048, 2100 - 2048 + 1)
    assert sink.payloads == []


def _record(name: str, span_id: bytes) -> LogRecord:
    return LogRecord(
        event_name=name,
        trace_id=bytes(range(1, 17)) if span_id else b"",
        span_id=span_id,
        body=AnyValue(string_value="x"),
    )


def test_events_unjoined_shows_in_healthz_from_the_start(bridge: tuple[str, BridgeApp]) -> None:
    health = requests.get(f"{bridge[0]}/healthz", timeout=5).json()
    assert (health["events_unjoined"], health["events_held"]) == (0, 0)


def test_the_events_wait_setting_is_checked_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_config().events_wait == 1.0
    monkeypatch.setenv("RECONIFY_BRIDGE_EVENTS_WAIT", "0.25")
    assert resolve_config().events_wait == 0.25
    assert resolve_config(events_wait=0).events_wait == 0
    for bad in ("-1", "11", "soon", "nan"):
        monkeypatch.setenv("RECONIFY_BRIDGE_EVENTS_WAIT", bad)
        with pytest.raises(ValueError, match="RECONIFY_BRIDGE_EVENTS_WAIT"):
            resolve_config()


# --- the waiting itself, without HTTP --------------------------------------------------


def _span_events(key: tuple[int, int], *names: str) -> list[SpanEvent]:
    return [SpanEvent(key[0], key[1], GenAiEvent(name, {}, {})) for name in names]


def test_waiters_are_bounded_and_woken_only_by_an_answer() -> None:
    """One request waits (max_waiters=1); a second one over the bound is sent at once,
    counted as expired; a user message does not wake the waiter, the choice does."""
    counters = Counters("bridge")
    arrivals = EventArrivals(EventJoin(), counters, wait_s=5.0, max_waiters=1)
    first, second = (_record_of(bedrock_call(f"req-bound-{i}")) for i in (1, 2))
    thread, took = _in_thread(arrivals.gather, [first])
    deadline = time.monotonic() + 2
    while arrivals.waiters < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    began = time.monotonic()
    assert arrivals.gather([second]) == {}  # over the bound: no wait
    assert time.monotonic() - began < 0.2
    key = (first.trace_id, first.span_id)
    arrivals.add(_span_events(key, USER[0]))
    time.sleep(0.2)
    assert thread.is_alive()
    arrivals.add(_span_events(key, CHOICE[0]))
    thread.join(5)
    assert not thread.is_alive() and took[0] < 2
    counts = counters.snapshot()
    assert (counts["event_waits"], counts["event_waits_expired"]) == (2, 1)


def _record_of(call: Any) -> SpanRecord:
    (record,) = selected_spans(encode_spans(call.spans))
    return record


def test_the_bytes_events_hold_are_bounded() -> None:
    """Past ``max_bytes`` of events held, new ones are refused and counted unjoined; the
    bytes of events taken by their span, or let go of by the join, are freed."""
    counters = Counters("bridge")
    join = EventJoin(on_unjoined=lambda n: counters.add(Event.EVENTS_UNJOINED, n))
    arrivals = EventArrivals(join, counters, wait_s=0, max_waiters=1, max_bytes=1000)
    event = GenAiEvent(USER[0], {}, {})
    arrivals.add([SpanEvent(1, span, event, 400) for span in (1, 2, 3)])
    assert (arrivals.held_bytes, len(join), counters.snapshot()["events_unjoined"]) == (800, 2, 1)
    record = _record_of(bedrock_call("req-bytes"))
    key = (record.trace_id, record.span_id)
    arrivals.add([SpanEvent(*key, event, 100)])
    taken = arrivals.gather([record])[key]
    assert (taken.events, taken.size, arrivals.held_bytes) == ([event], 100, 800)
    arrivals.give_back(key, taken)  # a 503: kept for the resend, counted again
    assert arrivals.held_bytes == 900
    join.take(1, 1)  # let go of by the join (as when it expires): freed when room is needed
    arrivals.add([SpanEvent(1, 4, event, 400)])
    assert (arrivals.held_bytes, counters.snapshot()["events_unjoined"]) == (900, 1)


OPENAI_V2_CHAT: dict[str, Any] = {  # openai-v2's, content off (its default)
    "gen_ai.system": "openai",
    "gen_ai.operation.name": "chat",
    "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.response.id": "chatcmpl-no-content",
    "gen_ai.usage.input_tokens": 3,
    "gen_ai.usage.output_tokens": 2,
    "gen_ai.response.finish_reasons": ["stop"],
}


def test_a_content_less_openai_v2_span_is_sent_at_once(
    sink: ReconifySink, start_bridge: Any
) -> None:
    """Only botocore's and util-genai's spans may have their content in events: an
    openai-v2 ``chat`` span without content (its default) has none anywhere, never waits."""
    memory, provider = InMemorySpanExporter(), TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("opentelemetry.instrumentation.openai_v2")
    with tracer.start_as_current_span("chat gpt-4o-mini", kind=SpanKind.CLIENT) as span:
        span.set_attributes(OPENAI_V2_CHAT)
    spans = memory.get_finished_spans()
    url, app = start_bridge(events_wait=5.0)
    began = time.monotonic()
    export_spans(url, spans, TOKEN)
    assert time.monotonic() - began < 1.0 and len(sink.payloads) == 1
    assert (_count(app, "event_waits"), _count(app, "selected_spans")) == (0, 1)
