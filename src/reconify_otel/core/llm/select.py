"""Plain LLM calls, classified (``core.conventions``), to the reader of their convention.

The routes select with ``core.mapping.Selection`` and carry its ``Classification``; the
name-only functions here classify themselves, for callers that did not select.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconify_otel.core.conventions import Classification, Convention, Kind, classify
from reconify_otel.core.conventions.openinference import SPAN_KINDS as OPENINFERENCE
from reconify_otel.core.conventions.traceloop import ANSWER_ECHO_SCOPES
from reconify_otel.core.conventions.traceloop import CALL_KINDS as TRACELOOP
from reconify_otel.core.llm.genai import map_genai
from reconify_otel.core.llm.openinference import map_openinference
from reconify_otel.core.llm.openinference_messages import map_openinference_messages
from reconify_otel.core.llm.shapes import LlmCall

__all__ = ["OPENINFERENCE", "TRACELOOP", "is_llm_call", "llm_flavor", "map_call", "map_llm_call"]


def llm_flavor(name: str, attributes: Mapping[str, Any]) -> Kind | None:
    """Which plain call the span records, or None (an assistant run is not one)."""
    found = classify(name, attributes)
    if found is None or found.kind is Kind.ASSISTANT or found.unsupported_provider is not None:
        return None
    return found.kind


def is_llm_call(name: str, attributes: Mapping[str, Any]) -> bool:
    return llm_flavor(name, attributes) is not None


def map_llm_call(name: str, attributes: Mapping[str, Any]) -> LlmCall | str:
    """Classify, then map (``map_call``); a short reason when the span is no LLM call."""
    found = classify(name, attributes)
    if found is None or found.kind is Kind.ASSISTANT:
        return "not an LLM call span"
    if found.unsupported_provider is not None:
        return f"a call of {found.unsupported_provider}, which Reconify has no format for"
    return map_call(found, attributes)


def map_call(
    classification: Classification, attributes: Mapping[str, Any], scope: str = ""
) -> LlmCall | str:
    """Map a classified call with its convention's reader; a short reason when it cannot be.
    (``capture_content=False`` is applied later, to the finished payload: ``core.privacy``.)
    ``scope``: the instrumentation scope's name, for those that record answers as requests.
    """
    # The readers probe dozens of keys; an SDK span's attributes (a mapping proxy over
    # BoundedAttributes) answer each through the ABC's ``get``: one copy costs less.
    if type(attributes) is not dict:
        attributes = dict(attributes)
    if classification.convention is Convention.OPENINFERENCE:
        return map_openinference(classification.kind, attributes)
    if classification.convention is Convention.OPENINFERENCE_MESSAGES:
        return map_openinference_messages(classification.kind, attributes)
    return map_genai(classification.kind, attributes, scope in ANSWER_ECHO_SCOPES)
