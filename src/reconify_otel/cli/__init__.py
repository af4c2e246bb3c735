"""The ``reconify-otel`` command."""

from reconify_otel.cli.main import main

__all__ = ["main"]
