"""What the pure mapping produces: a payload without keys, or the reason there is none."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

RECONIFY_API_VERSION = "3.1.0"

Payload = dict[str, Any]


class Skip(str, Enum):
    """Why a selected span produced no interaction (each reason is counted)."""

    ERROR_RUN = "error_run"
    NO_ANSWER = "no_answer"
    # Decided after mapping, when the payload is shaped for sending (``prepare``).
    REDACT_FAILED = "redact_failed"
    TOO_LARGE = "too_large"
    UNMAPPABLE = "unmappable"  # an input no rule foresaw (say, nesting past the stack)


@dataclass(frozen=True, slots=True)
class Mapped:
    payload: Payload
    # Attributes that were present but unusable (bad JSON, wrong type): mapped around, counted.
    bad_attributes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Skipped:
    reason: Skip
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Defaults:
    """Values used where a span carries none, and how to find personal fields kept
    out of span attributes (``identity``); without it only the user id is sent."""

    session: str | None = None
    session_timeout: int | None = None
    user: Mapping[str, Any] | None = None
    resolve_personal: Callable[[str], Mapping[str, Any] | None] | None = None


NO_DEFAULTS = Defaults()
