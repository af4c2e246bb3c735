"""OTLP protobuf spans as ``SpanRecord``s: the bridge's side of the source-neutral view."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from reconify_otel.core.conventions import Classification
from reconify_otel.core.mapping import Selection, is_selected
from reconify_otel.core.record import SpanRecord

MAX_SCOPE_NAME = 128  # characters; instrumentation scopes are dotted module names


def from_otlp(
    span: trace_pb2.Span, classification: Classification | None = None, scope: str = ""
) -> SpanRecord:
    """The bridge's view of an OTLP span; values come out as the SDK holds them.
    ``classification``: what selection found the span to be, carried to the mapping;
    ``scope``: the name of the instrumentation scope it came in."""
    start = span.start_time_unix_nano
    return SpanRecord(
        name=span.name,
        attributes=_attributes(span.attributes),
        start_ns=start,
        end_ns=span.end_time_unix_nano or start,
        is_error=span.status.code == trace_pb2.Status.STATUS_CODE_ERROR,
        trace_id=int.from_bytes(span.trace_id, "big"),
        span_id=int.from_bytes(span.span_id, "big"),
        parent_span_id=int.from_bytes(span.parent_span_id, "big"),
        scope=scope,
        classification=classification,
    )


def selected_spans(
    request: ExportTraceServiceRequest, selects: Selection = is_selected
) -> Iterator[SpanRecord]:
    """The spans of a batch that ``selects`` selects, converted; the rest untouched.

    Most spans in a batch are not interactions: they cost a name check, and a selection that
    needs an attribute reads its key only, so no value of theirs is ever converted.
    """
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            # Read once, capped and shared by the scope's spans (the dedup window keeps
            # it): a client's megabyte-long scope name must not be copied per span.
            scope = sys.intern(scope_spans.scope.name[:MAX_SCOPE_NAME])
            for span in scope_spans.spans:
                found = selects.classify(span.name, _LazyAttributes(span.attributes), scope)
                if found is not None:
                    yield from_otlp(span, found, scope)


def _attributes(pairs: Iterable[common_pb2.KeyValue]) -> dict[str, Any]:
    return {kv.key: value for kv in pairs if (value := _value(kv.value)) is not None}


def _value(value: common_pb2.AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return tuple(_value(item) for item in value.array_value.values)
    if kind == "kvlist_value":
        return _attributes(value.kvlist_value.values)
    return None if kind is None else getattr(value, kind)


class _LazyAttributes(Mapping[str, Any]):
    """A protobuf span's attributes as a ``Mapping`` that converts only what is read."""

    __slots__ = ("_pairs",)

    def __init__(self, pairs: Sequence[common_pb2.KeyValue]) -> None:
        self._pairs = pairs

    def __contains__(self, key: object) -> bool:
        return any(kv.key == key for kv in self._pairs)

    def __getitem__(self, key: str) -> Any:
        for kv in reversed(self._pairs):  # the last of repeated keys wins, as in _attributes
            if kv.key == key:
                return _value(kv.value)
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return (kv.key for kv in self._pairs)

    def __len__(self) -> int:
        return len(self._pairs)
