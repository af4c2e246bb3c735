"""From a decoded OTLP batch to Reconify: select, deduplicate, map, encode, send.

The same ``Preparer`` (select, map, shape, encode) and delivery ``Pipeline`` as the
in-process exporter, so an interaction gives the same payload by either route; only the
policy differs: the undelivered are handed back (503, the Collector keeps and resends the
batch) instead of spooled, and one ``Latch`` per request stands for the ``Breaker``. What
is new here is only what a server needs: remembering what was delivered, so the
Collector's whole-batch retries send each interaction once, and a verdict the
HTTP layer turns into 200, partial success or 503; and the GenAI log events of calls,
which come in requests of their own (``receive_logs``), joined to their spans
(``arrivals``: a call's span may wait for them, and keeps them for a resend).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from reconify_otel.bridge.arrivals import EventArrivals, Taken
from reconify_otel.bridge.otlp_logs import genai_events
from reconify_otel.bridge.otlp_spans import selected_spans
from reconify_otel.core.payload import Skip, Skipped
from reconify_otel.core.record import SpanRecord
from reconify_otel.delivery.breaker import Latch
from reconify_otel.delivery.outcome import Outcome
from reconify_otel.delivery.pipeline import Pipeline
from reconify_otel.prepare import Prepared, Preparer
from reconify_otel.runtime.counters import Counters, Event
from reconify_otel.runtime.event_join import SpanKey
from reconify_otel.runtime.logs import RateLimitedLog
from reconify_otel.settings import Settings

logger = logging.getLogger("reconify_otel.bridge")


class Seen(Enum):
    NEW = "new"  # claimed by the caller, who must settle or release it
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    SENDING = "sending"  # another request is sending it right now


class DedupWindow:
    """Spans already settled (bounded LRU) plus those being sent. Thread-safe.

    A span being sent by one request is not sent again by a concurrent retry of
    the same batch; that retry is told to come back (503) once the outcome is known.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._settled: OrderedDict[int, bool] = OrderedDict()  # key -> rejected
        self._sending: set[int] = set()

    def claim(self, keys: Sequence[int]) -> list[Seen]:
        seen: list[Seen] = []
        with self._lock:
            for key in keys:
                rejected = self._settled.get(key)
                if rejected is not None:
                    self._settled.move_to_end(key)
                    seen.append(Seen.REJECTED if rejected else Seen.ACCEPTED)
                elif key in self._sending:
                    seen.append(Seen.SENDING)
                else:
                    self._sending.add(key)
                    seen.append(Seen.NEW)
        return seen

    def settle(self, key: int, rejected: bool) -> None:
        """Remember a final outcome; a retry will not send this span again."""
        with self._lock:
            self._sending.discard(key)
            if self._size:
                self._settled[key] = rejected
                if len(self._settled) > self._size:
                    self._settled.popitem(last=False)

    def release(self, key: int) -> None:
        """Forget a claim without an outcome, so a retry sends the span again."""
        with self._lock:
            self._sending.discard(key)

    def __len__(self) -> int:
        with self._lock:
            return len(self._settled)


@dataclass(frozen=True, slots=True)
class Verdict:
    rejected: int = 0
    message: str = ""
    retry_after: float | None = None  # set: answer 503, the Collector resends the batch


class Forwarder:
    def __init__(
        self,
        settings: Settings,
        pipeline: Pipeline,
        window: DedupWindow,
        counters: Counters,
        default_retry_after: float,
        events_wait: float = 0.0,
        max_waiters: int = 1,
    ) -> None:
        """``events_wait``: seconds a call's span may wait for its GenAI log events, at
        most ``max_waiters`` requests at once (``arrivals``)."""
        # Personal fields kept out of spans live in the application's process: here only
        # what the spans carry (the user id) is known.
        self._preparer = Preparer(settings, counters, resolve_personal=None)
        self._pipeline = pipeline
        self._window = window
        self._counters = counters
        self._default_retry_after = default_retry_after
        self._timeout = settings.timeout
        self._log = RateLimitedLog(logger)
        self.arrivals = EventArrivals(self._preparer.events, counters, events_wait, max_waiters)

    def receive_logs(self, request: ExportLogsServiceRequest) -> None:
        """Keep a logs request's GenAI events for their spans; other records are counted."""
        read = genai_events(request, self.arrivals.room())  # converted within their room
        if read.events or read.refused:
            self._counters.add(Event.LOG_EVENTS, len(read.events) + read.refused)
        if read.refused:  # over the room, or unreadable
            self._counters.add(Event.EVENTS_UNJOINED, read.refused)
        if read.ignored:
            self._counters.add(Event.LOG_RECORDS_IGNORED, read.ignored)
        self.arrivals.add(read.events)

    def events_held(self) -> int:
        """Spans whose GenAI events wait for them, once those past their time are counted."""
        self._preparer.events.expire()
        return len(self._preparer.events)

    def forward(self, request: ExportTraceServiceRequest) -> Verdict:
        records = _unique(selected_spans(request, self._preparer.selects))
        self._counters.add(Event.SELECTED_SPANS, len(records))
        keys = [_key(record) for record in records]
        seen = self._window.claim(keys)
        unsettled = {key for key, state in zip(keys, seen, strict=True) if state is Seen.NEW}
        held: dict[int, tuple[SpanKey, Taken]] = {}
        try:
            return self._forward(records, keys, seen, unsettled, held)
        finally:
            for key in unsettled:  # failed, or an error: a retry sends these again
                self._window.release(key)
                if key in held:  # with their events: the Collector resends no logs
                    self.arrivals.give_back(*held[key])

    def _settle(self, key: int, rejected: bool, unsettled: set[int]) -> None:
        unsettled.discard(key)
        self._window.settle(key, rejected)

    def _forward(
        self,
        records: list[SpanRecord],
        keys: list[int],
        seen: list[Seen],
        unsettled: set[int],
        held: dict[int, tuple[SpanKey, Taken]],
    ) -> Verdict:
        reasons: Counter[str] = Counter()
        busy = 0
        sending: list[int] = []
        items: list[Prepared] = []
        # Content recorded as log events: waited for (within ``events_wait``) and joined.
        fresh = [record for record, state in zip(records, seen, strict=True) if state is Seen.NEW]
        gathered = self.arrivals.gather(fresh)
        for record, key, state in zip(records, keys, seen, strict=True):
            if state is not Seen.NEW:
                self._counters.add(Event.DUPLICATES if state is not Seen.SENDING else Event.BUSY)
                busy += state is Seen.SENDING
                if state is Seen.REJECTED:
                    reasons["rejected earlier"] += 1
                continue
            span_key = (record.trace_id, record.span_id)
            taken = gathered.get(span_key)
            if taken is not None:
                with_events = self._preparer.with_events(record, taken.events)
                if with_events is not None:  # else they are not given back on a 503
                    held[key] = (span_key, taken)
                    record = with_events
            result = self._preparer.prepare(record)
            if isinstance(result, Skipped):
                # A failed run or call, and a call already sent, are not sent by design (as
                # in-process); only what cannot be mapped is a rejection for the Collector.
                unmappable = result.reason not in _NOT_REJECTIONS
                if unmappable:
                    reasons[f"{result.reason.value} ({result.detail})"] += 1
                self._settle(key, unmappable, unsettled)
                continue
            sending.append(key)
            items.append(result)

        # After one payload failed for its whole deadline the rest are not tried: the
        # Collector gets 503 at once and resends the batch, instead of this request
        # holding a worker for (spans / threads) x timeout while Reconify is down.
        # One deadline for the whole request, as an export has: the Collector hears back
        # within ``timeout`` (plus a second or so) whatever Reconify's endpoint does.
        deadline = time.monotonic() + self._timeout
        results = self._pipeline.deliver(items, Latch(), deadline)  # the undelivered: ours
        retry_after: float | None = None
        failed = 0
        for key, sent in zip(sending, results, strict=True):
            if sent.attempts:
                self._counters.add(sent.outcome.event)
            if sent.outcome is Outcome.ACCEPTED:
                self._settle(key, False, unsettled)
            elif sent.outcome is Outcome.REJECTED:
                self._settle(key, True, unsettled)
                reasons[f"rejected by Reconify (HTTP {sent.status})"] += 1
            else:  # not tried, FAILED or SHUT_DOWN: left unsettled, resent on retry
                failed += 1
                if sent.retry_after is not None:
                    retry_after = max(retry_after or 0.0, sent.retry_after)
        if failed or busy:
            return Verdict(retry_after=retry_after or self._default_retry_after)
        rejected = sum(reasons.values())
        message = ""
        if rejected:
            self._counters.add(Event.REJECTED_SPANS, rejected)
            message = "not sent to Reconify: " + ", ".join(
                f"{count} {reason}" for reason, count in sorted(reasons.items())
            )
        return Verdict(rejected, message)


# Not sent by design: a failed run or call, a call already sent, a provider Reconify has
# no format for (counted, as in-process).
_NOT_REJECTIONS = frozenset(
    {Skip.ERROR_RUN, Skip.ERROR_CALL, Skip.DUPLICATE, Skip.UNSUPPORTED_PROVIDER}
)


def _key(record: SpanRecord) -> int:
    return record.trace_id << 64 | record.span_id


def _unique(records: Iterable[SpanRecord]) -> list[SpanRecord]:
    """One record per (trace_id, span_id): a batch naming a span twice sends it once. In
    the order the spans ended, inner before outer where they end together, as an SDK
    exports them: OTLP groups a batch by scope, which would put a framework's span before
    the provider's span of the same call, and the first of a call's spans is the one sent.
    """
    unique = {_key(record): record for record in records}.values()
    return sorted(unique, key=lambda record: (record.end_ns, -record.start_ns))
