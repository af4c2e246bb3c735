"""The pure mapping's vocabulary: the JSON payload type (keyless, as spooled), why a span
gave no interaction, what identifies a call, and the defaults. The interaction itself is
``core.interaction``'s."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from reconify_otel.core.conventions.classification import Kind

RECONIFY_API_VERSION = "3.1.0"

Payload = dict[str, Any]

# What ``interactions`` / RECONIFY_INTERACTIONS may name (``Kind``'s words); every kind is
# sent by default.
INTERACTION_KINDS = frozenset(kind.value for kind in Kind)


class Skip(str, Enum):
    """Why a selected span produced no interaction (each reason is counted)."""

    ERROR_RUN = "error_run"
    ERROR_CALL = "error_call"  # an LLM call that raised (ERROR status): Reconify logs none
    NO_ANSWER = "no_answer"
    # The same LLM call seen again: a second instrumentation, or a framework span around it.
    DUPLICATE = "duplicate"
    # Decided after mapping, when the payload is shaped for sending (``prepare``).
    REDACT_FAILED = "redact_failed"
    TOO_LARGE = "too_large"
    UNMAPPABLE = "unmappable"  # an input no rule foresaw (say, nesting past the stack)
    # A model call of a provider Reconify has no format for (Mistral, Gemini...).
    UNSUPPORTED_PROVIDER = "unsupported_provider"


@dataclass(frozen=True, slots=True)
class CallKey:
    """What identifies one LLM call across the spans that recorded it (``core.dedup``)."""

    response_id: str | None  # from the provider's response id, when the span has it
    answer: str | None  # from the trace and the answer's texts
    # The span that recorded it (trace and span id), when known: the same span coming back
    # (a Collector resending a batch the bridge failed to deliver) is not a duplicate.
    span: int | None = None
    # Its parent span (trace and span id): a framework's span around a call is that call.
    parent: int | None = None
    # The answer's texts in any trace, with when the call ran and which instrumentation
    # recorded it: OpenInference's LangChain spans and its provider spans are in traces of
    # their own, the provider's running within the framework's.
    texts: str | None = None
    window: tuple[int, int, str] | None = None
    kind: str | None = None  # Reconify's format and type, for the parent rule


@dataclass(frozen=True, slots=True)
class Skipped:
    reason: Skip
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Defaults:
    """The session timeout used where a span carries none, and how to find personal fields
    kept out of span attributes (``identity``); without it only the user id is sent."""

    session_timeout: int | None = None
    resolve_personal: Callable[[str], Mapping[str, Any] | None] | None = None


NO_DEFAULTS = Defaults()
