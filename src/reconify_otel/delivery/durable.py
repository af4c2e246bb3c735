"""At-least-once delivery: the retry policy in front, the ``Spool`` behind it.

Each ``deliver`` call has one deadline (``export_timeout``): what Reconify did not take
by then (an outage, a 429 storm, shutdown with work pending) is written to the spool and
resent, oldest first, at wire speed as soon as the endpoint answers again, at start-up,
and every ``spool_retry_seconds`` while some wait. While the endpoint is known to be
down (``Breaker``), payloads are not tried, apart from one probe at a time, so exports
stay fast and the SDK's queue does not overflow. Without a spool the same rule holds:
what is not delivered is lost quickly, counted, and logged at ERROR.

The sending itself is the shared ``Pipeline``'s (the bridge's too); what is here is the
policy for the undelivered (the spool), the gate (the ``Breaker``) and the resending.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from reconify_otel.delivery.breaker import Admission, Breaker
from reconify_otel.delivery.outcome import Outcome, Result
from reconify_otel.delivery.pipeline import Keep, Parcel, Pipeline, Sealer
from reconify_otel.delivery.spool import Spool, SpoolUnavailable, default_directory, partition_name
from reconify_otel.delivery.spool_fs import user_directory
from reconify_otel.delivery.transport import HttpTransport
from reconify_otel.runtime.counters import Counters, Event, observe_spool
from reconify_otel.runtime.forksafe import reset_after_fork
from reconify_otel.runtime.logs import RateLimitedLog
from reconify_otel.settings import Settings

logger = logging.getLogger("reconify_otel")

RESEND_BATCH = 512  # payloads claimed from the spool at a time
_MIN_PAUSE = 0.05  # between resend rounds while another thread's probe is out


class DurableSender:
    def __init__(
        self,
        settings: Settings,
        counters: Counters,
        sealer: Sealer,
        transport: HttpTransport | None = None,
    ) -> None:
        """``sealer``: encodes payloads read back from the spool (the entry point's
        ``Preparer``), so that this layer never reaches up to build them itself."""
        self._settings = settings
        self._counters = counters
        self._sealer = sealer
        self._pipeline = Pipeline(settings, counters, transport, keep=_spooling(self))
        self._sender = self._pipeline.sender
        self._breaker = Breaker(max_pause=settings.spool_retry_seconds)
        self._log = RateLimitedLog(logger)
        self._spool = self._open_spool() if settings.spool else None
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
        self._drainer: threading.Thread | None = None

    def _after_fork(self) -> None:
        # The parent's requests in flight and its drainer thread are not the child's:
        # the parent delivers or spools them; the child starts clean, with fresh locks.
        self._reset()

    def _open_spool(self) -> Spool | None:
        settings = self._settings
        base = Path(settings.spool_dir) if settings.spool_dir else default_directory()
        try:
            return Spool(
                # One partition per app key and endpoint: never resent elsewhere; in a
                # folder others can write to, below one of this user's own.
                user_directory(base) / partition_name(settings.app_key.reveal(), settings.endpoint),
                self._counters,
                endpoint=self._sender.endpoint,
                max_bytes=settings.spool_max_bytes,
                retention_seconds=settings.spool_retention_hours * 3600,
            )
        except (OSError, SpoolUnavailable) as error:
            logger.error(
                "Reconify spool refused (%s): payloads not delivered to %s within "
                "export_timeout will be lost",
                error,
                self._sender.endpoint,
            )
            return None

    @property
    def spool(self) -> Spool | None:
        return self._spool

    @property
    def endpoint(self) -> str:
        """Where payloads go, as log lines show it (no query, no user info)."""
        return self._sender.endpoint

    @property
    def _closed(self) -> bool:
        return self._pipeline.closed

    def deliver(self, items: Sequence[Parcel]) -> list[Result]:
        """Send within one ``export_timeout``, spool what was not delivered, count each
        outcome; one result per item, in order. Blocks at most about ``export_timeout``."""
        deadline = time.monotonic() + self._settings.export_timeout
        results = self._pipeline.deliver(items, self, deadline)
        shown = [
            Result(Outcome.SHUT_DOWN, r.status, r.attempts)
            if r.outcome is Outcome.SPOOLED_AT_CLOSE
            else r
            for r in results
        ]
        for result in shown:
            self._counters.add(result.outcome.event)
        return shown

    # The pipeline's gate: the breaker, and a wake-up for the resend thread.
    def admit(self) -> Admission:
        return self._breaker.admit()

    def note(self, result: Result, admission: Admission) -> None:
        self._breaker.note(result, admission)
        if admission is Admission.PROBE and result.outcome is Outcome.ACCEPTED:
            self._wake.set()  # the endpoint is back: resend what waits, now

    def spool_now(self, payloads: Sequence[dict[str, Any]]) -> None:
        """Keep payloads that were not delivered (or never got the chance)."""
        if not payloads:
            return
        if self._spool is None:
            self._counters.add(Event.DROPPED_UNDELIVERED, len(payloads))
            self._log.log(
                logging.ERROR,
                "lost",
                "Reconify (%s) did not take %d payloads in time and there is no spool: "
                "lost. Enable the spool (spool=True, a writable spool_dir) to keep them",
                self._sender.endpoint,
                len(payloads),
            )
            return
        if self._spool.put(list(payloads)):
            self._log.warning(
                "spooled",
                "Reconify (%s) did not take %d payloads in time; kept in %s and resent "
                "as soon as it answers",
                self._sender.endpoint,
                len(payloads),
                self._spool.directory,
            )
            self._start_drainer()

    def _start_drainer(self) -> None:
        with self._lock:
            if self._drainer is None and not self._closed:
                self._drainer = threading.Thread(
                    target=_drain_while_alive,
                    args=(weakref.ref(self),),
                    name="reconify-spool",
                    daemon=True,
                )
                self._drainer.start()

    def _drain_round(self) -> float | None:
        """One resend round; the pause before the next, or None when nothing waits."""
        spool = self._spool
        assert spool is not None
        if self._closed:
            return None
        drained = False
        try:
            drained = self.drain()
            with self._lock:  # decided under the lock ``_start_drainer`` takes
                if not spool.waiting() or self._closed:
                    self._drainer = None
                    return None
        except Exception:
            self._counters.add(Event.INTERNAL_ERRORS)
            self._log.log(logging.ERROR, "drain", "Reconify spool resend failed", exc_info=True)
        # Still waiting: the next probe when the endpoint is down, a periodic look when
        # only others' or unusable files are left; a success by an export wakes us sooner.
        if drained:
            return self._settings.spool_retry_seconds
        return max(_MIN_PAUSE, self._breaker.wait)

    def drain(self, spool: Spool | None = None) -> bool:
        """Resend spooled payloads, oldest first, until empty or the endpoint fails.
        ``spool``: another partition (``reconify-otel spool drain``); default: ours."""
        spool = spool if spool is not None else self._spool
        if spool is None:
            return True
        while not self._closed:
            claimed = spool.claim(RESEND_BATCH)
            if not claimed:
                spool.remove_if_empty()
                return True
            work = [(c, self._sealer.seal(p)) for c in claimed for p in c.payloads]
            results = self._pipeline.send([item for _, item in work], self, None)
            remaining: dict[int, list[dict[str, Any]]] = {id(c): [] for c in claimed}
            for (source, item), result in zip(work, results, strict=True):
                if result.attempts:
                    self._counters.add(result.outcome.resent_event)
                if result.outcome.undelivered:
                    remaining[id(source)].append(item.payload)
            for source in claimed:
                spool.release(source, remaining[id(source)])
            if any(remaining.values()):
                return False
        return False

    def close(self, timeout: float = 5.0) -> None:
        """Stop at once; wait up to ``timeout`` for requests in flight, then spool them.

        A spooled in-flight payload may still reach Reconify: at least once, not exactly.
        """
        deadline = time.monotonic() + timeout
        self._pipeline.close()
        self._wake.set()
        self._pipeline.keep_in_flight(timeout)  # to ``_keep``: the spool
        with self._lock:
            drainer = self._drainer
        if drainer is not None and drainer is not threading.current_thread():
            # Its round ends now; what it sent is taken off the disk before we return.
            drainer.join(max(0.0, deadline - time.monotonic()))
        if self._spool is not None:
            self._spool.remove_if_empty()  # no folder left behind by this process


def _spooling(sender: DurableSender) -> Keep:
    """The pipeline's policy for the undelivered: the spool. Holds the sender weakly, as
    the resend thread does: no cycle keeps a dropped exporter alive."""
    ref = weakref.ref(sender)

    def keep(items: Sequence[Parcel]) -> None:
        if (alive := ref()) is not None:
            alive.spool_now([item.payload for item in items])

    return keep


def _drain_while_alive(ref: weakref.ref[DurableSender]) -> None:
    """The resend thread holds its sender weakly: an exporter dropped without
    ``shutdown()`` does not leave a thread probing its endpoint for ever."""
    while (sender := ref()) is not None:
        pause = sender._drain_round()
        if pause is None:
            return
        wake = sender._wake
        del sender
        wake.wait(pause)
        wake.clear()
