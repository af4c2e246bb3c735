"""The one delivery pipeline every route shares: the exporter, the handler and the bridge.

Payloads fan out over as many threads as the endpoint's round trip repays; each is
admitted by a ``Gate``, then sent by the ``RetryingSender`` (retry and backoff, all within
one deadline). What was not delivered goes to the route's policy (``Keep``): the exporter
and handler spool it (``DurableSender``), the bridge hands it back to its caller, who
answers 503 so that the Collector retries. As opentelemetry-python's OTLP exporters share
one retry and deadline core, with the transport behind a base class.

The pipeline knows nothing of the layers above it: a payload is any ``Parcel`` (the body
to send, and the keyless payload a spool may keep), built by the caller.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from reconify_otel.delivery.breaker import Admission
from reconify_otel.delivery.fanout import FanOut
from reconify_otel.delivery.outcome import DEFERRED, Outcome, Result
from reconify_otel.delivery.retry import RetryingSender
from reconify_otel.delivery.transport import HttpTransport
from reconify_otel.runtime.counters import Counters
from reconify_otel.runtime.forksafe import reset_after_fork
from reconify_otel.settings import Settings


class Parcel(Protocol):
    """One payload ready to leave: what ``prepare.Prepared`` is, seen from here."""

    @property
    def payload(self) -> dict[str, Any]:
        """Without keys: what a spool may store."""

    @property
    def body(self) -> bytes:
        """With keys, encoded: what is sent."""


class Sealer(Protocol):
    """Encodes a payload read back from a spool (``prepare.Preparer`` is one)."""

    def seal(self, payload: dict[str, Any]) -> Parcel: ...


class Gate(Protocol):
    """Whether to try a payload now (``Breaker``, long-lived; ``Latch``, per request)."""

    def admit(self) -> Admission: ...

    def note(self, result: Result, admission: Admission) -> None: ...


Keep = Callable[[Sequence[Parcel]], None]
"""What becomes of the undelivered: spool them, or leave them to the caller."""


def hand_back(_: Sequence[Parcel]) -> None:
    """The bridge's policy: nothing is kept here; the results tell the caller what to
    answer (503), and the Collector keeps the batch and resends it."""


class Pipeline:
    def __init__(
        self,
        settings: Settings,
        counters: Counters,
        transport: HttpTransport | None = None,
        *,
        keep: Keep = hand_back,
    ) -> None:
        self.sender = RetryingSender(settings, counters, transport)
        self._fanout = FanOut(settings.concurrency)
        self._keep = keep
        self._closed = threading.Event()
        self._reset()
        reset_after_fork(self)

    def _reset(self) -> None:
        self._flight = threading.Condition()
        self._in_flight: dict[int, Parcel] = {}

    def _after_fork(self) -> None:
        # The parent's requests in flight are the parent's to deliver or keep.
        self._reset()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    @property
    def endpoint(self) -> str:
        """Where payloads go, as log lines show it (no query, no user info)."""
        return self.sender.endpoint

    def deliver(self, items: Sequence[Parcel], gate: Gate, deadline: float) -> list[Result]:
        """Send within ``deadline`` (monotonic), hand what was not delivered to the
        policy; one result per item, in order. Blocks at most until about ``deadline``."""
        results = self.send(items, gate, deadline)
        self._keep([i for i, r in zip(items, results, strict=True) if r.outcome.undelivered])
        return results

    def send(self, items: Sequence[Parcel], gate: Gate, deadline: float | None) -> list[Result]:
        """Send, keep nothing (a spool resend puts back what failed itself)."""
        return self._fanout.map(lambda item: self._send_one(item, gate, deadline), items, _tried)

    def _send_one(self, item: Parcel, gate: Gate, deadline: float | None) -> Result:
        if self._closed.is_set():
            return Result(Outcome.SHUT_DOWN)
        if deadline is not None and time.monotonic() >= deadline:
            return DEFERRED
        admission = gate.admit()
        if admission is Admission.DEFER:
            return DEFERRED
        key = id(item)
        with self._flight:
            self._in_flight[key] = item
        try:
            result = self.sender.send(
                item.body, deadline, single_attempt=admission is Admission.PROBE
            )
        finally:
            with self._flight:
                taken_by_close = self._in_flight.pop(key, None) is None
                self._flight.notify_all()
        gate.note(result, admission)
        return Result(Outcome.SPOOLED_AT_CLOSE) if taken_by_close else result

    def close(self) -> None:
        """Stop at once: a pending retry ends, no new helper threads. Idempotent."""
        self._closed.set()
        self.sender.close()
        self._fanout.close()

    def keep_in_flight(self, timeout: float) -> None:
        """After ``close()``: wait up to ``timeout`` for requests in flight, then hand the
        stranded to the policy (their results say ``SPOOLED_AT_CLOSE``). A kept one may
        still reach Reconify: at least once, not exactly."""
        with self._flight:
            self._flight.wait_for(lambda: not self._in_flight, timeout)
            stranded = list(self._in_flight.values())
            self._in_flight.clear()
        self._keep(stranded)


def _tried(result: Result) -> bool:
    """Only a payload that went on the wire tells the fan-out the round trip."""
    return result.attempts > 0
