"""A size- and age-capped mapping, so bookkeeping stays flat however many runs a process makes."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class BoundedDict(Generic[K, V]):
    """LRU with a cap and an optional time-to-live; not thread-safe (callers hold a lock).

    Writes refresh an entry's age and move it to the young end; reads do not, so a
    value nobody updates expires even when it is read often.
    """

    def __init__(
        self,
        max_size: int,
        ttl: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_size = max(1, max_size)
        self.ttl = ttl
        self._clock = clock
        self._items: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return self.get(key) is not None  # type: ignore[arg-type]

    def get(self, key: K) -> V | None:
        item = self._items.get(key)
        if item is None:
            return None
        if self.ttl is not None and self._clock() - item[0] > self.ttl:
            del self._items[key]
            return None
        return item[1]

    def put(self, key: K, value: V) -> list[tuple[K, V]]:
        """Store and return what fell out (oldest first) for callers that must finish it."""
        self._items[key] = (self._clock(), value)
        self._items.move_to_end(key)
        evicted: list[tuple[K, V]] = []
        while len(self._items) > self.max_size:
            old_key, (_, old_value) = self._items.popitem(last=False)
            evicted.append((old_key, old_value))
        return evicted

    def pop(self, key: K) -> V | None:
        item = self._items.pop(key, None)
        return None if item is None else item[1]

    def expired(self) -> list[tuple[K, V]]:
        """Remove and return entries past their time-to-live."""
        if self.ttl is None:
            return []
        limit = self._clock() - self.ttl
        gone: list[tuple[K, V]] = []
        while self._items:
            key, (stamp, value) = next(iter(self._items.items()))
            if stamp > limit:
                break
            del self._items[key]
            gone.append((key, value))
        return gone

    def items(self) -> list[tuple[K, V]]:
        """A snapshot, oldest first."""
        return [(key, value) for key, (_, value) in self._items.items()]
