"""Many payloads on as many threads as the endpoint's round trip repays.

A request costs about half a millisecond of CPU here; on loopback extra threads only
fight over the GIL, across a WAN each one waits. So the calling thread works, and
helpers join it in proportion to the observed time per item, up to ``concurrency``.
Workers pull from one shared iterator: no barrier between groups, and a helper that
never started (the pool shut down under it) leaves its share to the others.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from typing import TypeVar

from reconify_otel.runtime.forksafe import reset_after_fork

T = TypeVar("T")
R = TypeVar("R")

# One more thread per this much time per item: below it, threads cost more than they save.
_SECONDS_PER_THREAD = 0.001


class FanOut:
    def __init__(self, concurrency: int, name: str = "reconify-send") -> None:
        self._concurrency = concurrency
        self._name = name
        self._closed = False
        self._reset()
        reset_after_fork(self)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        # Seconds per item; starts as a WAN would look, then follows what is measured.
        self._latency = 0.05

    def _after_fork(self) -> None:
        # The parent's pool threads do not exist in the child; its locks may be held.
        self._reset()

    def map(self, work: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """``work`` over ``items``, results in order. ``work`` must not raise."""
        wanted = min(len(items), self.parallelism())
        if wanted <= 1:
            return [self._timed(work, item) for item in items]
        results: dict[int, R] = {}
        pending = iter(enumerate(items))
        take = threading.Lock()

        def worker() -> None:
            while True:
                with take:
                    nxt = next(pending, None)
                if nxt is None:
                    return
                results[nxt[0]] = self._timed(work, nxt[1])

        helpers: list[Future[None]] = []
        pool = self._executor()
        if pool is not None:
            # Shut down, or interpreter exit: no new threads; the calling thread does it all.
            with contextlib.suppress(RuntimeError):
                for _ in range(wanted - 1):
                    helpers.append(pool.submit(worker))  # each kept: it may be running
        worker()
        for helper in helpers:
            with contextlib.suppress(CancelledError):  # never started: others took its share
                helper.result()
        return [results[i] for i in range(len(items))]

    def _timed(self, work: Callable[[T], R], item: T) -> R:
        began = time.monotonic()
        result = work(item)
        took = time.monotonic() - began
        with self._lock:
            self._latency += (took - self._latency) * 0.2
        return result

    def parallelism(self) -> int:
        with self._lock:
            latency = self._latency
        return max(1, min(self._concurrency, int(latency / _SECONDS_PER_THREAD)))

    def _executor(self) -> ThreadPoolExecutor | None:
        with self._lock:
            if self._closed:
                return None
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=self._concurrency, thread_name_prefix=self._name
                )
            return self._pool

    def close(self) -> None:
        """No new helpers; running ones finish their item. Idempotent."""
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
