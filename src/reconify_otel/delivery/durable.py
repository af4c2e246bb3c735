"""At-least-once delivery: the ``Transport`` in front, the ``Spool`` behind it.

Whatever Reconify did not take within the retry deadline (an outage, a 429 storm,
shutdown with work pending) is written to the spool and resent, oldest first, after
the next success, at start-up, and every ``spool_retry_seconds`` while some wait.
While the endpoint is known to be down (``Breaker``), new payloads go straight to the
spool instead of each waiting out its own deadline, so exports stay fast and the SDK's
queue does not overflow during an outage. Without a spool nothing is short-circuited:
every payload gets its own attempts.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from reconify_otel.delivery.breaker import Breaker
from reconify_otel.delivery.spool import Spool, SpoolUnavailable, default_directory
from reconify_otel.delivery.transport import Outcome, Result, Transport
from reconify_otel.prepare import Prepared, Preparer
from reconify_otel.runtime.counters import Counters, observe_spool
from reconify_otel.runtime.forksafe import reset_after_fork
from reconify_otel.runtime.logs import RateLimitedLog
from reconify_otel.settings import Settings

logger = logging.getLogger("reconify_otel")

SPOOLED = Result(Outcome.FAILED)  # a payload sent straight to the spool, not tried
# A payload ``close()`` spooled while its request was in flight: not spooled again.
_SPOOLED_BY_CLOSE = Result(Outcome.SHUT_DOWN)


class DurableSender:
    def __init__(self, settings: Settings, counters: Counters, preparer: Preparer) -> None:
        self._settings = settings
        self._counters = counters
        self._preparer = preparer
        self._transport = Transport(settings, counters)
        self._log = RateLimitedLog(logger)
        self._spool = self._open_spool() if settings.spool else None
        self._breaker = Breaker(settings.spool_retry_seconds) if self._spool else None
        self._closed = threading.Event()
        self._reset()
        reset_after_fork(self)
        if self._spool is not None:
            spool_ref = weakref.ref(self._spool)
            observe_spool(lambda: spool.stats() if (spool := spool_ref()) is not None else None)
            if self._spool.waiting():
                self._start_drainer()  # left by an earlier process

    def _reset(self) -> None:
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._flight = threading.Condition()
        self._in_flight: dict[int, Prepared] = {}
        self._drainer: threading.Thread | None = None

    def _after_fork(self) -> None:
        # The parent's requests in flight and its drainer thread are not the child's:
        # the parent delivers or spools them; the child starts clean.
        self._reset()

    def _open_spool(self) -> Spool | None:
        settings = self._settings
        directory = Path(settings.spool_dir) if settings.spool_dir else default_directory()
        try:
            return Spool(
                directory,
                # One partition per app key and endpoint: never resent elsewhere.
                f"{settings.app_key.reveal()} {settings.endpoint}",
                self._counters,
                max_bytes=settings.spool_max_bytes,
                retention_seconds=settings.spool_retention_hours * 3600,
            )
        except (OSError, SpoolUnavailable) as error:
            logger.error("Reconify spool disabled (%s): undelivered payloads will be lost", error)
            return None

    @property
    def spool(self) -> Spool | None:
        return self._spool

    def deliver(self, items: Sequence[Prepared]) -> list[Result]:
        """Send now, or spool what cannot be sent; one result per item, in order."""
        results = self._transport.map(self._send_one, items)
        kept = [(i, r) for i, r in zip(items, results, strict=True) if r is not _SPOOLED_BY_CLOSE]
        self._spool_failed([i for i, _ in kept], [r for _, r in kept])
        if self._spool is not None and any(r.outcome is Outcome.ACCEPTED for r in results):
            self._wake.set()  # the endpoint answers: resend what waits
        return results

    def _send_one(self, item: Prepared) -> Result:
        # Checked before every send: once one payload failed for its whole deadline, the
        # rest go straight to the spool instead of each waiting out theirs.
        if self._closed.is_set() or (self._breaker is not None and not self._breaker.allows()):
            return SPOOLED
        key = id(item)
        with self._flight:
            self._in_flight[key] = item
        try:
            result = self._transport.send(item.body)
        finally:
            with self._flight:
                spooled_by_close = self._in_flight.pop(key, None) is None
                self._flight.notify_all()
        if self._breaker is not None:
            self._breaker.note(result)
        return _SPOOLED_BY_CLOSE if spooled_by_close else result

    def _spool_failed(self, items: Sequence[Prepared], results: Sequence[Result]) -> None:
        undelivered = [
            item.payload
            for item, result in zip(items, results, strict=True)
            if result.outcome in (Outcome.FAILED, Outcome.SHUT_DOWN)
        ]
        self.spool_now(undelivered)

    def spool_now(self, payloads: Sequence[dict[str, Any]]) -> None:
        """Keep payloads that were not delivered (or never got the chance)."""
        if not payloads:
            return
        if self._spool is None:
            self._counters.add("dropped_undelivered", len(payloads))
            self._log.warning(
                "lost",
                "Reconify did not take %d payloads and there is no spool: lost",
                len(payloads),
            )
            return
        if self._spool.put(list(payloads)):
            self._start_drainer()

    def _start_drainer(self) -> None:
        with self._lock:
            if self._drainer is None and not self._closed.is_set():
                self._drainer = threading.Thread(
                    target=self._drain_loop, name="reconify-spool", daemon=True
                )
                self._drainer.start()

    def _drain_loop(self) -> None:
        spool, breaker = self._spool, self._breaker
        assert spool is not None and breaker is not None
        while not self._closed.is_set():
            try:
                if breaker.allows():
                    self.drain()
                with self._lock:  # decided under the lock ``_start_drainer`` takes
                    if not spool.waiting():
                        self._drainer = None
                        return
            except Exception:
                self._counters.add("internal_errors")
                self._log.log(logging.ERROR, "drain", "Reconify spool resend failed", exc_info=True)
            # Files wait: a new try after the breaker's pause, or sooner on a success.
            self._wake.wait(breaker.wait or self._settings.spool_retry_seconds)
            self._wake.clear()
        with self._lock:
            self._drainer = None

    def drain(self) -> bool:
        """Resend spooled payloads, oldest first, until empty or the endpoint fails."""
        spool = self._spool
        if spool is None:
            return True
        for claimed in spool.claim():
            items = [self._preparer.seal(payload) for payload in claimed.payloads]
            results = self._transport.map(self._send_one, items)
            remaining: list[dict[str, Any]] = []
            for item, result in zip(items, results, strict=True):
                if result is not SPOOLED:
                    self._counters.add(f"resent_{result.outcome.value}")
                if result.outcome in (Outcome.FAILED, Outcome.SHUT_DOWN):
                    remaining.append(item.payload)
            spool.release(claimed, remaining)
            if remaining:
                return False
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Stop at once; wait up to ``timeout`` for requests in flight, then spool them.

        A spooled in-flight payload may still reach Reconify: at least once, not exactly.
        """
        self._closed.set()
        self._wake.set()
        self._transport.close()
        with self._flight:
            self._flight.wait_for(lambda: not self._in_flight, timeout)
            stranded = [item.payload for item in self._in_flight.values()]
            self._in_flight.clear()
        self.spool_now(stranded)
