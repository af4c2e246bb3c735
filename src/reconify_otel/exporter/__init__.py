"""The in-process entry point: an OpenTelemetry ``SpanExporter`` and its span processor."""

from reconify_otel.exporter.identity_processor import IdentitySpanProcessor
from reconify_otel.exporter.log_processor import ReconifyLogRecordProcessor
from reconify_otel.exporter.span_exporter import ReconifySpanExporter

__all__ = ["IdentitySpanProcessor", "ReconifyLogRecordProcessor", "ReconifySpanExporter"]
