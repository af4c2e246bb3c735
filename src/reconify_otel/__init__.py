"""Send LLM conversations traced with OpenTelemetry to Reconify.

Importing the package is cheap: the names below load their modules on first use, so
``import reconify_otel`` pulls in neither wrapt, protobuf, openai nor yaml, nor the offline
stand-ins (``reconify_otel.offline``, for ``reconify-otel demo`` and ``sink``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from reconify_otel.identity import session, set_session, set_session_timeout, set_user, user
from reconify_otel.version import __version__

if TYPE_CHECKING:
    from reconify_otel.exporter import (
        IdentitySpanProcessor,
        ReconifyLogRecordProcessor,
        ReconifySpanExporter,
    )
    from reconify_otel.handler import ReconifyHandler, reconify_openai_handler
    from reconify_otel.instrumentation import AssistantsInstrumentor

_LAZY = {
    "AssistantsInstrumentor": "reconify_otel.instrumentation",
    "IdentitySpanProcessor": "reconify_otel.exporter",
    "ReconifyHandler": "reconify_otel.handler",
    "ReconifyLogRecordProcessor": "reconify_otel.exporter",
    "ReconifySpanExporter": "reconify_otel.exporter",
    "reconify_openai_handler": "reconify_otel.handler",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'reconify_otel' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "AssistantsInstrumentor",
    "IdentitySpanProcessor",
    "ReconifyHandler",
    "ReconifyLogRecordProcessor",
    "ReconifySpanExporter",
    "__version__",
    "reconify_openai_handler",
    "session",
    "set_session",
    "set_session_timeout",
    "set_user",
    "user",
]
