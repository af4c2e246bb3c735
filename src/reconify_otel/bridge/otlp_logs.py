"""OTLP log records as the GenAI events of calls: the bridge's side of ``/v1/logs``.

Some instrumentations record a call's messages only as GenAI log events
(``opentelemetry-instrumentation-botocore``, ``opentelemetry-util-genai`` in its
``EVENT_ONLY`` mode). The Collector's ``logs/reconify`` pipeline brings them here, in
requests of their own; ``genai_events`` reads the ones ``core.llm.events`` joins to a
span, and every other record costs a name check (its body is never converted).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.logs.v1 import logs_pb2

from reconify_otel.bridge.otlp_spans import attributes_of, body_of
from reconify_otel.core.conventions.genai import EVENT_NAME
from reconify_otel.core.llm.events import NAMES, GenAiEvent

# The LogRecord field ``event_name`` came with OTLP 1.5 (opentelemetry-proto 1.30); older
# protos, and SDKs before it, name the event by the ``event.name`` attribute only.
HAS_EVENT_NAME = "event_name" in logs_pb2.LogRecord.DESCRIPTOR.fields_by_name


@dataclass(frozen=True, slots=True)
class SpanEvent:
    """One GenAI event and the span it belongs to (ids as the span side reads them)."""

    trace_id: int
    span_id: int
    event: GenAiEvent
    size: int = 0  # bytes of the log record as sent (protobuf)


@dataclass(slots=True)
class Read:
    """What a logs request held: its GenAI events, and how many records were not one."""

    events: list[SpanEvent]
    ignored: int = 0


def genai_events(request: ExportLogsServiceRequest) -> Read:
    """The request's GenAI events, in the order sent; the rest counted as ``ignored``."""
    read = Read([])
    for resource_logs in request.resource_logs:
        for scope_logs in resource_logs.scope_logs:
            for record in scope_logs.log_records:
                event = _event(record)
                if event is None:
                    read.ignored += 1
                else:
                    read.events.append(event)
    return read


def _event(record: logs_pb2.LogRecord) -> SpanEvent | None:
    name = _name(record)
    if name not in NAMES:
        return None
    try:
        event = GenAiEvent(name, body_of(record.body), attributes_of(record.attributes))
    except RecursionError:  # a body nested beyond reason: no call's message
        return None
    return SpanEvent(
        int.from_bytes(record.trace_id, "big"),
        int.from_bytes(record.span_id, "big"),
        event,
        record.ByteSize(),
    )


def _name(record: logs_pb2.LogRecord) -> str:
    if HAS_EVENT_NAME and record.event_name:
        return str(record.event_name)
    return _string_attribute(record.attributes, EVENT_NAME)


def _string_attribute(pairs: Sequence[common_pb2.KeyValue], key: str) -> str:
    for kv in reversed(pairs):  # the last of repeated keys wins, as on the span side
        if kv.key == key:
            return str(kv.value.string_value) if kv.value.HasField("string_value") else ""
    return ""
