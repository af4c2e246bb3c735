"""``reconify-otel bridge``: an OTLP/HTTP receiver that sends LLM calls to Reconify
(traces on ``/v1/traces``; the GenAI log events some calls keep their messages in, on
``/v1/logs``).

For an OpenTelemetry Collector (``otlphttp`` exporter) in front of it: see
docs/collector.md. ``create_app`` builds the ASGI app (tests, other servers);
``serve`` runs it under uvicorn.
"""

from __future__ import annotations

from reconify_otel.bridge.app import BridgeApp
from reconify_otel.bridge.config import BridgeConfig, check_bind, resolve_config
from reconify_otel.bridge.server import create_app, serve

__all__ = ["BridgeApp", "BridgeConfig", "check_bind", "create_app", "resolve_config", "serve"]
