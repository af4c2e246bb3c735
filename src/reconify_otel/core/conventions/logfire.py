"""Pydantic Logfire (``logfire.instrument_openai()`` / ``instrument_anthropic()``): its spans
follow the GenAI conventions (``genai``), named by their message templates.

A streamed call is two spans: the request's, which ends when the call returns and holds
no answer, and a log span (``streaming response from ...``), start equal to end, holding
the request and the whole answer and the call's ``duration`` in seconds. That log span is
the call; the request's is counted as no answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Logfire's LLM instrumentations (``logfire.openai``, ``logfire.anthropic``) and
# LiteLLM's own OpenTelemetry callback (``litellm``).
LLM_SCOPES = ("logfire.openai", "logfire.anthropic")
SCOPE_PREFIXES = (*LLM_SCOPES, "litellm")
SPAN_TYPE = "logfire.span_type"
LOG = "log"  # a span with no duration of its own: a log line
DURATION = "duration"  # seconds, on the streamed answer's log span


def call_start_ns(start_ns: int, end_ns: int, attributes: Mapping[str, Any], scope: str) -> int:
    """When the call started: the span's start, or for Logfire's streamed answer (a log
    at the stream's end) its end minus the duration it records, never before 0."""
    if start_ns != end_ns or not scope.startswith(LLM_SCOPES):
        return start_ns
    if attributes.get(SPAN_TYPE) != LOG:
        return start_ns
    duration = attributes.get(DURATION)
    if isinstance(duration, bool) or not isinstance(duration, (int, float)):
        return start_ns
    if not 0 <= duration * 1e9 <= end_ns:  # NaN fails both comparisons
        return start_ns
    return end_ns - int(duration * 1e9)
