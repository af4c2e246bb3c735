"""At-least-once delivery: the ``Transport`` in front, the ``Spool`` behind it.

Whatever Reconify did not take within the retry deadline (an outage, a 429 storm,
shutdown with work pending) is written to the spool and resent, oldest first, after
the next success, at start-up, and every ``spool_retry_seconds`` while some wait.
While the endpoint is known to be down, new payloads go straight to the spool instead
of each waiting out its own deadline, so exports stay fast and the SDK's queue does
not overflow during an outage.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Sequence
from pathlib import Path

from reconify_otel.counters import Counters, observe_spool
from reconify_otel.logs import RateLimitedLog
from reconify_otel.prepare import Prepared, Preparer
from reconify_otel.settings import Settings
from reconify_otel.spool import Spool, SpoolUnavailable, default_directory
from reconify_otel.transport import Outcome, Result, Transport

logger = logging.getLogger("reconify_otel")

SPOOLED = Result(Outcome.FAILED)  # what a payload that went straight to the spool reports


class DurableSender:
    def __init__(self, settings: Settings, counters: Counters, preparer: Preparer) -> None:
        self._settings = settings
        self._counters = counters
        self._preparer = preparer
        self._transport = Transport(settings, counters)
        self._log = RateLimitedLog(logger)
        self._down_until = 0.0
        self._outage = 0  # consecutive failed probes, for the backoff
        self._closed = threading.Event()
        self._wake = threading.Event()
        self._drainer: threading.Thread | None = None
        self._lock = threading.Lock()
        self._flight = threading.Condition()
        self._in_flight: dict[int, Prepared] = {}
        self._spool = self._open_spool() if settings.spool else None
        if self._spool is not None:
            spool_ref = weakref.ref(self._spool)
            observe_spool(lambda: spool.stats() if (spool := spool_ref()) is not None else None)
        if self._spool is not None and self._spool.stats()[0]:
            self._start_drainer()  # left by an earlier process

    def _open_spool(self) -> Spool | None:
        directory = (
            Path(self._settings.spool_dir) if self._settings.spool_dir else default_directory()
        )
        try:
            return Spool(
                directory,
                self._settings.app_key.reveal(),
                self._counters,
                max_bytes=self._settings.spool_max_bytes,
                retention_seconds=self._settings.spool_retention_hours * 3600,
            )
        except (OSError, SpoolUnavailable) as error:
            logger.error("Reconify spool disabled (%s): undelivered payloads will be lost", error)
            return None

    @property
    def spool(self) -> Spool | None:
        return self._spool

    def deliver(self, items: Sequence[Prepared]) -> list[Result]:
        """Send now, or spool what cannot be sent; one result per item, in order."""
        results: list[Result] = []
        spooled: set[int] = set()
        for chunk in self._chunks(items):
            if self._closed.is_set() or time.monotonic() < self._down_until:
                results.extend([SPOOLED] * len(chunk))
                continue
            with self._flight:
                self._in_flight.update((id(item), item) for item in chunk)
            try:
                sent = self._transport.send_all([item.body for item in chunk])
            finally:
                with self._flight:
                    taken = [self._in_flight.pop(id(item), None) is None for item in chunk]
                    self._flight.notify_all()
            # What ``close()`` spooled while it was in flight is not spooled twice.
            spooled.update(len(results) + i for i, gone in enumerate(taken) if gone)
            results.extend(sent)
            self._note(sent)
        self._spool_failed(items, results, spooled)
        if self._spool is not None and any(r.outcome is Outcome.ACCEPTED for r in results):
            self._wake.set()  # the endpoint answers: resend what waits
        return results

    def _chunks(self, items: Sequence[Prepared]) -> list[Sequence[Prepared]]:
        """Groups of ``concurrency``: after a failed group the rest go straight to the spool."""
        step = max(1, self._settings.concurrency)
        return [items[start : start + step] for start in range(0, len(items), step)]

    def _note(self, sent: list[Result]) -> None:
        failed = [r for r in sent if r.outcome is Outcome.FAILED]
        if failed:
            self._outage += 1
            asked = max((r.retry_after or 0.0) for r in failed)
            pause = max(asked, min(60.0, self._settings.spool_retry_seconds * self._outage))
            self._down_until = time.monotonic() + pause
        elif any(r.outcome is Outcome.ACCEPTED for r in sent):
            self._outage = 0
            self._down_until = 0.0

    def _spool_failed(
        self, items: Sequence[Prepared], results: list[Result], spooled: set[int]
    ) -> None:
        undelivered = [
            item.payload
            for index, (item, result) in enumerate(zip(items, results, strict=True))
            if result.outcome in (Outcome.FAILED, Outcome.SHUT_DOWN) and index not in spooled
        ]
        if not undelivered:
            return
        if self._spool is None:
            self._counters.add("dropped_undelivered", len(undelivered))
            self._log.warning(
                "lost", "Reconify unreachable and no spool: %d payloads lost", len(undelivered)
            )
            return
        if self._spool.put(undelivered):
            self._start_drainer()

    def _start_drainer(self) -> None:
        with self._lock:
            if self._drainer is None or not self._drainer.is_alive():
                self._drainer = threading.Thread(
                    target=self._drain_loop, name="reconify-spool", daemon=True
                )
                self._drainer.start()

    def _drain_loop(self) -> None:
        spool = self._spool
        assert spool is not None
        while not self._closed.is_set():
            wait = self._down_until - time.monotonic()
            if wait > 0:
                self._wake.wait(min(wait, self._settings.spool_retry_seconds))
                self._wake.clear()
                continue
            try:
                drained = self.drain()
            except Exception:
                self._counters.add("internal_errors")
                logger.exception("reconify_otel spool resend failed")
                drained = False
            if drained and not spool.stats()[0]:
                return  # the next spool write starts a new drainer
            if not drained and time.monotonic() >= self._down_until:
                self._wake.wait(self._settings.spool_retry_seconds)
                self._wake.clear()

    def drain(self) -> bool:
        """Resend spooled payloads, oldest first, until empty or the endpoint fails."""
        spool = self._spool
        if spool is None:
            return True
        for claimed in spool.claim():
            items = [self._preparer.seal(payload) for payload in claimed.payloads]
            remaining: list[dict[str, object]] = []
            for chunk in self._chunks(items):
                if self._closed.is_set() or time.monotonic() < self._down_until:
                    remaining.extend(item.payload for item in chunk)
                    continue
                sent = self._transport.send_all([item.body for item in chunk])
                self._note(sent)
                for item, result in zip(chunk, sent, strict=True):
                    self._counters.add(f"resent_{result.outcome.value}")
                    if result.outcome in (Outcome.FAILED, Outcome.SHUT_DOWN):
                        remaining.append(item.payload)
            spool.release(claimed, remaining)  # type: ignore[arg-type]
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
        deadline = time.monotonic() + timeout
        with self._flight:
            while self._in_flight and time.monotonic() < deadline:
                self._flight.wait(deadline - time.monotonic())
            stranded = [item.payload for item in self._in_flight.values()]
            self._in_flight.clear()
        self.spool_now(stranded)

    def spool_now(self, payloads: list[dict[str, object]]) -> None:
        """Keep payloads that never got a chance to be sent (a queue closing)."""
        if payloads and self._spool is not None:
            self._spool.put(list(payloads))  # type: ignore[arg-type]
        elif payloads:
            self._counters.add("dropped_undelivered", len(payloads))
            logger.warning("Reconify: %d payloads not delivered and no spool", len(payloads))
