"""``ReconifySpanExporter``: an OpenTelemetry ``SpanExporter`` beside any other.

It sees every span the application makes, so unrelated spans cost a name check or two;
LLM calls and Assistants runs are prepared like on every route (``prepare.Preparer``:
mapped, shaped, encoded with the keys) and delivered (``delivery.durable``: sent, else
spooled). ``export()`` never raises into the SDK or the application.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from typing_extensions import Unpack

from reconify_otel.delivery.durable import DurableSender
from reconify_otel.delivery.outcome import Outcome
from reconify_otel.exporter.sdk_record import from_sdk, scope_of
from reconify_otel.prepare import Prepared, Preparer
from reconify_otel.runtime.counters import Stats, delivery_counters
from reconify_otel.runtime.event_join import EventJoin
from reconify_otel.runtime.events import Event
from reconify_otel.runtime.logs import RateLimitedLog, enable_debug_logging
from reconify_otel.settings import ReconifyOptions, Settings, resolve

logger = logging.getLogger("reconify_otel")


class ReconifySpanExporter(SpanExporter):
    """Send each finished LLM call or OpenAI Assistants run as one Reconify interaction.

    Every argument falls back to a ``RECONIFY_*`` environment variable (see the
    README); missing keys raise ``ValueError`` here, never at export time.
    """

    def __init__(
        self,
        endpoint: str | None = None,
        app_key: str | None = None,
        api_key: str | None = None,
        **options: Unpack[ReconifyOptions],
    ) -> None:
        """The options are the README's configuration table; ``None`` means "from the
        ``RECONIFY_*`` variable, else the default". ``redact`` (argument only) gets each
        payload dict and returns the one to send."""
        # All go, by name, to the one validator (tests/test_options.py checks that
        # ReconifyOptions, settings.OPTIONS and the README name the same options).
        self._settings: Settings = resolve(
            endpoint=endpoint, app_key=app_key, api_key=api_key, **options
        )
        if self._settings.debug:
            enable_debug_logging()
        self._counters = delivery_counters("exporter")
        self._preparer = Preparer(self._settings, self._counters)
        self._sender = DurableSender(self._settings, self._counters, self._preparer)
        self._log = RateLimitedLog(logger)
        self._shut_down = False

    def __repr__(self) -> str:
        return f"ReconifySpanExporter(endpoint={self._settings.endpoint!r})"

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Blocks at most about ``export_timeout``; what is not delivered by then is spooled."""
        if self._shut_down:
            selects = self._preparer.selects
            selected = sum(1 for s in spans if selects(s.name, s.attributes or {}, scope_of(s)))
            self._counters.add(Event.DROPPED_AFTER_SHUTDOWN, selected)
            return SpanExportResult.FAILURE
        try:
            return self._export(spans)
        except Exception:  # never into the SDK's worker or the application
            self._counters.add(Event.INTERNAL_ERRORS)
            self._log.log(logging.ERROR, "internal", "reconify_otel export failed", exc_info=True)
            return SpanExportResult.FAILURE

    def _export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        items: list[Prepared] = []
        selects = self._preparer.selects
        for span in spans:
            name = span.name
            attributes = span.attributes or {}
            if not selects.may_select(name, attributes):  # most spans: no value read
                continue
            found = selects.classify(name, attributes, scope_of(span))
            if found is not None:
                prepared = self._preparer.prepare(from_sdk(span, found))
                if isinstance(prepared, Prepared):
                    items.append(prepared)
        if not items:
            return SpanExportResult.SUCCESS
        results = self._sender.deliver(items)  # counts each outcome
        ok = all(item.outcome is Outcome.ACCEPTED for item in results)
        return SpanExportResult.SUCCESS if ok else SpanExportResult.FAILURE

    @property
    def event_join(self) -> EventJoin:
        """Where ``ReconifyLogRecordProcessor`` leaves the GenAI log events of calls."""
        return self._preparer.events

    def stats(self) -> Stats:
        """A snapshot of the counters (README, Observability): all present from the start."""
        return self._counters.stats()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        # export() delivers before it returns; nothing is held back here.
        return True

    def shutdown(self, timeout_millis: float = 5000) -> None:
        """Idempotent; stops retries at once, spools what is still in flight."""
        if self._shut_down:
            return
        self._shut_down = True
        self._sender.close(timeout_millis / 1000)
