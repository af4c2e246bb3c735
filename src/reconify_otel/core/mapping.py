"""The one entry to the pure mapping: which spans are interactions, and their payloads.

Every route (in-process exporter, bridge, handler API) selects with ``Selection`` and
maps with ``map_span``, so a call gives the same payload whichever route it took.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from reconify_otel.core import attributes as A
from reconify_otel.core.assistant import is_assistant_run, map_run
from reconify_otel.core.dedup import call_key
from reconify_otel.core.envelope import envelope
from reconify_otel.core.llm import llm_flavor, map_llm_call
from reconify_otel.core.llm.select import OPENINFERENCE, TRACELOOP
from reconify_otel.core.payload import (
    ASSISTANT,
    INTERACTION_KINDS,
    NO_DEFAULTS,
    Defaults,
    Mapped,
    Skip,
    Skipped,
)
from reconify_otel.core.record import SpanRecord

# Every name ``is_assistant_run`` or ``llm_flavor`` can accept is one of these or starts
# with one of the prefixes (tests/test_llm_selection.py holds the two in step).
_CANDIDATE_NAMES = A.UPSTREAM_SPAN_NAMES | frozenset(TRACELOOP) | frozenset(OPENINFERENCE)
_CANDIDATE_PREFIXES = (A.INVOKE_AGENT, "chat")


class Selection:
    """Which spans become interactions: the kinds asked for, tested cheaply per span."""

    __slots__ = ("_assistant", "_every_llm_kind", "_llm_kinds")

    def __init__(self, kinds: Iterable[str] = INTERACTION_KINDS) -> None:
        wanted = frozenset(kinds)
        unknown = wanted - INTERACTION_KINDS
        if unknown:
            raise ValueError(f"unknown interaction kinds {sorted(unknown)}")
        self._assistant = ASSISTANT in wanted
        self._llm_kinds = wanted - {ASSISTANT}
        self._every_llm_kind = self._llm_kinds == INTERACTION_KINDS - {ASSISTANT}

    @staticmethod
    def may_select(name: str) -> bool:
        """False for a name no kind can have: the caller need not even read the span's
        attributes (an SDK span builds a new view of them on every read)."""
        return name in _CANDIDATE_NAMES or name.startswith(_CANDIDATE_PREFIXES)

    def __call__(self, name: str, attributes: Mapping[str, Any]) -> bool:
        """Run on every span the application makes: an unrelated name answers False after
        one set lookup and one ``startswith``, before any further call."""
        if name not in _CANDIDATE_NAMES and not name.startswith(_CANDIDATE_PREFIXES):
            return False
        if self._assistant and is_assistant_run(name, attributes):
            return True
        if not self._llm_kinds:
            return False
        flavor = llm_flavor(name, attributes)
        return flavor is not None and (self._every_llm_kind or flavor in self._llm_kinds)


is_selected = Selection()


def map_span(span: SpanRecord, defaults: Defaults = NO_DEFAULTS) -> Mapped | Skipped:
    """Map a selected span (see ``Selection``) to a payload without keys."""
    if llm_flavor(span.name, span.attributes) is not None:
        return _map_call(span, defaults)
    return map_run(span, defaults)


def _map_call(span: SpanRecord, defaults: Defaults) -> Mapped | Skipped:
    attrs = span.attributes
    if span.is_error:
        return Skipped(Skip.ERROR_CALL, str(attrs.get(A.ERROR_TYPE) or "error status"))
    call = map_llm_call(span.name, attrs)
    if isinstance(call, str):
        return Skipped(Skip.NO_ANSWER, call)
    bad = list(call.bad_attributes)
    payload = envelope(span, defaults, bad, (call.format, call.type), call.conversation_id)
    payload["request"] = call.request
    payload["response"] = call.response
    key = call_key(payload, call.response_id, span.trace_id, span.span_id)
    return Mapped(payload, tuple(bad), key)
