"""When to stop trying: after a payload failed for its whole deadline, the endpoint
counts as down for a while, so the payloads behind it do not each wait out their own.

One rule for every sender: the exporter's and handler's (a long-lived breaker whose
pause grows with each failed probe, capped, so a hostile ``Retry-After`` cannot stop
delivery for a day) and the bridge's (one per request: after a failure, the rest of the
batch is answered 503 for the Collector to resend).
"""

from __future__ import annotations

import threading
import time

from reconify_otel.delivery.transport import Outcome, Result

MAX_PAUSE = 60.0


class Breaker:
    def __init__(self, base_pause: float, max_pause: float = MAX_PAUSE) -> None:
        self._base = base_pause
        self._max = max(max_pause, base_pause)
        self._lock = threading.Lock()
        self._failures = 0
        self._down_until = 0.0

    def allows(self) -> bool:
        return time.monotonic() >= self._down_until

    @property
    def wait(self) -> float:
        """Seconds until the next try is allowed (0 when it is)."""
        return max(0.0, self._down_until - time.monotonic())

    def note(self, result: Result) -> None:
        if result.outcome is Outcome.FAILED and result.attempts:
            with self._lock:
                self._failures += 1
                pause = min(self._max, max(result.retry_after or 0.0, self._base * self._failures))
                self._down_until = max(self._down_until, time.monotonic() + pause)
        elif result.outcome is Outcome.ACCEPTED and self._failures:
            with self._lock:
                self._failures = 0
                self._down_until = 0.0
