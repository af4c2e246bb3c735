"""The bridge's GenAI log events under faults: which spans wait for theirs, a span whose
events cannot be joined, a fault of the bridge's own in a trace request, and the memory an
event may take as it is converted. Real uvicorn and the SDK's exporters where HTTP is
what is tested; exact payloads."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from reconify_otel.bridge import BridgeApp
from reconify_otel.bridge.otlp_logs import genai_events
from reconify_otel.core.llm.events import joined as real_joined
from reconify_otel.offline.sink import ReconifySink

from .bridge_events import bedrock_call, expected, export_logs, export_spans, without_keys
from .bridge_helpers import TOKEN, post, protobuf

SECRET = "do-not-log-this-7c2e"
UTIL_GENAI = "opentelemetry.util.genai.handler"  # openai-v2 2.4's and google-genai's spans


def _count(app: BridgeApp, name: str) -> int:
    return app.stats().get(name, 0)


def _content_less_chat(scope: str) -> Sequence[ReadableSpan]:
    """A ``chat`` span without content (no messages on it), written under ``scope``."""
    memory, provider = InMemorySpanExporter(), TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    attributes: dict[str, Any] = {
        "gen_ai.system": "openai",
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.usage.input_tokens": 3,
        "gen_ai.usage.output_tokens": 2,
    }
    with provider.get_tracer(scope).start_as_current_span("chat", kind=SpanKind.CLIENT) as span:
        span.set_attributes(attributes)
    return memory.get_finished_spans()


def test_a_content_less_util_genai_span_waits_for_its_events(start_bridge: Any) -> None:
    """util-genai's ``EVENT_ONLY`` spans look like its content-off ones: both wait."""
    url, app = start_bridge(events_wait=0.3)
    began = time.monotonic()
    export_spans(url, _content_less_chat(UTIL_GENAI), TOKEN)
    assert time.monotonic() - began >= 0.3
    assert (_count(app, "event_waits"), _count(app, "event_waits_expired")) == (1, 1)


def test_events_that_cannot_be_joined_cost_their_span_its_events_not_the_batch(
    sink: ReconifySink, start_bridge: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """However the join of one span's events fails, that span is sent without them (counted
    as bad_attributes, one per event), every other span with theirs: 200."""

    def failing(attributes: Any, events: Any, *args: Any) -> Any:
        if attributes.get("aws.request_id") == "req-hostile":
            raise TypeError("a body nothing foresaw")
        return real_joined(attributes, events, *args)

    monkeypatch.setattr("reconify_otel.prepare.joined", failing)
    url, app = start_bridge(events_wait=0)
    hostile, innocent = bedrock_call("req-hostile"), bedrock_call("req-innocent")
    export_logs(url, hostile.logs + innocent.logs, TOKEN)
    assert post(url, protobuf(hostile.spans + innocent.spans)).status_code == 200
    sent = {without_keys(p)["response"]["requestId"]: without_keys(p) for p in sink.payloads}
    assert sent == {
        "req-hostile": expected("req-hostile", messages=False),
        "req-innocent": expected("req-innocent"),
    }
    assert (_count(app, "bad_attributes"), _count(app, "events_held")) == (2, 0)


def test_a_fault_of_the_bridge_is_a_counted_503_and_the_resend_sends_each_span_once(
    sink: ReconifySink,
    start_bridge: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An exception nothing foresaw in a trace request's worker: 503 with Retry-After (the
    Collector retries it; on uvicorn's 500 it drops the batch), counted as internal_errors,
    logged without its message; the span and its events are kept for the resend."""
    url, app = start_bridge(events_wait=0, retry_after=2.0)
    call = bedrock_call("req-fault")
    export_logs(url, call.logs, TOKEN)
    pipeline = app._forwarder._pipeline
    deliver = pipeline.deliver

    def fault(*args: Any) -> Any:
        monkeypatch.setattr(pipeline, "deliver", deliver)  # once
        raise RuntimeError(SECRET)

    monkeypatch.setattr(pipeline, "deliver", fault)
    with caplog.at_level(logging.DEBUG):
        answer = post(url, protobuf(call.spans))
    assert (answer.status_code, answer.headers.get("Retry-After")) == (503, "2")
    assert (_count(app, "internal_errors"), _count(app, "http_503")) == (1, 1)
    assert "RuntimeError" in caplog.text and SECRET not in caplog.text
    assert sink.payloads == []
    assert post(url, protobuf(call.spans)).status_code == 200
    assert post(url, protobuf(call.spans)).status_code == 200  # settled: not sent again
    assert [without_keys(p) for p in sink.payloads] == [expected("req-fault")]


def test_events_are_converted_within_the_memory_left_for_them() -> None:
    """An event whose body would hold more memory than the room left is refused before it
    is converted whole; a smaller one after it is kept, its size what it holds."""
    request = ExportLogsServiceRequest()
    records = request.resource_logs.add().scope_logs.add().log_records
    for span_id, count in ((1, 100_000), (2, 10)):
        record = records.add()
        record.trace_id, record.span_id = (9).to_bytes(16, "big"), span_id.to_bytes(8, "big")
        record.event_name = "gen_ai.user.message"
        for _ in range(count):
            record.body.array_value.values.add().kvlist_value.SetInParent()
    read = genai_events(request, room=64 * 1024)
    assert (read.refused, len(read.events)) == (1, 1)
    (kept,) = read.events
    assert kept.event.body == [{}] * 10
    assert 10 * 64 < kept.size < 2048  # ten empty dicts and a list: far more than as sent
    assert genai_events(request).refused == 0  # no room given: every event converted
