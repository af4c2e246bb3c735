"""The GenAI log events the bridge is sent (``POST /v1/logs``), and the call spans of
trace requests that wait for theirs.

A call's span and its events leave the application in different exports, so they reach
the bridge in different requests, in either order. The events wait in the ``Preparer``'s
``EventJoin`` for their span. A span that may have its content in events (a GenAI
convention call that records none itself) and whose answer event has not come yet waits
for it inside its own request, so the Collector's retries work as before: at most
``events_wait`` seconds, woken as events come (a ``Condition``, no polling), then it is
sent with whatever came.

Only the spans of instrumentations that record a call's content as log events wait
(``EVENT_SCOPES``): another's span without content (openai-v2's by default) records none
anywhere, and waiting for it would only hold a worker ``events_wait`` seconds for nothing.
Its events, if any came first, are still joined.

A call's events are complete once its answer came: ``gen_ai.choice`` (one per message
events, emitted after the model answered) or the single
``gen_ai.client.inference.operation.details``. Waiting for the first event alone would
send a span whose user message came in one export without the answer still in the next.

Events taken for a span that is then not delivered (the batch answered 503) are given
back: the Collector resends the trace batch, never the logs it was answered 200 for.

The join bounds how many events wait; their memory is bounded here: at most
``MAX_HELD_BYTES`` of events, as converted to Python objects (``otlp_logs``: not their
size as sent, which can be 18 times smaller), wait at once, beyond which new events are
refused (counted as ``events_unjoined``), so spans that never come (a traces pipeline
that is broken, or filters them out) cannot hold the bridge's memory.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from reconify_otel.bridge.otlp_logs import SpanEvent
from reconify_otel.core.conventions.classification import Convention
from reconify_otel.core.conventions.genai import (
    EVENT_SCOPE_PREFIXES,
    INDEXED_COMPLETIONS,
    INDEXED_PROMPTS,
)
from reconify_otel.core.llm.events import CHOICE, CONTENT_KEYS, DETAILS, GenAiEvent
from reconify_otel.core.record import SpanRecord
from reconify_otel.runtime.counters import Counters, Event
from reconify_otel.runtime.event_join import EventJoin, SpanKey

# The events a call's answer comes in: once one is in, the call's events are.
ANSWERS = frozenset({CHOICE, DETAILS})
# Spans whose answer event came (or whose bytes are counted), remembered until their span
# takes them; beyond this, the oldest first (spans that never came) are let go of.
MAX_ANSWERED = 4096
MAX_HELD_BYTES = 64 * 1024 * 1024  # of memory, as converted
_OLDER_CONTENT = (f"{INDEXED_PROMPTS}.", f"{INDEXED_COMPLETIONS}.")
# The scopes of the instrumentations that record a call's content as log events only:
# botocore's (``opentelemetry.instrumentation.botocore.bedrock-runtime``), and
# util-genai's in its ``EVENT_ONLY`` mode (openai-v2 2.4's, google-genai's). util-genai's
# spans with content off look the same (the mode is not on the span): they wait too.
# To move to core.conventions.genai as EVENT_SCOPE_PREFIXES.
EVENT_SCOPES = EVENT_SCOPE_PREFIXES


def may_have_events(record: SpanRecord) -> bool:
    """A GenAI convention model call the bridge would send, of an instrumentation that
    records content as log events (``EVENT_SCOPES``), recording no content itself (neither
    the current attributes nor the older ``gen_ai.prompt.*``/``completion.*``)."""
    found = record.classification
    if found is None or found.convention is not Convention.GENAI or record.is_error:
        return False
    if found.unsupported_provider is not None or not record.scope.startswith(EVENT_SCOPES):
        return False
    return not any(k in CONTENT_KEYS or k.startswith(_OLDER_CONTENT) for k in record.attributes)


def key_of(record: SpanRecord) -> SpanKey:
    return (record.trace_id, record.span_id)


@dataclass(frozen=True, slots=True)
class Taken:
    """A span's events, taken for its mapping, and the bytes they held (``otlp_logs``)."""

    events: list[GenAiEvent]
    size: int


class EventArrivals:
    """Thread-safe: events come in the decoding thread, spans wait in worker threads."""

    def __init__(
        self,
        join: EventJoin,
        counters: Counters,
        wait_s: float,
        max_waiters: int,
        max_bytes: int = MAX_HELD_BYTES,
    ) -> None:
        self._join = join
        self._counters = counters
        self._wait_s = wait_s
        self._max_waiters = max_waiters
        self._max_bytes = max_bytes
        self._changed = threading.Condition()
        # Guarded by _changed: spans whose answer came; bytes held by span, and in all.
        self._answered: OrderedDict[SpanKey, None] = OrderedDict()
        self._sizes: dict[SpanKey, int] = {}
        self._held = 0
        self._waiters = 0

    @property
    def waiters(self) -> int:
        return self._waiters

    @property
    def held_bytes(self) -> int:
        return self._held

    def room(self) -> int:
        """Bytes more events may hold now: what ``otlp_logs`` may convert for them."""
        with self._changed:
            if self._held > self._max_bytes // 2:
                self._let_go()
            return max(0, self._max_bytes - self._held)

    def add(self, events: Iterable[SpanEvent]) -> None:
        """Keep ``events`` for their spans; wake the spans whose answer this brings."""
        answered = False
        refused = 0
        with self._changed:
            for item in events:
                key = (item.trace_id, item.span_id)
                if item.trace_id and item.span_id:
                    if not self._room_for(item.size):
                        refused += 1
                        continue
                    self._sizes[key] = self._sizes.get(key, 0) + item.size
                    self._held += item.size
                self._join.add(item.trace_id, item.span_id, item.event)  # no span: counted
                if item.event.name in ANSWERS and item.trace_id and item.span_id:
                    self._answered[key] = None
                    self._answered.move_to_end(key)
                    answered = True
            while len(self._answered) > MAX_ANSWERED:
                self._answered.popitem(last=False)
            if answered:
                self._changed.notify_all()
        if refused:
            self._counters.add(Event.EVENTS_UNJOINED, refused)

    def gather(self, records: Sequence[SpanRecord]) -> dict[SpanKey, Taken]:
        """The events of ``records``, taken from the join, once every record that may have
        its content in events has its answer or ``wait_s`` has passed."""
        self._wait({key_of(r) for r in records if may_have_events(r)})
        found: dict[SpanKey, Taken] = {}
        taking = len(self._join) > 0
        with self._changed:
            for record in records:
                key = key_of(record)
                self._answered.pop(key, None)
                if not taking:
                    continue
                events = self._join.take(record.trace_id, record.span_id)
                size = self._sizes.pop(key, 0)
                self._held -= size
                if events:
                    found[key] = Taken(events, size)
        return found

    def give_back(self, key: SpanKey, taken: Taken) -> None:
        """The events of a span that was not delivered, for the Collector's resend."""
        share = taken.size // max(1, len(taken.events))
        self.add(SpanEvent(key[0], key[1], event, share) for event in taken.events)

    def _room_for(self, size: int) -> bool:
        """Under the lock: whether ``size`` more bytes fit, once the spans the join let
        go of (expired, or pushed out while full) are no longer counted; they are looked
        for only when the bytes or the spans counted pass their bounds."""
        if self._held + size <= self._max_bytes and len(self._sizes) < MAX_ANSWERED:
            return True
        self._let_go()
        return self._held + size <= self._max_bytes

    def _let_go(self) -> None:
        """Under the lock: no longer count the spans the join let go of."""
        self._join.expire()
        for key in [key for key in self._sizes if not self._join.has(*key)]:
            self._held -= self._sizes.pop(key)

    def _wait(self, keys: set[SpanKey]) -> None:
        if not keys or self._wait_s <= 0:
            return
        with self._changed:
            missing = [key for key in keys if key not in self._answered]
            if not missing:
                return
            self._counters.add(Event.EVENT_WAITS, len(missing))
            if self._waiters < self._max_waiters:  # else: sent at once, without them
                self._waiters += 1
                try:
                    self._changed.wait_for(
                        lambda: all(key in self._answered for key in missing), self._wait_s
                    )
                finally:
                    self._waiters -= 1
            late = sum(key not in self._answered for key in missing)
        if late:
            self._counters.add(Event.EVENT_WAITS_EXPIRED, late)
