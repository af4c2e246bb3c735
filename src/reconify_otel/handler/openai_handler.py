"""Reconify's handler API in Python: ``reconify_openai_handler(...).log_assistant(run, in, out)``.

Parity with Reconify's Node module for code that does not run OpenTelemetry, minus its
defects: the run and messages become the same span attributes the instrumentation
records (``run_attributes``) and pass through the same mapping, so both routes send
the same payload; sending happens on a background thread, never on the caller's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from reconify_otel import identity
from reconify_otel.core.record import SpanRecord
from reconify_otel.core.run_attributes import (
    ERROR_STATUSES,
    run_span_attributes,
    span_name,
    to_dict,
)
from reconify_otel.delivery.durable import DurableSender
from reconify_otel.delivery.worker import Dispatcher
from reconify_otel.prepare import Prepared, Preparer
from reconify_otel.runtime.counters import Counters
from reconify_otel.runtime.logs import RateLimitedLog, enable_debug_logging
from reconify_otel.settings import Settings, resolve

logger = logging.getLogger("reconify_otel")


class ReconifyHandler:
    """Logs Assistants runs to Reconify; build it with ``reconify_openai_handler``."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        if settings.debug:
            enable_debug_logging()
        self._counters = Counters("handler")
        self._preparer = Preparer(settings, self._counters)
        sender = DurableSender(settings, self._counters, self._preparer)
        self._dispatcher = Dispatcher(sender, self._counters, max_queue=settings.max_queue)
        self._log = RateLimitedLog(logger)

    def __repr__(self) -> str:
        return f"ReconifyHandler(endpoint={self._settings.endpoint!r})"

    def log_assistant(self, run: Any, message_in: Any, message_out: Any) -> bool:
        """Queue one interaction; returns at once. False (counted, logged) when skipped.

        Accepts ``openai`` objects or plain dicts. Never raises into the application.
        """
        try:
            record = self._record(run, message_in, message_out)
            if record is None:
                return False
            prepared = self._preparer.prepare(record)
            if not isinstance(prepared, Prepared):
                return False
            return self._dispatcher.submit(prepared)
        except Exception:
            self._counters.add("internal_errors")
            self._log.log(logging.ERROR, "internal", "reconify log_assistant failed", exc_info=True)
            return False

    def _record(self, run: Any, message_in: Any, message_out: Any) -> SpanRecord | None:
        run_d = to_dict(run)
        if run_d is None or not run_d.get("id"):
            self._counters.add("skipped_bad_input")
            self._log.warning(
                "bad-run",
                "log_assistant needs a Run object or dict with an id, got %s",
                type(run).__name__,
            )
            return None
        answers = [message_out] if message_out is not None else []
        attrs = identity.with_identity(
            run_span_attributes(run_d, message_in, answers), identity.span_attributes()
        )
        now = time.time_ns()
        start = _seconds_to_ns(run_d.get("started_at") or run_d.get("created_at"), now)
        end = _seconds_to_ns(run_d.get("completed_at"), now)
        return SpanRecord(
            name=span_name(run_d),
            attributes=attrs,
            start_ns=start,
            end_ns=max(start, end),
            is_error=run_d.get("status") in ERROR_STATUSES,
        )

    # Parity with Reconify's setUser / setSession / setSessionTimeout: process-wide.
    def set_user(self, user: Mapping[str, Any] | None) -> None:
        identity.set_user(user)

    def set_session(self, session_id: str | None) -> None:
        identity.set_session(session_id)

    def set_session_timeout(self, minutes: int | None) -> None:
        identity.set_session_timeout(minutes)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued interaction was handled; False on timeout."""
        return self._dispatcher.flush(timeout)

    def close(self, timeout: float = 10.0) -> bool:
        """Flush within ``timeout`` and stop. Also done, bounded, at interpreter exit."""
        return self._dispatcher.close(timeout)

    def stats(self) -> dict[str, int]:
        return self._counters.snapshot()


def reconify_openai_handler(
    openai_client: Any = None,
    *,
    app_key: str | None = None,
    api_key: str | None = None,
    debug: bool | None = None,
    **options: Any,
) -> ReconifyHandler:
    """Like Reconify's ``reconifyOpenAIHandler(openai, {appKey, apiKey, debug})``.

    ``openai_client`` is accepted for parity and not used: nothing is patched.
    ``options`` and their ``RECONIFY_*`` fallbacks are the exporter's (README).
    """
    del openai_client
    return ReconifyHandler(resolve(app_key=app_key, api_key=api_key, debug=debug, **options))


def _seconds_to_ns(seconds: Any, fallback: int) -> int:
    """Reconify's Node module turns a null time into 0; here it becomes now."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds <= 0:
        return fallback
    return int(seconds * 1_000_000_000)
