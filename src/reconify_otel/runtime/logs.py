"""Log lines that cannot flood: one line per kind of trouble per interval, with a count.

An outage makes every payload fail the same way; users need to know, once a
minute, not ten thousand times.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from reconify_otel.runtime.forksafe import reset_after_fork


class RateLimitedLog:
    def __init__(self, logger: logging.Logger, interval: float = 60.0) -> None:
        self._logger = logger
        self._interval = interval
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}
        reset_after_fork(self)

    def _after_fork(self) -> None:
        self._lock = threading.Lock()  # a parent thread may have held it at fork

    def warning(self, key: str, message: str, *args: Any) -> None:
        self.log(logging.WARNING, key, message, *args)

    def log(self, level: int, key: str, message: str, *args: Any, exc_info: bool = False) -> None:
        now = time.monotonic()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self._interval:
                self._suppressed[key] = self._suppressed.get(key, 0) + 1
                return
            self._last[key] = now
            suppressed = self._suppressed.pop(key, 0)
        if suppressed:
            message += " (%d more like this since the last report)"
            args = (*args, suppressed)
        self._logger.log(level, message, *args, exc_info=exc_info)


def enable_debug_logging() -> None:
    """Make ``debug=True`` visible like Reconify's modules do, without hijacking logging."""
    package_logger = logging.getLogger("reconify_otel")
    package_logger.setLevel(logging.DEBUG)
    if not logging.getLogger().handlers and not package_logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        package_logger.addHandler(handler)
