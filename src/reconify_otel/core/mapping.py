"""The one entry to the pure mapping: which spans are interactions, and what they are.

Every route (in-process exporter, bridge, handler API) selects with ``Selection`` and
maps with ``map_span``, so a call gives the same interaction whichever route it took.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from reconify_otel.core.assistant import map_run
from reconify_otel.core.conventions import Classification, Kind, classify, may_classify
from reconify_otel.core.conventions.genai import ERROR_TYPE
from reconify_otel.core.conventions.logfire import call_start_ns
from reconify_otel.core.dedup import call_key
from reconify_otel.core.envelope import interaction
from reconify_otel.core.interaction import FORMATS, Interaction
from reconify_otel.core.llm import LlmCall, map_call
from reconify_otel.core.payload import (
    INTERACTION_KINDS,
    NO_DEFAULTS,
    Defaults,
    Skip,
    Skipped,
)
from reconify_otel.core.record import SpanRecord


class Selection:
    """Which spans become interactions: the kinds asked for, tested cheaply per span."""

    __slots__ = ("_every_kind", "_kinds")

    def __init__(self, kinds: Iterable[str] = INTERACTION_KINDS) -> None:
        wanted = frozenset(kinds)
        unknown = wanted - INTERACTION_KINDS
        if unknown:
            raise ValueError(f"unknown interaction kinds {sorted(unknown)}")
        self._kinds = frozenset(Kind(kind) for kind in wanted)
        self._every_kind = self._kinds == frozenset(Kind)

    @staticmethod
    def may_select(name: str, keys: Iterable[str]) -> bool:
        """False for a span no kind can be, from its name and attribute keys: the caller
        need not read a value (an SDK span's attribute view answers ``get`` slowly)."""
        return may_classify(name, keys)

    def takes(self, kind: Kind) -> bool:
        """Whether ``interactions`` asks for this kind (for calls known without a span)."""
        return kind in self._kinds

    def __call__(self, name: str, attributes: Mapping[str, Any], scope: str = "") -> bool:
        """Run on every span the application makes: an unrelated span answers False after
        a set lookup, a ``startswith`` and a pass over its attribute keys."""
        return self.classify(name, attributes, scope) is not None

    def classify(
        self, name: str, attributes: Mapping[str, Any], scope: str = ""
    ) -> Classification | None:
        """The span's classification when it is of a kind asked for: the routes put it on the
        record (``SpanRecord.classification``) so the mapping does not classify again."""
        if not may_classify(name, attributes):
            return None
        found = classify(name, attributes, scope)
        if found is None or self._every_kind or found.kind in self._kinds:
            return found
        return None


is_selected = Selection()


def map_span(
    span: SpanRecord, defaults: Defaults = NO_DEFAULTS, call: LlmCall | None = None
) -> Interaction | Skipped:
    """Map a selected span to an interaction, by the classification it carries
    (a record built without selecting is classified here). ``call``: the call itself,
    where the caller saw it (the handler); the record then gives only its envelope."""
    if call is not None:
        return _map_call(span, call, defaults)
    found = span.classification or classify(span.name, span.attributes, span.scope)
    if found is not None and found.kind is not Kind.ASSISTANT:
        return _map_call(span, found, defaults)
    return map_run(span, defaults)


def _map_call(
    span: SpanRecord, found: Classification | LlmCall, defaults: Defaults
) -> Interaction | Skipped:
    attrs = span.attributes
    # A call that raised is that first (a failed span may name no provider: OpenInference's).
    if span.is_error:
        return Skipped(Skip.ERROR_CALL, str(attrs.get(ERROR_TYPE) or "error status"))
    if isinstance(found, Classification) and found.unsupported_provider is not None:
        return Skipped(Skip.UNSUPPORTED_PROVIDER, found.unsupported_provider)
    call = map_call(found, attrs, span.scope) if isinstance(found, Classification) else found
    if isinstance(call, str):
        return Skipped(Skip.NO_ANSWER, call)
    start_ns = call_start_ns(span.start_ns, span.end_ns, attrs, span.scope)
    if start_ns != span.start_ns:
        span = replace(span, start_ns=start_ns)
    kind = FORMATS[call.kind]
    recorded = (span.parent_span_id, span.start_ns, span.end_ns, span.scope)
    ids = (call.response_id, span.trace_id, span.span_id)
    key = call_key(kind, call.response, *ids, recorded, call.request)
    bad = list(call.bad_attributes)
    messages = (call.request, call.response)
    return interaction(span, defaults, bad, call.kind, call.conversation_id, messages, key)
