"""The GenAI log events of calls whose spans have not been mapped yet, keyed by the span
they belong to (trace and span id), so a span takes its content when it is mapped.

Bounded: at most ``max_spans`` spans' events, ``max_events`` each, for ``ttl_s`` seconds;
what leaves unjoined (its span never came, or was no call) is counted, never kept.
Thread-safe: an instrumentation emits from the application's threads.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from reconify_otel.core.llm.events import GenAiEvent

SpanKey = tuple[int, int]  # (trace id, span id)


class EventJoin:
    __slots__ = (
        "_by_span",
        "_clock",
        "_lock",
        "_max_events",
        "_max_spans",
        "_on_unjoined",
        "_ttl_s",
    )

    def __init__(
        self,
        on_unjoined: Callable[[int], None] = lambda count: None,
        max_spans: int = 2048,
        max_events: int = 64,
        ttl_s: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._by_span: OrderedDict[SpanKey, tuple[float, list[GenAiEvent]]] = OrderedDict()
        self._lock = threading.Lock()
        self._on_unjoined = on_unjoined
        self._max_spans, self._max_events, self._ttl_s = max_spans, max_events, ttl_s
        self._clock = clock

    def add(self, trace_id: int, span_id: int, event: GenAiEvent) -> None:
        """Keep ``event`` for its span; an event without a span (ids 0) joins nothing."""
        if not trace_id or not span_id:
            self._on_unjoined(1)
            return
        now = self._clock()
        dropped = 0
        with self._lock:
            entry = self._by_span.get((trace_id, span_id))
            if entry is None:
                dropped += self._evict(now)
                entry = (now, [])
                self._by_span[(trace_id, span_id)] = entry
            if len(entry[1]) < self._max_events:
                entry[1].append(event)
            else:
                dropped += 1
        if dropped:
            self._on_unjoined(dropped)

    def take(self, trace_id: int, span_id: int) -> list[GenAiEvent]:
        """The span's events, in the order emitted; they are no longer kept."""
        with self._lock:
            entry = self._by_span.pop((trace_id, span_id), None)
        return entry[1] if entry is not None else []

    def has(self, trace_id: int, span_id: int) -> bool:
        with self._lock:
            return (trace_id, span_id) in self._by_span

    def expire(self) -> None:
        """Drop what outlived ``ttl_s`` (also done as events come)."""
        with self._lock:
            dropped = self._evict(self._clock(), room=False)
        if dropped:
            self._on_unjoined(dropped)

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_span)

    def _evict(self, now: float, room: bool = True) -> int:
        """Under the lock: the expired spans' events, and the oldest while full."""
        dropped = 0
        spans = self._by_span
        while spans:
            key, (added, events) = next(iter(spans.items()))
            if now - added < self._ttl_s and (not room or len(spans) < self._max_spans):
                break
            del spans[key]
            dropped += len(events)
        return dropped
