"""Reconify's handler API (``logAssistant``, ``logChat``, ``setUser``, a wrapped client) for
code without OpenTelemetry."""

from reconify_otel.handler.openai_handler import ReconifyHandler, reconify_openai_handler

__all__ = ["ReconifyHandler", "reconify_openai_handler"]
