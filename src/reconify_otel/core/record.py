"""A source-neutral view of one finished span: what the mapping needs, nothing more.

SDK spans (in-process exporter) and OTLP protobuf spans (bridge) are both turned into a
``SpanRecord`` so one mapping serves every source, and the same call gives the same
payload whichever route it took. The conversions live with their routes, so the core
imports neither the SDK nor protobuf.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reconify_otel.core.conventions import Classification


@dataclass(frozen=True, slots=True)
class SpanRecord:
    name: str
    attributes: Mapping[str, Any]
    start_ns: int
    end_ns: int
    is_error: bool = False
    trace_id: int = 0
    span_id: int = 0
    parent_span_id: int = 0  # 0: a root, or not known
    scope: str = ""  # the instrumentation scope's name (some record answers as requests)
    # What selection found the span to be, so the mapping need not work it out again; None
    # where a record was built without selecting (the mapping then classifies it).
    classification: Classification | None = field(default=None, compare=False, repr=False)
