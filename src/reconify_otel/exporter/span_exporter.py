"""``ReconifySpanExporter``: an OpenTelemetry ``SpanExporter`` beside any other.

It sees every span the application makes, so unrelated spans cost one name check;
assistant runs are mapped (``mapping``), encoded with the keys (``encoding``) and
sent (``transport``). ``export()`` never raises into the SDK or the application.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from reconify_otel.core.mapping import is_selected
from reconify_otel.delivery.durable import DurableSender
from reconify_otel.delivery.transport import Outcome
from reconify_otel.exporter.sdk_record import from_sdk
from reconify_otel.prepare import Prepared, Preparer
from reconify_otel.runtime.counters import Counters
from reconify_otel.runtime.logs import RateLimitedLog, enable_debug_logging
from reconify_otel.settings import Settings, resolve

logger = logging.getLogger("reconify_otel")


class ReconifySpanExporter(SpanExporter):
    """Send each finished OpenAI Assistants run as one Reconify interaction.

    Every argument falls back to a ``RECONIFY_*`` environment variable (see the
    README); missing keys raise ``ValueError`` here, never at export time.
    """

    def __init__(
        self,
        endpoint: str | None = None,
        app_key: str | None = None,
        api_key: str | None = None,
        **options: Any,
    ) -> None:
        """``options``: any name of the README's configuration table, e.g. ``timeout=5``,
        ``compression="gzip"``, ``spool=False``, ``redact=my_function``."""
        self._settings: Settings = resolve(
            endpoint=endpoint, app_key=app_key, api_key=api_key, **options
        )
        if self._settings.debug:
            enable_debug_logging()
        self._counters = Counters()
        self._preparer = Preparer(self._settings, self._counters)
        self._sender = DurableSender(self._settings, self._counters, self._preparer)
        self._log = RateLimitedLog(logger)
        self._shut_down = False

    def __repr__(self) -> str:
        return f"ReconifySpanExporter(endpoint={self._settings.endpoint!r})"

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._shut_down:
            return SpanExportResult.FAILURE
        try:
            return self._export(spans)
        except Exception:  # never into the SDK's worker or the application
            self._counters.add("internal_errors")
            self._log.log(logging.ERROR, "internal", "reconify_otel export failed", exc_info=True)
            return SpanExportResult.FAILURE

    def _export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        items: list[Prepared] = []
        for span in spans:
            if is_selected(span.name, span.attributes or {}):
                prepared = self._preparer.prepare(from_sdk(span))
                if isinstance(prepared, Prepared):
                    items.append(prepared)
        if not items:
            return SpanExportResult.SUCCESS
        results = self._sender.deliver(items)
        for item in results:
            self._counters.add(item.outcome.value)
        ok = all(item.outcome is Outcome.ACCEPTED for item in results)
        return SpanExportResult.SUCCESS if ok else SpanExportResult.FAILURE

    def stats(self) -> dict[str, int]:
        """A snapshot of the counters: accepted, rejected, failed, skipped_*, ..."""
        return self._counters.snapshot()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        # export() delivers before it returns; nothing is held back here.
        return True

    def shutdown(self, timeout_millis: float = 5000) -> None:
        """Idempotent; stops retries at once, spools what is still in flight."""
        if self._shut_down:
            return
        self._shut_down = True
        self._sender.close(timeout_millis / 1000)
