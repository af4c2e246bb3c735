"""What ``opentelemetry-instrument`` builds for ``OTEL_TRACES_EXPORTER=...,reconify``.

The SDK's auto-configuration builds every exporter in one pass: one that raises aborts it,
and Jaeger, Datadog and the console then get nothing and no instrumentor is loaded. So,
from the entry point only, a configuration error (missing keys, a bad ``RECONIFY_*``
value) becomes one clear log line and an exporter that counts and drops the assistant
runs; everything else keeps working. Built in code, ``ReconifySpanExporter`` still raises.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from reconify_otel.core.mapping import is_selected
from reconify_otel.exporter.sdk_record import scope_of
from reconify_otel.exporter.span_exporter import ReconifySpanExporter
from reconify_otel.runtime.counters import Stats, delivery_counters
from reconify_otel.runtime.events import Event

logger = logging.getLogger("reconify_otel")


class ReconifySpanExporterFromEnvironment(SpanExporter):
    """A ``ReconifySpanExporter`` from ``RECONIFY_*``, or, when that fails, a no-op that
    said why once and counts what it drops (``stats()["skipped_not_configured"]``)."""

    def __init__(self, **options: Any) -> None:
        self.exporter: ReconifySpanExporter | None = None
        self._counters = delivery_counters("exporter")
        try:
            self.exporter = ReconifySpanExporter(**options)
        except (ValueError, TypeError) as error:  # the messages never hold a key
            logger.error(
                "reconify_otel: Reconify export is OFF, LLM interactions will not be sent: %s "
                "Your other exporters are unaffected.",
                error,
            )

    def __repr__(self) -> str:
        inner = repr(self.exporter) if self.exporter is not None else "not configured"
        return f"ReconifySpanExporterFromEnvironment({inner})"

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self.exporter is not None:
            return self.exporter.export(spans)
        dropped = sum(
            1 for span in spans if is_selected(span.name, span.attributes or {}, scope_of(span))
        )
        if dropped:
            self._counters.add(Event.SKIPPED_NOT_CONFIGURED, dropped)
        return SpanExportResult.FAILURE if dropped else SpanExportResult.SUCCESS

    def stats(self) -> Stats:
        """The exporter's counters; when not configured, how many were dropped."""
        if self.exporter is not None:
            return self.exporter.stats()
        return self._counters.stats()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.exporter.force_flush(timeout_millis) if self.exporter is not None else True

    def shutdown(self) -> None:
        if self.exporter is not None:
            self.exporter.shutdown()
