"""Send OpenAI Assistants conversations traced with OpenTelemetry to Reconify."""

from reconify_otel.exporter import ReconifySpanExporter
from reconify_otel.handler import ReconifyHandler, reconify_openai_handler
from reconify_otel.identity import session, set_session, set_session_timeout, set_user, user
from reconify_otel.instrumentation import AssistantsInstrumentor
from reconify_otel.processor import IdentitySpanProcessor
from reconify_otel.version import __version__

__all__ = [
    "AssistantsInstrumentor",
    "IdentitySpanProcessor",
    "ReconifyHandler",
    "ReconifySpanExporter",
    "__version__",
    "reconify_openai_handler",
    "session",
    "set_session",
    "set_session_timeout",
    "set_user",
    "user",
]
