"""How many connections the bridge keeps, and for how long.

uvicorn closes a keep-alive connection only after a response, so a connection that
never sent a request (idle or a slow-loris head) stayed open for ever: 300 of each
exhausted ``ulimit -n 256``, and asyncio then logged "Too many open files" thousands of
times a second. Here every connection has ``header_timeout`` to send a full request
head (from connecting, or from the first byte after the previous answer),
``idle_timeout`` between requests, and at most ``limit`` are open: a new one takes the
place of the one idle longest, so ``/healthz`` answers even while the table is full.

Each request head is also checked before h11 parses it (``StrictConnection``): h11, as
RFC 9112 allows, lets Transfer-Encoding win over Content-Length and unfolds continued
header lines, then keeps the connection open; a proxy in front that framed the request
otherwise would pass a request hidden in the body. Such a head is answered 400 and the
connection closed, so nothing pipelined behind it is read.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
from collections.abc import Callable
from typing import Any, ClassVar

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from reconify_otel.bridge import wire
from reconify_otel.runtime.counters import Counters, Event
from reconify_otel.runtime.logs import RateLimitedLog

logger = logging.getLogger("reconify_otel.bridge")

_ACCEPT_FAILED = "socket.accept() out of system resource"
# Descriptors kept free for what is not a client connection: the sender's pool to
# Reconify, logs, the event loop's own.
_RESERVED_FDS = 32
# Connections accepted per wakeup (and the listen queue): asyncio accepts a whole burst
# before any protocol runs, so the burst must fit in the reserve even at the cap.
ACCEPT_BURST = 32
_activity = itertools.count()


def fitting_limit(wanted: int, concurrency: int) -> int:
    """``wanted``, lowered so that this many connections fit under the open-file limit."""
    try:
        import resource
    except ImportError:  # Windows: no such limit
        return wanted
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    try:
        in_use = len(os.listdir("/proc/self/fd"))
    except OSError:  # not Linux: guess
        in_use = 16
    return max(1, min(wanted, soft - in_use - concurrency - _RESERVED_FDS - ACCEPT_BURST))


class ConnectionGuard:
    """The limits, the counters they feed, and the protocol class that applies them."""

    def __init__(
        self, limit: int, header_timeout: float, idle_timeout: float, counters: Counters
    ) -> None:
        self.limit = limit
        self.header_timeout = header_timeout
        self.idle_timeout = idle_timeout
        self.counters = counters
        self.open: set[GuardedProtocol] = set()
        self._log = RateLimitedLog(logger)

    def protocol(self) -> type[GuardedProtocol]:
        """A protocol class for ``uvicorn.Config(http=...)`` bound to this guard."""
        return type("BridgeProtocol", (GuardedProtocol,), {"guard": self})

    def admit(self, newcomer: GuardedProtocol) -> None:
        self.open.add(newcomer)
        if len(self.open) <= self.limit:
            return
        if self.evict_idlest(spare=newcomer):
            self.counters.add(Event.CONNECTIONS_EVICTED)
        else:  # every other connection is in the middle of a request
            self.counters.add(Event.CONNECTIONS_REFUSED)
            newcomer.transport.close()

    def evict_idlest(self, spare: GuardedProtocol | None = None) -> bool:
        idle = [c for c in self.open if c is not spare and c.between_requests]
        if not idle:
            return False
        victim = min(idle, key=lambda c: c.last_active)
        self.open.discard(victim)  # its close completes on the next loop turn
        victim.transport.close()
        return True

    def refuse_framing(self, reason: str) -> None:
        self.counters.add(Event.FRAMING_REFUSED)
        self._log.warning(
            "framing", "refused a request with ambiguous framing (%s); connection closed", reason
        )

    def on_loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """Out of descriptors anyway (something else took them): one log line a minute,
        not one per attempt, and an idle connection closed to make room."""
        if context.get("message") != _ACCEPT_FAILED:
            loop.default_exception_handler(context)
            return
        self.counters.add(Event.ACCEPT_ERRORS)
        self.evict_idlest()
        self._log.warning(
            "accept",
            "cannot accept connections (%s); raise the open-file limit (ulimit -n) or "
            "lower RECONIFY_BRIDGE_MAX_CONNECTIONS",
            context.get("exception"),
        )


class StrictConnection(h11.Connection):
    """h11's server side, refusing a head ``wire.head_error`` finds ambiguous before h11
    reads it; uvicorn answers h11's ``RemoteProtocolError`` with 400 and closes."""

    def __init__(self, refused: Callable[[str], None], **options: Any) -> None:
        super().__init__(h11.SERVER, **options)
        self._refused = refused

    def next_event(self) -> h11.Event | type[h11.NEED_DATA] | type[h11.PAUSED]:
        if self.their_state is h11.IDLE:
            buffered = self.trailing_data[0]
            end = wire.HEAD_END.search(buffered)
            error = wire.head_error(buffered[: end.end()]) if end else None
            if error is not None:
                self._refused(error)
                raise h11.RemoteProtocolError(error, error_status_hint=400)
        return super().next_event()


class GuardedProtocol(H11Protocol):
    guard: ClassVar[ConnectionGuard]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        size = self.config.h11_max_incomplete_event_size
        options = {} if size is None else {"max_incomplete_event_size": size}
        self.conn = StrictConnection(self.guard.refuse_framing, **options)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.timeout_keep_alive = self.guard.idle_timeout  # type: ignore[assignment]
        self.last_active = next(_activity)
        self._head_timer: asyncio.TimerHandle | None = None
        self._start_head_timer()
        self.guard.admit(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.guard.open.discard(self)
        self._stop_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.between_requests and self._head_timer is None:
            self._start_head_timer()
        super().data_received(data)
        if not self.between_requests:
            self._stop_head_timer()

    def on_response_complete(self) -> None:
        self.last_active = next(_activity)
        super().on_response_complete()

    def timeout_keep_alive_handler(self) -> None:
        self.guard.counters.add(Event.IDLE_TIMEOUTS)
        super().timeout_keep_alive_handler()

    @property
    def between_requests(self) -> bool:
        """No request head received since the last answer (or since connecting)."""
        return self.conn.their_state is h11.IDLE

    def _start_head_timer(self) -> None:
        self._head_timer = self.loop.call_later(self.guard.header_timeout, self._head_too_slow)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self.between_requests and not self.transport.is_closing():
            self.guard.counters.add(Event.HEADER_TIMEOUTS)
            self.transport.close()
