"""SDK spans as ``SpanRecord``s, for the in-process routes."""

from __future__ import annotations

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

from reconify_otel.core.conventions import Classification
from reconify_otel.core.record import SpanRecord


def scope_of(span: ReadableSpan) -> str:
    """The name of the instrumentation scope that made the span ("" if none)."""
    scope = span.instrumentation_scope
    return scope.name if scope is not None else ""


def from_sdk(span: ReadableSpan, classification: Classification | None = None) -> SpanRecord:
    """``classification``: what selection found the span to be, carried to the mapping."""
    context = span.context
    start = span.start_time or 0
    return SpanRecord(
        name=span.name,
        # A plain dict: the mapping reads dozens of keys, each slow through the SDK's proxy.
        attributes=dict(span.attributes) if span.attributes else {},
        start_ns=start,
        end_ns=span.end_time or start,
        is_error=span.status.status_code is StatusCode.ERROR,
        trace_id=context.trace_id if context is not None else 0,
        span_id=context.span_id if context is not None else 0,
        parent_span_id=span.parent.span_id if span.parent is not None else 0,
        scope=scope_of(span),
        classification=classification,
    )
