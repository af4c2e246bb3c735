"""The one entry to the pure mapping: which spans are interactions, and their payloads.

Every route (in-process exporter, bridge, handler API) selects with ``is_selected`` and
maps with ``map_span``, so a call gives the same payload whichever route it took.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconify_otel.core.assistant import is_assistant_run, map_run
from reconify_otel.core.payload import NO_DEFAULTS, Defaults, Mapped, Skipped
from reconify_otel.core.record import SpanRecord


def is_selected(name: str, attributes: Mapping[str, Any]) -> bool:
    """Cheap test run on every span the application makes; most answer False at once."""
    return is_assistant_run(name, attributes)


def map_span(span: SpanRecord, defaults: Defaults = NO_DEFAULTS) -> Mapped | Skipped:
    """Map a selected span (see ``is_selected``) to a payload without keys."""
    return map_run(span, defaults)
