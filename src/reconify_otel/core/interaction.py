"""What the mapping produces: one typed interaction, and its Reconify JSON built here only.

Privacy (``core.privacy``), the ``redact`` hook and the size caps (``core.size_caps``) take
an ``Interaction`` and return one; ``to_json`` is the keyless dict a spool keeps, and the
keys join it only when it is encoded (``core.encoding``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from reconify_otel.core.conventions.classification import Kind
from reconify_otel.core.payload import RECONIFY_API_VERSION, CallKey, Payload

Json = dict[str, Any]

# Reconify's (format, type) for each kind: the Responses API is sent as an OpenAI chat.
FORMATS: Mapping[Kind, tuple[str, str]] = MappingProxyType(
    {
        Kind.ASSISTANT: ("openai", "assistant"),
        Kind.CHAT: ("openai", "chat"),
        Kind.COMPLETION: ("openai", "completion"),
        Kind.RESPONSES: ("openai", "chat"),
        Kind.ANTHROPIC: ("anthropic", "chat"),
        Kind.MISTRAL: ("mistral", "chat"),
        Kind.COHERE: ("cohere", "chat"),
        Kind.GEMINI: ("gemini", "generate"),
        Kind.BEDROCK: ("bedrock", "chat"),
        Kind.UNIVERSAL: ("universal", "chat"),
    }
)
# The top-level keys of the JSON, in the order they are sent; what the routes set and the
# service needs as it is (``session`` ... ``user``) is the envelope.
ENVELOPE = ("reconify", "timestamps", "session", "sessionTimeout", "user")
_KEYS = frozenset((*ENVELOPE, "request", "response"))


@dataclass(frozen=True, slots=True)
class Interaction:
    """One interaction, without keys. ``format``/``type`` are ``FORMATS[kind]`` unless a
    ``redact`` hook changed them; ``extra`` holds top-level entries a hook added."""

    kind: Kind
    format: str
    type: str
    request_ms: int
    response_ms: int
    session: str | None
    session_timeout: int | None
    user: Json
    request: Json
    response: Json | str  # ``universal``: an answer that is no JSON is its text
    # Attributes that were present but unusable (bad JSON, wrong type): mapped around, counted.
    bad_attributes: tuple[str, ...] = ()
    # What identifies the call across instrumentations (see ``core.dedup``); None: never merged.
    call_key: CallKey | None = None
    version: str = RECONIFY_API_VERSION
    extra: tuple[tuple[str, Any], ...] = ()

    def to_json(self) -> Payload:
        """The Reconify JSON without keys: what is encoded, shown, spooled and redacted."""
        payload: Payload = {
            "reconify": {"format": self.format, "type": self.type, "version": self.version},
            "timestamps": {"request": self.request_ms, "response": self.response_ms},
            "session": self.session,
            "sessionTimeout": self.session_timeout,
            "user": self.user,
            "request": self.request,
            "response": self.response,
        }
        if self.extra:
            payload.update(self.extra)
        return payload

    def with_messages(
        self, request: Json, response: Json | str, extra: tuple[tuple[str, Any], ...]
    ) -> Interaction:
        """A copy with other messages (and other entries outside the envelope): what the
        privacy switches and the size caps' fitting return (``dataclasses.replace`` costs
        more, on every span)."""
        return Interaction(
            self.kind,
            self.format,
            self.type,
            self.request_ms,
            self.response_ms,
            self.session,
            self.session_timeout,
            self.user,
            request,
            response,
            self.bad_attributes,
            self.call_key,
            self.version,
            extra,
        )

    def with_json(self, payload: Mapping[str, Any]) -> Interaction | None:
        """This interaction as ``payload`` (its JSON, changed: what a ``redact`` hook
        returned) says it is; None when ``payload`` is no interaction (no ``reconify``
        object). Kind, call key and bad attributes are kept; an envelope key it lacks reads
        as null."""
        header = payload.get("reconify") if isinstance(payload, Mapping) else None
        if not isinstance(header, dict):
            return None
        timestamps = payload.get("timestamps")
        times = timestamps if isinstance(timestamps, dict) else {}
        return Interaction(
            kind=self.kind,
            format=_read(header, "format"),  # a hook may write anything: sent as written
            type=_read(header, "type"),
            version=_read(header, "version"),
            request_ms=_read(times, "request"),
            response_ms=_read(times, "response"),
            session=_read(payload, "session"),
            session_timeout=_read(payload, "sessionTimeout"),
            user=_read(payload, "user"),
            request=_read(payload, "request"),
            response=_read(payload, "response"),
            bad_attributes=self.bad_attributes,
            call_key=self.call_key,
            extra=tuple((k, v) for k, v in payload.items() if k not in _KEYS),
        )


def _read(source: Mapping[str, Any], key: str) -> Any:
    """``source[key]``, or None: what a hook wrote is not checked, only sent back."""
    return source.get(key)


def interaction_of(payload: Mapping[str, Any], kind: Kind) -> Interaction | None:
    """An interaction from its JSON (tests, a payload read back), or None."""
    fmt, typ = FORMATS[kind]
    blank = Interaction(kind, fmt, typ, 0, 0, None, None, {}, {}, {})
    return blank.with_json(payload)
