"""Running our own code inside the application's calls: any failure is logged, never raised."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from reconify_otel.runtime.logs import RateLimitedLog

logger = logging.getLogger("reconify_otel")
_log = RateLimitedLog(logger)
T = TypeVar("T")


def guarded(func: Callable[..., T] | None, *args: Any, default: Any = None) -> Any:
    """Run our code; on any error log it (rate-limited) and return ``default``."""
    if func is None:
        return default
    try:
        return func(*args)
    except Exception:
        name = getattr(func, "__qualname__", repr(func))
        _log.log(logging.WARNING, name, "reconify_otel hook %s failed", name, exc_info=True)
        return default
