"""``ReconifyLogRecordProcessor``: the logs-side companion of ``ReconifySpanExporter``.

Some instrumentations record a call's messages only as GenAI log events, never on the
span (``opentelemetry-instrumentation-botocore``, ``opentelemetry-util-genai`` in its
``EVENT_ONLY`` mode). Registered on the ``LoggerProvider``, this hands those events to
the exporter, which joins them to their call's span by trace and span id when the span
is exported. The events are emitted before their span ends, so nothing waits. Every
other log record passes by after a name check; ``on_emit`` never raises. A GenAI-named
record that cannot be read (its attributes no mapping...) is counted as ``events_unjoined``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from opentelemetry.sdk._logs import LogRecordProcessor

from reconify_otel.core.conventions.genai import EVENT_NAME
from reconify_otel.core.llm.events import NAMES, GenAiEvent
from reconify_otel.runtime.event_join import EventJoin

logger = logging.getLogger("reconify_otel")


def _name_of(record: Any) -> Any:
    """The record's event name: ``LogRecord.event_name``, else the ``event.name`` attribute."""
    name = getattr(record, "event_name", None)
    if name:
        return name
    attributes = record.attributes
    return attributes.get(EVENT_NAME) if isinstance(attributes, Mapping) else None


class ReconifyLogRecordProcessor(LogRecordProcessor):
    """``logger_provider.add_log_record_processor(ReconifyLogRecordProcessor(exporter))``."""

    def __init__(self, exporter: Any) -> None:
        """``exporter``: the ``ReconifySpanExporter`` the calls' spans go to."""
        self._join: EventJoin = exporter.event_join

    def on_emit(self, log_record: Any) -> None:
        try:
            record = getattr(log_record, "log_record", log_record)  # LogData before SDK 1.35
            name = _name_of(record)
        except Exception:  # no event's name: another record, or not ours to count
            logger.debug("a log record could not be read", exc_info=True)
            return
        if not isinstance(name, str) or name not in NAMES:
            return
        try:
            attributes = record.attributes
            event = GenAiEvent(name, record.body, dict(attributes) if attributes else {})
            self._join.add(record.trace_id or 0, record.span_id or 0, event)
        except Exception:  # never into the instrumentation or the application
            logger.debug("a GenAI log event could not be kept", exc_info=True)
            try:
                self._join.count_unjoined(1)  # as ``events_unjoined``: joins no call
            except Exception:
                logger.debug("could not count it", exc_info=True)

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
