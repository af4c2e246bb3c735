"""Many payloads on as many threads as the endpoint's round trip repays.

A request costs about half a millisecond of CPU here; on loopback extra threads only
fight over the GIL, across a WAN each one waits. So the calling thread works, and
helpers join it in proportion to the observed time per item, up to ``concurrency``,
also in the middle of a long map: a spool resend that starts on a stale estimate does
not stay on one thread. Only items that went on the wire count (``timed``) and call for
helpers: thousands not tried while the endpoint was down take no time and must not make
the WAN look local. Workers pull from one shared counter: no barrier between groups, and a helper
that never started (the pool shut down under it) leaves its share to the others.
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
        self._on_wire = True  # the last item went on the wire (not deferred)

    def _after_fork(self) -> None:
        # The parent's pool threads do not exist in the child; its locks may be held.
        self._reset()

    def map(
        self,
        work: Callable[[T], R],
        items: Sequence[T],
        timed: Callable[[R], bool] | None = None,
    ) -> list[R]:
        """``work`` over ``items``, results in order. ``work`` must not raise.
        ``timed``: whether a result's time tells the round trip (default: every one)."""
        results: dict[int, R] = {}
        taken = 0  # items handed out so far
        helpers: list[Future[None]] = []
        take = threading.Lock()

        def grow() -> None:
            # Under ``take``, by a worker about to take an item: the helper list is final
            # once every item is taken. No new hands while items go nowhere (deferred).
            wanted = min(self.parallelism() - 1 - len(helpers), len(items) - taken - 1)
            if wanted <= 0 or not self._on_wire or (pool := self._executor()) is None:
                return  # enough hands, or shut down: the running workers do the rest
            with contextlib.suppress(RuntimeError):  # interpreter exit: no new threads
                for _ in range(wanted):
                    helpers.append(pool.submit(worker))  # each kept: it may be running

        def worker() -> None:
            nonlocal taken
            while True:
                with take:
                    if taken >= len(items):
                        return
                    grow()
                    index = taken
                    taken += 1
                results[index] = self._timed(work, items[index], timed)

        worker()
        for helper in helpers:
            with contextlib.suppress(CancelledError):  # never started: others took its share
                helper.result()
        return [results[i] for i in range(len(items))]

    def _timed(self, work: Callable[[T], R], item: T, timed: Callable[[R], bool] | None) -> R:
        began = time.monotonic()
        result = work(item)
        on_wire = timed is None or timed(result)
        with self._lock:
            self._on_wire = on_wire
            if on_wire:
                self._latency += (time.monotonic() - began - self._latency) * 0.2
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
