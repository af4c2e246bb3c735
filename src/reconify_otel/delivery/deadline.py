"""A total deadline for each HTTP request, which a socket timeout is not.

``requests`` times each socket operation, so an endpoint that drips its answer a byte
at a time never trips it and holds the caller for as long as it likes. One watchdog
thread per process (started on first use, gone after a minute without requests) keeps
the deadlines of the requests in flight in a heap; when one passes, it shuts that
request's socket down, so the blocked read returns at once and the request fails.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time

from reconify_otel.runtime.forksafe import reset_after_fork

IDLE_SECONDS = 60.0  # the thread ends after this long with nothing to watch


class Deadline:
    """One request's: the socket it uses (from the moment it is connected, before any
    proxy tunnel or TLS handshake), and whether it has passed."""

    __slots__ = ("at", "done", "fired", "sock")

    def __init__(self, at: float) -> None:
        self.at = at
        self.sock: socket.socket | None = None
        self.done = False  # the request ended: never touch its socket again
        self.fired = False


class Watchdog:
    def __init__(self) -> None:
        self._reset()
        reset_after_fork(self)

    def _reset(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Deadline]] = []
        self._order = itertools.count()  # ties never compare two ``Deadline``s
        self._thread: threading.Thread | None = None

    def _after_fork(self) -> None:
        # The parent's thread and requests are not the child's; its lock may be held.
        self._reset()

    def arm(self, seconds: float) -> Deadline:
        """A deadline ``seconds`` from now; ``disarm`` it when the request ends."""
        deadline = Deadline(time.monotonic() + seconds)
        with self._cond:
            heap = self._heap
            while heap and heap[0][2].done:  # ended requests, cheaply, as they surface
                heapq.heappop(heap)
            sooner = not heap or deadline.at < heap[0][0]
            heapq.heappush(heap, (deadline.at, next(self._order), deadline))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="reconify-deadline", daemon=True
                )
                self._thread.start()
            elif sooner:
                self._cond.notify()
        return deadline

    def watch(self, deadline: Deadline, sock: socket.socket | None) -> None:
        """The socket the request now uses (a new or a pooled connection; None: none).

        Once this returns, the watchdog no longer touches the socket watched before."""
        with self._cond:
            deadline.sock = sock
            if sock is not None and deadline.fired and not deadline.done:
                _shut(sock)

    def disarm(self, deadline: Deadline) -> None:
        with self._cond:  # after this the watchdog never shuts the (pooled) socket down
            deadline.done = True

    def _run(self) -> None:
        heap = self._heap
        with self._cond:
            while True:
                now = time.monotonic()
                while heap and (heap[0][2].done or heap[0][0] <= now):
                    _, _, deadline = heapq.heappop(heap)
                    if not deadline.done:
                        deadline.fired = True
                        if deadline.sock is not None:
                            _shut(deadline.sock)
                if heap:
                    self._cond.wait(heap[0][0] - now)
                elif not self._cond.wait(IDLE_SECONDS) and not heap:
                    self._thread = None
                    return


def _shut(sock: socket.socket) -> None:
    """Wake whatever reads or writes ``sock``; the connection is then closed and not reused."""
    with contextlib.suppress(OSError):  # already closed or never connected
        sock.shutdown(socket.SHUT_RDWR)


WATCHDOG = Watchdog()
