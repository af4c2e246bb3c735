"""OTLP log records as the GenAI events of calls: the bridge's side of ``/v1/logs``.

Some instrumentations record a call's messages only as GenAI log events
(``opentelemetry-instrumentation-botocore``, ``opentelemetry-util-genai`` in its
``EVENT_ONLY`` mode). The Collector's ``logs/reconify`` pipeline brings them here, in
requests of their own; ``genai_events`` reads the ones ``core.llm.events`` joins to a
span, and every other record costs a name check (its body is never converted).

Converted, an event is held as Python objects until its span comes, and those cost far
more than the event as sent: an array of empty kvlists is 2 bytes a value on the wire and
72 in memory (a list slot and an empty dict), 18 times the protobuf size over a whole
body. So each event's ``size`` is what it holds in memory, charged as it is converted
(``sys.getsizeof`` of every object made, singletons such as ``None`` and ``True`` free),
and conversion stops as soon as ``room`` is spent: an event that does not fit is refused
(``Read.refused``) before it has cost more than the room there was.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.logs.v1 import logs_pb2

from reconify_otel.core.conventions.genai import EVENT_NAME
from reconify_otel.core.llm.events import NAMES, GenAiEvent

# The LogRecord field ``event_name`` came with OTLP 1.5 (opentelemetry-proto 1.30); older
# protos, and SDKs before it, name the event by the ``event.name`` attribute only.
HAS_EVENT_NAME = "event_name" in logs_pb2.LogRecord.DESCRIPTOR.fields_by_name

_LIST: Final = sys.getsizeof([])  # 56 on 64-bit CPython 3.11; a slot is a pointer more
_TUPLE: Final = sys.getsizeof(())
_SLOT: Final = 8


@dataclass(frozen=True, slots=True)
class SpanEvent:
    """One GenAI event and the span it belongs to (ids as the span side reads them)."""

    trace_id: int
    span_id: int
    event: GenAiEvent
    size: int = 0  # bytes it holds in memory, as converted (an estimate from below)


# What holding one event costs besides its name, body and attributes: the ``GenAiEvent``
# and ``SpanEvent``, two 128- and 64-bit ids, the join's list slot.
_EVENT: Final = (
    sys.getsizeof(GenAiEvent("", None, {}))
    + sys.getsizeof(SpanEvent(0, 0, GenAiEvent("", None, {})))
    + sys.getsizeof(1 << 127)
    + sys.getsizeof(1 << 63)
    + _SLOT
)


@dataclass(slots=True)
class Read:
    """What a logs request held: its GenAI events, how many GenAI events could not be kept
    (over the room left, or unreadable: ``refused``), and how many records were none."""

    events: list[SpanEvent]
    ignored: int = 0
    refused: int = 0


class _Spent(Exception):
    """Converting an event took all the room there was."""


def genai_events(request: ExportLogsServiceRequest, room: int = sys.maxsize) -> Read:
    """The request's GenAI events, in the order sent, converted within ``room`` bytes of
    memory in all; the events over it ``refused``, the rest counted as ``ignored``."""
    read = Read([])
    for resource_logs in request.resource_logs:
        for scope_logs in resource_logs.scope_logs:
            for record in scope_logs.log_records:
                name = _name(record)
                if name not in NAMES:
                    read.ignored += 1
                    continue
                event = _event(record, name, room)
                if event is None:
                    read.refused += 1
                else:
                    read.events.append(event)
                    room -= event.size
    return read


def _event(record: logs_pb2.LogRecord, name: str, room: int) -> SpanEvent | None:
    convert = _Converter(room - _EVENT)
    try:
        convert.charge(name)
        body = convert.body(record.body)
        attributes = convert.attributes(record.attributes)
    except Exception:  # _Spent; RecursionError (nested beyond reason); what nothing foresaw
        return None
    return SpanEvent(
        int.from_bytes(record.trace_id, "big"),
        int.from_bytes(record.span_id, "big"),
        GenAiEvent(name, body, attributes),
        room - convert.left,
    )


class _Converter:
    """OTLP values as the SDK's log record holds them, each object made charged to
    ``left``; ``_Spent`` once it is below zero. A list's or tuple's slots are charged
    before it is made, a dict's entries by their keys as they come: no container grows
    far past the room before it is charged."""

    __slots__ = ("left",)

    def __init__(self, left: int) -> None:
        self.left = left

    def charge(self, made: object) -> None:
        self.left -= sys.getsizeof(made)
        if self.left < 0:
            raise _Spent

    def _reserve(self, size: int) -> None:
        self.left -= size
        if self.left < 0:
            raise _Spent

    def body(self, value: common_pb2.AnyValue) -> Any:
        """A body an instrumentation gave: a kvlist as a dict, an array as a list (nested
        too), a string, number, bool or bytes; empty: None."""
        kind = value.WhichOneof("value")
        if kind == "array_value":
            values = value.array_value.values
            self._reserve(_LIST + _SLOT * len(values))
            items: list[Any] = [None] * len(values)
            for n, item in enumerate(values):
                items[n] = self.body(item)
            return items
        if kind == "kvlist_value":
            found = {self._key(kv): self.body(kv.value) for kv in value.kvlist_value.values}
            self.charge(found)
            return found
        return self._scalar(value, kind)

    def attributes(self, pairs: Sequence[common_pb2.KeyValue]) -> dict[str, Any]:
        """Key-values as the SDK holds attributes (arrays as tuples); empty values left out."""
        found = {
            self._key(kv): converted
            for kv in pairs
            if (converted := self._attribute(kv.value)) is not None
        }
        self.charge(found)
        return found

    def _attribute(self, value: common_pb2.AnyValue) -> Any:
        kind = value.WhichOneof("value")
        if kind == "array_value":
            values = value.array_value.values
            self._reserve(_TUPLE + _SLOT * len(values))
            return tuple(self._attribute(item) for item in values)
        if kind == "kvlist_value":
            return self.attributes(value.kvlist_value.values)
        return self._scalar(value, kind)

    def _key(self, kv: common_pb2.KeyValue) -> str:
        key = str(kv.key)
        self.charge(key)  # the empty key too: a million of them must not be free
        return key

    def _scalar(self, value: common_pb2.AnyValue, kind: str | None) -> Any:
        if kind is None:
            return None
        scalar = getattr(value, kind)
        if kind != "bool_value":  # True and False are shared
            self.charge(scalar)
        return scalar


def _name(record: logs_pb2.LogRecord) -> str:
    if HAS_EVENT_NAME and record.event_name:
        return str(record.event_name)
    return _string_attribute(record.attributes, EVENT_NAME)


def _string_attribute(pairs: Sequence[common_pb2.KeyValue], key: str) -> str:
    for kv in reversed(pairs):  # the last of repeated keys wins, as on the span side
        if kv.key == key:
            return str(kv.value.string_value) if kv.value.HasField("string_value") else ""
    return ""
