"""Reconify's handler API (``logAssistant``, ``setUser``, ...) for code without OpenTelemetry."""

from reconify_otel.handler.openai_handler import ReconifyHandler, reconify_openai_handler

__all__ = ["ReconifyHandler", "reconify_openai_handler"]
