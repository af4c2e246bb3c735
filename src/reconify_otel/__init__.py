"""Send OpenAI Assistants conversations traced with OpenTelemetry to Reconify."""

from reconify_otel.exporter import ReconifySpanExporter
from reconify_otel.version import __version__

__all__ = ["ReconifySpanExporter", "__version__"]
