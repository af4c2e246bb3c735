"""The parts of an interaction every kind shares: timestamps, session, user."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconify_otel.core import attributes as A
from reconify_otel.core.conventions.classification import Kind
from reconify_otel.core.interaction import FORMATS, Interaction, Json
from reconify_otel.core.payload import CallKey, Defaults, Payload
from reconify_otel.core.record import SpanRecord
from reconify_otel.core.values import as_int, as_str, first_str, json_attr


def interaction(
    span: SpanRecord,
    defaults: Defaults,
    bad: list[str],
    kind: Kind,
    default_session: str | None,
    messages: tuple[Json, Json | str],
    key: CallKey | None = None,
) -> Interaction:
    """The span's interaction: the envelope read from it around ``messages`` (request,
    response); ``bad`` is complete once the user object is read.

    Session precedence: the span's own > ``default_session`` (the thread or conversation
    the call belongs to).
    """
    attrs = span.attributes
    user = user_object(attrs, defaults, bad)
    format_, type_ = FORMATS[kind]
    return Interaction(
        kind=kind,
        format=format_,
        type=type_,
        request_ms=span.start_ns // 1_000_000,
        response_ms=span.end_ns // 1_000_000,
        session=first_str(attrs, A.SESSION_ID, A.TRACELOOP_SESSION_ID) or default_session,
        session_timeout=as_int(attrs.get(A.SESSION_TIMEOUT)) or defaults.session_timeout,
        user=user,
        request=messages[0],
        response=messages[1],
        bad_attributes=tuple(bad),
        call_key=key,
    )


def user_object(attrs: Mapping[str, Any], defaults: Defaults, bad: list[str]) -> Payload:
    """Reconify's user object from span attributes; ``{}`` when they name no user."""
    user_id = first_str(attrs, A.USER_ID, A.ENDUSER_ID, A.TRACELOOP_USER_ID)
    personal = json_attr(attrs, A.USER_PERSONAL, dict, bad) or {}
    ref = as_str(attrs.get(A.USER_REF))
    if ref and defaults.resolve_personal is not None:
        personal = dict(defaults.resolve_personal(ref) or {}, **personal)
    email = as_str(attrs.get(A.USER_EMAIL)) or as_str(personal.get("email"))
    if not (user_id or email):
        return {}
    user: Payload = {"userId": user_id} if user_id else {}
    authenticated = attrs.get(A.USER_AUTHENTICATED)
    if isinstance(authenticated, bool):
        user["isAuthenticated"] = int(authenticated)
    for key in ("firstName", "lastName", "email", "phone", "gender"):
        value = email if key == "email" else as_str(personal.get(key))
        if value:
            user[key] = value
    return user
