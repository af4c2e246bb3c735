"""A bounded queue and one background thread in front of the ``DurableSender``.

For callers that must never wait on the network (the handler API's ``log_assistant``);
the span exporter does not need it, the SDK's ``BatchSpanProcessor`` already is one.
Overflow drops the oldest payload, counted and logged, so memory stays bounded while
Reconify is slow; while it is down the sender spools at once, so the queue keeps moving.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from collections import deque

from reconify_otel.delivery.durable import DurableSender
from reconify_otel.delivery.pipeline import Parcel
from reconify_otel.runtime.counters import Counters, Event
from reconify_otel.runtime.forksafe import reset_after_fork
from reconify_otel.runtime.logs import RateLimitedLog

logger = logging.getLogger("reconify_otel")

DEFAULT_MAX_QUEUE = 2048
DEFAULT_BATCH = 64
EXIT_FLUSH_SECONDS = 5.0


class Dispatcher:
    def __init__(
        self,
        sender: DurableSender,
        counters: Counters,
        *,
        max_queue: int = DEFAULT_MAX_QUEUE,
        batch: int = DEFAULT_BATCH,
        exit_flush_seconds: float = EXIT_FLUSH_SECONDS,
    ) -> None:
        self._sender = sender
        self._counters = counters
        self._max_queue = max_queue
        self._batch = batch
        self._log = RateLimitedLog(logger)
        self._closed = False
        self._reset()
        reset_after_fork(self)
        ref = weakref.ref(self)
        atexit.register(_flush_at_exit, ref, exit_flush_seconds)

    def _after_fork(self) -> None:
        # The parent's queue is the parent's to deliver: the child starts empty.
        self._reset()

    def _reset(self) -> None:
        self._cond = threading.Condition()
        self._queue: deque[Parcel] = deque()
        self._in_flight = 0
        self._thread: threading.Thread | None = None

    def submit(self, item: Parcel) -> bool:
        """Queue one prepared payload; never blocks. False when closed."""
        with self._cond:
            if self._closed:
                self._counters.add(Event.DROPPED_CLOSED)
                return False
            if len(self._queue) >= self._max_queue:
                self._queue.popleft()
                self._counters.add(Event.DROPPED_QUEUE_FULL)
                self._log.warning(
                    "queue-full",
                    "Reconify queue full (%d); dropped the oldest payload",
                    self._max_queue,
                )
            self._queue.append(item)
            self._ensure_thread()
            self._cond.notify_all()
        return True

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="reconify-dispatch", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if not self._queue:
                    return
                batch = [self._queue.popleft() for _ in range(min(self._batch, len(self._queue)))]
                self._in_flight = len(batch)
            try:
                self._sender.deliver(batch)  # counts each outcome, spools what failed
            except Exception:  # the thread must outlive any surprise
                self._counters.add(Event.INTERNAL_ERRORS)
                logger.exception("reconify_otel delivery failed")
                self._sender.spool_now([item.payload for item in batch])  # at least once
            with self._cond:
                self._in_flight = 0
                self._cond.notify_all()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued so far was handled; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def close(self, timeout: float = 10.0) -> bool:
        """Flush within ``timeout``, then stop; whatever is left goes to the spool."""
        deadline = time.monotonic() + timeout
        flushed = self.flush(timeout / 2)
        with self._cond:
            self._closed = True
            left = [item.payload for item in self._queue]
            self._queue.clear()
            self._cond.notify_all()
        if left:
            logger.warning("Reconify: %d payloads not sent before close, kept for later", len(left))
        self._sender.spool_now(left)
        self._sender.close(max(0.0, deadline - time.monotonic()))
        return flushed and not left


def _flush_at_exit(ref: weakref.ref[Dispatcher], seconds: float) -> None:
    dispatcher = ref()
    if dispatcher is not None and not dispatcher._closed:
        dispatcher.close(seconds)
