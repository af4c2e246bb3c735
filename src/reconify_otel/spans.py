"""A source-neutral view of one finished span: what the mapping needs, nothing more.

SDK spans (in-process exporter) and OTLP protobuf spans (bridge) are both turned
into a ``SpanRecord`` so one mapping serves every source.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode


@dataclass(frozen=True, slots=True)
class SpanRecord:
    name: str
    attributes: Mapping[str, Any]
    start_ns: int
    end_ns: int
    is_error: bool = False
    trace_id: int = 0
    span_id: int = 0


def from_sdk(span: ReadableSpan) -> SpanRecord:
    context = span.context
    start = span.start_time or 0
    return SpanRecord(
        name=span.name,
        attributes=span.attributes or {},
        start_ns=start,
        end_ns=span.end_time or start,
        is_error=span.status.status_code is StatusCode.ERROR,
        trace_id=context.trace_id if context is not None else 0,
        span_id=context.span_id if context is not None else 0,
    )
