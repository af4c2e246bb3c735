"""The GenAI log events of calls whose spans have not been mapped yet, keyed by the span
they belong to (trace and span id), so a span takes its content when it is mapped.

Bounded, so memory is whatever the application does:

- at most ``max_spans`` (2,048) spans' events; a new span beyond that drops the span
  that waited longest;
- at most ``max_events`` (256) events per span: an agent's loop of more messages keeps
  its newest ones (the question) and every answer event (``gen_ai.choice``, the details
  event), the oldest request messages are dropped;
- at most ``max_total`` (16,384) events across spans: beyond that the spans that waited
  longest are dropped, whole;
- ``ttl_s`` (five minutes) from a span's latest event, not its first: a stream emits
  its request's events when it starts and its answer's when it ends, so a long one (a
  model thinking for minutes) keeps its question until its answer comes. What outlived it
  is dropped as events come, as a span takes its own (a look at the oldest span, mostly),
  and on ``expire``. The count bounds hold memory whatever the time.

Every event dropped, and every one without a span, is told to ``on_unjoined`` (counted
as ``events_unjoined``), never kept. Thread-safe: an instrumentation emits from the
application's threads.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from reconify_otel.core.llm.events import CHOICE, DETAILS, GenAiEvent

SpanKey = tuple[int, int]  # (trace id, span id)
_ANSWERS = frozenset({CHOICE, DETAILS})  # kept whatever the bound: the call's answer


class _Waiting:
    """A span's events, and when the latest came."""

    __slots__ = ("events", "last")

    def __init__(self, last: float) -> None:
        self.last = last
        self.events: list[GenAiEvent] = []


class EventJoin:
    __slots__ = (
        "_by_span",
        "_clock",
        "_lock",
        "_max_events",
        "_max_spans",
        "_max_total",
        "_on_unjoined",
        "_total",
        "_ttl_s",
    )

    def __init__(
        self,
        on_unjoined: Callable[[int], None] = lambda count: None,
        max_spans: int = 2048,
        max_events: int = 256,
        ttl_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        max_total: int = 16_384,
    ) -> None:
        # Oldest activity first: a span moves to the end with each event.
        self._by_span: OrderedDict[SpanKey, _Waiting] = OrderedDict()
        self._lock = threading.Lock()
        self._on_unjoined = on_unjoined
        self._max_spans, self._max_events, self._ttl_s = max_spans, max(1, max_events), ttl_s
        self._max_total = max(self._max_events, max_total)
        self._total = 0
        self._clock = clock

    def add(self, trace_id: int, span_id: int, event: GenAiEvent) -> None:
        """Keep ``event`` for its span; an event without a span (ids 0) joins nothing."""
        if not trace_id or not span_id:
            self._on_unjoined(1)
            return
        now = self._clock()
        key = (trace_id, span_id)
        with self._lock:
            waiting = self._by_span.get(key)
            if waiting is None:
                dropped = self._evict(now, room=True)
                waiting = self._by_span[key] = _Waiting(now)
            else:
                waiting.last = now
                self._by_span.move_to_end(key)
                dropped = self._evict(now, room=False)
            waiting.events.append(event)
            self._total += 1
            if len(waiting.events) > self._max_events:
                del waiting.events[_oldest_request(waiting.events)]
                self._total -= 1
                dropped += 1
            dropped += self._within_total()
        if dropped:
            self._on_unjoined(dropped)

    def take(self, trace_id: int, span_id: int) -> list[GenAiEvent]:
        """The span's events, in the order emitted; they are no longer kept. Then what
        outlived ``ttl_s`` goes (a look at the oldest span, mostly)."""
        with self._lock:
            waiting = self._by_span.pop((trace_id, span_id), None)  # its own, however old
            if waiting is not None:
                self._total -= len(waiting.events)
            dropped = self._evict(self._clock(), room=False)
        if dropped:
            self._on_unjoined(dropped)
        return waiting.events if waiting is not None else []

    def has(self, trace_id: int, span_id: int) -> bool:
        with self._lock:
            return (trace_id, span_id) in self._by_span

    def expire(self) -> None:
        """Drop what outlived ``ttl_s`` (also done as events come and as spans take)."""
        with self._lock:
            dropped = self._evict(self._clock(), room=False)
        if dropped:
            self._on_unjoined(dropped)

    def count_unjoined(self, count: int = 1) -> None:
        """Count events that were GenAI log events but could not be kept (unreadable)."""
        self._on_unjoined(count)

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_span)

    @property
    def events(self) -> int:
        """How many events wait, across spans."""
        with self._lock:
            return self._total

    def _evict(self, now: float, room: bool) -> int:
        """Under the lock: the expired spans' events, and the oldest while full (``room``:
        one span more is coming)."""
        dropped = 0
        spans = self._by_span
        while spans:
            key, waiting = next(iter(spans.items()))
            if now - waiting.last < self._ttl_s and (not room or len(spans) < self._max_spans):
                break
            del spans[key]
            dropped += len(waiting.events)
        self._total -= dropped
        return dropped

    def _within_total(self) -> int:
        """Under the lock: the spans that waited longest dropped while over ``max_total``
        (never the span just added to, the newest: one span alone is within it)."""
        dropped = 0
        spans = self._by_span
        while self._total > self._max_total and len(spans) > 1:
            _, waiting = spans.popitem(last=False)
            self._total -= len(waiting.events)
            dropped += len(waiting.events)
        return dropped


def _oldest_request(events: list[GenAiEvent]) -> int:
    """The position of the oldest event that is no answer (the first, if all are)."""
    return next((n for n, e in enumerate(events) if e.name not in _ANSWERS), 0)
