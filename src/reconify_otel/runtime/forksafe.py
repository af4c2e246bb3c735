"""A forked child must not use its parent's threads, sockets, locks or in-flight work.

Objects that hold them register here; in the child, ``_after_fork()`` of each live
one runs before anything else can use it (``os.register_at_fork``, as the SDK's
``BatchSpanProcessor`` does).
"""

from __future__ import annotations

import os
import weakref
from typing import Protocol


class ForkAware(Protocol):
    def _after_fork(self) -> None: ...


_live: weakref.WeakSet[ForkAware] = weakref.WeakSet()  # type: ignore[type-var]


def reset_after_fork(obj: ForkAware) -> None:
    _live.add(obj)


def _in_child() -> None:
    for obj in list(_live):
        obj._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_in_child)
