"""Request data held at once, counted in bytes across requests and worker threads.

Slots alone did not bound memory: eight requests each holding a body, its decompressed
copy and the parsed objects took 1.2 GiB. Each request now takes what it will hold
before holding it (bodies as received, decompressed bytes as they come, then
``wire.parse_cost``) and gives it all back when it ends.

Given back to the OS too: glibc keeps freed memory for reuse, so after a large request the
process stayed as large, and the next large one grew it again (+250 MiB after two
bursts of eight). ``malloc_trim`` returns it; elsewhere (musl, macOS) it is not needed.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable
from typing import Final

# Requests holding less leave too little behind to be worth a trim (it walks the heap).
TRIM_ABOVE: Final = 16 * 1024 * 1024


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim  # the process's own libc
    except (OSError, AttributeError, TypeError):
        return None
    return trim


_TRIM: Final = _malloc_trim()


class OverBudget(Exception):
    """Taking more would pass the limit: 429, or 413 when this request alone would."""

    def __init__(self, alone: bool) -> None:
        super().__init__("request over the bridge's memory limit" if alone else "bridge busy")
        self.alone = alone


class MemoryBudget:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._used = 0

    @property
    def used(self) -> int:
        return self._used

    def charge(self) -> Charge:
        return Charge(self)

    def _take(self, size: int, held: int) -> None:
        with self._lock:
            if held + size > self.limit:
                raise OverBudget(alone=True)
            if self._used + size > self.limit:
                raise OverBudget(alone=False)
            self._used += size

    def _give(self, size: int) -> None:
        with self._lock:
            self._used -= size


class Charge:
    """One request's share; ``release`` gives it back (idempotent)."""

    def __init__(self, budget: MemoryBudget) -> None:
        self._budget = budget
        self.held = 0

    def take(self, size: int) -> None:
        self._budget._take(size, self.held)
        self.held += size

    def release(self) -> None:
        held, self.held = self.held, 0
        self._budget._give(held)
        if held > TRIM_ABOVE and _TRIM is not None:
            _TRIM(0)
