"""The GenAI log events of calls through a real OpenTelemetry Collector running
``otel-collector-config.yaml``: application (the SDK's ``OTLPSpanExporter`` and
``OTLPLogExporter``) -> Collector (``traces/reconify`` and ``logs/reconify``) -> bridge
(uvicorn) -> loopback Reconify sink.

A Bedrock call as ``opentelemetry-instrumentation-botocore`` records it keeps its messages
in log events, not on its span; the Collector's two pipelines deliver span and events to
the bridge in separate requests, in no set order, and the bridge sends one payload with
the messages. ``filter/genai-events`` drops every other log record before the bridge.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

import pytest
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import (
    InMemoryLogRecordExporter,
    LogRecordExportResult,
    SimpleLogRecordProcessor,
)

from reconify_otel.bridge import BridgeApp
from reconify_otel.offline.sink import ReconifySink

from . import collector_bridge, collector_build, collector_process
from .bridge_events import bedrock_call, expected, without_keys
from .collector_bridge import DELIVERY_TIMEOUT as DELIVERY
from .collector_bridge import Bridge, in_order, settle, wait_until
from .collector_process import Collector, Recorded, send

# The shared fixtures, bound by name.
otelcol = collector_build.otelcol
start_collector = collector_process.start_collector
jaeger = collector_process.jaeger
start_bridge = collector_bridge.start_bridge

# The first test may pay for a cold build.
pytestmark = [pytest.mark.collector, pytest.mark.timeout(1200)]

# Both pipelines flush their queue's batch after 1 s: a span may come well before or after
# its events; the bridge waits up to this for them.
EVENTS_WAIT = 8.0


def export_logs(collector: Collector, logs: Sequence[ReadableLogRecord]) -> None:
    """The application's log exporter, pointed at the Collector."""
    port = collector.ports["http"]
    exporter = OTLPLogExporter(endpoint=f"http://127.0.0.1:{port}/v1/logs", timeout=10)
    try:
        assert exporter.export(logs) is LogRecordExportResult.SUCCESS
    finally:
        exporter.shutdown()


def other_logs() -> list[ReadableLogRecord]:
    """Log records the Collector must not pass to the bridge: an application's log line and
    an event of another kind."""
    memory = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    logger = provider.get_logger("app")
    logger.emit(body="user 42 logged in", attributes={"http.route": "/login"})
    logger.emit(event_name="app.audit", body={"action": "login"})
    logger.emit(body="not a choice", attributes={"event.name": "gen_ai.choices"})
    return list(memory.get_finished_logs())


def test_a_call_and_its_events_through_the_collector_make_one_payload(
    sink: ReconifySink,
    start_bridge: Callable[..., Bridge],
    start_collector: Callable[[str, int], Collector],
    jaeger: tuple[int, Recorded],
) -> None:
    bridge = start_bridge(events_wait=EVENTS_WAIT)
    app = bridge.recorder.app
    assert isinstance(app, BridgeApp)
    collector = start_collector(bridge.url, jaeger[0])
    # Events first (named by LogRecord.event_name, as SDKs 1.35+ send them): they are at
    # the bridge before their span leaves the application.
    first = bedrock_call("req-collector-events-first")
    export_logs(collector, [*first.logs, *other_logs()])
    wait_until(lambda: app.stats().get("log_events") == 2, DELIVERY, "the first events")
    send(collector, first.spans)
    wait_until(lambda: sink.accepted == 1, DELIVERY, "the first payload")
    # Span first, events named by the ``event.name`` attribute (older SDKs): the span's
    # request waits in the bridge until its events come through the logs pipeline.
    second = bedrock_call("req-collector-span-first", by_attribute=True)
    send(collector, second.spans)
    wait_until(lambda: app.stats().get("event_waits") == 1, DELIVERY, "the waiting span")
    export_logs(collector, second.logs)

    settle(sink, 2)
    assert in_order([without_keys(p) for p in sink.payloads]) == in_order(
        [expected("req-collector-events-first"), expected("req-collector-span-first")]
    )
    stats = app.stats()
    counted = {
        name: stats.get(name, 0)
        for name in ("log_events", "log_records_ignored", "event_waits", "event_waits_expired")
    }
    # The Collector dropped the other records; only the second span waited, and not long.
    assert counted == {
        "log_events": 4,
        "log_records_ignored": 0,
        "event_waits": 1,
        "event_waits_expired": 0,
    }
    assert stats["events_held"] == 0 and stats["events_unjoined"] == 0
    assert collector.errors() == [], json.dumps(collector.errors())[:2000]
