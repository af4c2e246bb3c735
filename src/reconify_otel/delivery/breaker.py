"""When to stop trying, and when to look again.

``Breaker`` (the exporter's and handler's, long-lived): after a payload failed for its
whole deadline the endpoint counts as down, and payloads behind it are not tried (the
spool keeps them) instead of each waiting out its own deadline. While down, ONE probe at
a time tests the endpoint, after a pause that starts at half a second and doubles up to
``max_pause`` (a shorter ``Retry-After`` wins), so a recovery is seen within seconds and
the next payload after it goes straight out, as with the OTLP exporter.

``Latch`` (the bridge's, one per request): the first failure trips it for the rest of the
batch, which is answered 503 for the Collector to resend.
"""

from __future__ import annotations

import threading
import time
from enum import Enum

from reconify_otel.delivery.outcome import Outcome, Result
from reconify_otel.runtime.forksafe import reset_after_fork

FIRST_PAUSE = 0.5
MAX_PAUSE = 4.0


class Admission(Enum):
    SEND = "send"  # the endpoint is up: the full retry policy
    PROBE = "probe"  # down, and a look is due: one attempt
    DEFER = "defer"  # down: do not try now


class Breaker:
    def __init__(self, max_pause: float = MAX_PAUSE, first_pause: float = FIRST_PAUSE) -> None:
        self._max = max_pause
        self._first = min(first_pause, max_pause)
        self._reset()
        reset_after_fork(self)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._failures = 0
        self._next_probe = 0.0
        self._probing = False

    def _after_fork(self) -> None:
        # The parent's probe is not the child's, and its lock may be held by a dead thread.
        self._reset()

    def admit(self) -> Admission:
        with self._lock:
            if not self._failures:
                return Admission.SEND
            if self._probing or time.monotonic() < self._next_probe:
                return Admission.DEFER
            self._probing = True
            return Admission.PROBE

    @property
    def down(self) -> bool:
        return self._failures > 0

    @property
    def wait(self) -> float:
        """Seconds until the next probe is due (0 while the endpoint counts as up)."""
        with self._lock:
            if not self._failures:
                return 0.0
            return max(0.0, self._next_probe - time.monotonic())

    def note(self, result: Result, admission: Admission) -> None:
        """What one admitted send came to. Any answer but a retryable failure means up."""
        with self._lock:
            if admission is Admission.PROBE:
                self._probing = False
            if result.outcome is Outcome.FAILED and result.attempts:
                self._failures += 1
                pause = min(self._max, self._first * 2 ** min(self._failures - 1, 30))
                if result.retry_after is not None:
                    pause = min(pause, result.retry_after)
                self._next_probe = time.monotonic() + pause
            elif result.outcome in (Outcome.ACCEPTED, Outcome.REJECTED):
                self._failures = 0
                self._next_probe = 0.0


class Latch:
    """Trips on the first payload that failed for its whole deadline, and stays tripped:
    the rest are not tried (a ``Gate`` of the delivery pipeline, as ``Breaker`` is)."""

    def __init__(self) -> None:
        self._tripped = threading.Event()

    def allows(self) -> bool:
        return not self._tripped.is_set()

    def admit(self) -> Admission:
        return Admission.SEND if self.allows() else Admission.DEFER

    def note(self, result: Result, admission: Admission = Admission.SEND) -> None:
        if result.outcome is Outcome.FAILED and result.attempts:
            self._tripped.set()
