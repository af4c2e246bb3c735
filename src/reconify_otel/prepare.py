"""The one step every route takes with a selected run: map it, count what is skipped or
unusable, show it in debug mode, and encode it with the keys.

Shared by the span exporter, the handler API and the bridge, so they cannot drift.
"""

from __future__ import annotations

import logging

from reconify_otel.counters import Counters
from reconify_otel.encoding import encode, masked
from reconify_otel.logs import RateLimitedLog
from reconify_otel.mapping import Defaults, Mapped, Skipped, map_span
from reconify_otel.settings import Settings
from reconify_otel.spans import SpanRecord

logger = logging.getLogger("reconify_otel")


class Preparer:
    def __init__(self, settings: Settings, counters: Counters, defaults: Defaults) -> None:
        self._settings = settings
        self._counters = counters
        self._defaults = defaults
        self._log = RateLimitedLog(logger)

    def prepare(self, record: SpanRecord) -> bytes | Skipped:
        """The request body for one run, or why there is none (counted)."""
        result = map_span(record, self._defaults)
        if not isinstance(result, Mapped):
            self._counters.add(f"skipped_{result.reason.value}")
            logger.debug("run not sent (%s): %s", result.reason.value, result.detail)
            return result
        if result.bad_attributes:
            self._counters.add("bad_attributes", len(result.bad_attributes))
            self._log.warning(
                "bad-attr", "unusable span attributes ignored: %s", ", ".join(result.bad_attributes)
            )
        if self._settings.debug:
            logger.info("reconify payload: %s", masked(result.payload))
        return encode(result.payload, *self._settings.secrets)
