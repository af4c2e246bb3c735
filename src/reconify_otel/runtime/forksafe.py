"""A forked child must not use its parent's threads, sockets, locks or in-flight work.

gunicorn and uWSGI fork while other threads run: a lock one of them held at that moment
stays held forever in the child. So every object that owns a lock, a thread or a socket
registers here, and in the child its ``_after_fork()`` re-creates them before anything
else can use it (``os.register_at_fork``, as the SDK's ``BatchSpanProcessor`` does).
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import Protocol


class ForkAware(Protocol):
    def _after_fork(self) -> None: ...


_live: weakref.WeakSet[ForkAware] = weakref.WeakSet()
_registry_lock = threading.Lock()


def reset_after_fork(obj: ForkAware) -> None:
    with _registry_lock:
        _live.add(obj)


def _before() -> None:
    _registry_lock.acquire()


def _in_parent() -> None:
    _registry_lock.release()


def _in_child() -> None:
    global _registry_lock
    _registry_lock = threading.Lock()
    for obj in list(_live):
        obj._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before, after_in_parent=_in_parent, after_in_child=_in_child)
