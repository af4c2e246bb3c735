"""Who is talking and in which session: per request with ``contextvars``, per process as defaults.

Reconify's own modules keep user and session in process globals, which mixes users up
in a server handling many at once. Here a ``with session(...)`` or ``with user(...)``
block holds for its thread or asyncio task only, nests, and restores the outer value.
What is current when an LLM call's or Assistants run's span starts is recorded on the span (see
``span_attributes``), so it reaches Reconify on every route, the Collector bridge too.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from reconify_otel.core import attributes as A
from reconify_otel.settings import env_flag

USER_KEYS = ("userId", "isAuthenticated", "firstName", "lastName", "email", "phone", "gender")
PERSONAL_KEYS = ("firstName", "lastName", "email", "phone", "gender")
ENV_PERSONAL_DATA_ON_SPANS = "RECONIFY_PERSONAL_DATA_ON_SPANS"

User = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class _Session:
    session_id: str | None
    timeout_minutes: int | None


_NO_SESSION = _Session(None, None)
_context_user: ContextVar[User | None] = ContextVar("reconify_user", default=None)
_context_session: ContextVar[_Session | None] = ContextVar("reconify_session", default=None)
_defaults_lock = threading.Lock()
_default_user: User | None = None
_default_session = _NO_SESSION


def validate_user(user: Mapping[str, Any]) -> dict[str, Any]:
    """Check a user object against Reconify's keys now, not as a broken payload later."""
    if not isinstance(user, Mapping):
        raise TypeError(f"a user must be a mapping with Reconify's keys, got {type(user).__name__}")
    unknown = sorted(set(user) - set(USER_KEYS))
    if unknown:
        raise ValueError(f"unknown user keys {unknown}; Reconify knows {list(USER_KEYS)}")
    checked: dict[str, Any] = {}
    for key, value in user.items():
        if value is None:
            continue
        if key == "isAuthenticated":
            if value not in (0, 1) or isinstance(value, float):
                raise ValueError("isAuthenticated must be 1 or 0 (True or False)")
            checked[key] = int(value)
        elif isinstance(value, str):
            checked[key] = value
        elif key == "userId" and isinstance(value, int) and not isinstance(value, bool):
            checked[key] = str(value)
        else:
            raise TypeError(f"user[{key!r}] must be a string, got {type(value).__name__}")
    if not (checked.get("userId") or checked.get("email")):
        raise ValueError(
            "a user needs a userId or an email, or Reconify counts a new user each time"
        )
    return checked


def _check_session(session_id: str) -> str:
    if not isinstance(session_id, str) or not session_id.strip():
        raise TypeError("a session id must be a non-empty string")
    return session_id


def _check_timeout(minutes: int | None) -> int | None:
    if minutes is None:
        return None
    if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes <= 0:
        raise ValueError(f"a session timeout is a positive number of minutes, got {minutes!r}")
    return minutes


@contextmanager
def session(session_id: str, timeout_minutes: int | None = None) -> Iterator[None]:
    """Runs started inside belong to this Reconify session (instead of the thread id)."""
    token = _context_session.set(
        _Session(_check_session(session_id), _check_timeout(timeout_minutes))
    )
    try:
        yield
    finally:
        _context_session.reset(token)


@contextmanager
def user(person: Mapping[str, Any]) -> Iterator[None]:
    """Runs started inside are this user's."""
    token = _context_user.set(validate_user(person))
    try:
        yield
    finally:
        _context_user.reset(token)


def set_user(person: Mapping[str, Any] | None) -> None:
    """Process-wide default user, used where no ``user(...)`` block is active."""
    global _default_user
    checked = validate_user(person) if person is not None else None
    with _defaults_lock:
        _default_user = checked


def set_session(session_id: str | None) -> None:
    """Process-wide default session, used where no ``session(...)`` block is active."""
    global _default_session
    checked = _check_session(session_id) if session_id is not None else None
    with _defaults_lock:
        _default_session = _Session(checked, _default_session.timeout_minutes)


def set_session_timeout(minutes: int | None) -> None:
    global _default_session
    checked = _check_timeout(minutes)
    with _defaults_lock:
        _default_session = _Session(_default_session.session_id, checked)


def personal_data_on_spans() -> bool:
    """Names, email, phone and gender on spans reach every exporter (Jaeger, Datadog...)."""
    return env_flag(ENV_PERSONAL_DATA_ON_SPANS, True)


def span_attributes() -> tuple[dict[str, Any], dict[str, Any]]:
    """Attributes to record on a span starting now: (explicit context, process defaults).

    Explicit values overwrite what a span has; defaults only fill what it lacks.
    """
    with _defaults_lock:
        default_user, default_session = _default_user, _default_session
    context_session = _context_session.get()
    explicit = _encode(_context_user.get(), context_session or _NO_SESSION)
    fallback = _encode(default_user, default_session)
    return explicit, fallback


Captured = tuple[dict[str, Any], dict[str, Any]]


def stamp(span: Any) -> None:
    """Record the current user and session on a recording span (SDK span API)."""
    explicit, fallback = span_attributes()
    present = getattr(span, "attributes", None) or {}
    span.set_attributes({**_unclaimed(fallback, _claimed(present, explicit)), **explicit})


def with_identity(attrs: Mapping[str, Any], captured: Captured) -> dict[str, Any]:
    """``attrs`` plus a user and session captured earlier (``span_attributes()``)."""
    explicit, fallback = captured
    return {**_unclaimed(fallback, _claimed(attrs, explicit)), **attrs, **explicit}


def _claimed(present: Mapping[str, Any], explicit: dict[str, Any]) -> dict[str, Any]:
    """What answers for the span already: its own attributes and a block's user (a block's
    user is not topped up with the default user's other fields; a block's session without a
    timeout still takes the default timeout)."""
    block_user = {k: v for k, v in explicit.items() if k not in _SESSION_GROUP}
    return {**present, **block_user}


def _unclaimed(fallback: dict[str, Any], present: Mapping[str, Any]) -> dict[str, Any]:
    """The process defaults a span does not already answer with another tool's values."""
    if fallback and any(key in present for key in _SESSION_KEYS):
        fallback = {k: v for k, v in fallback.items() if k not in _SESSION_GROUP}
    if fallback and any(key in present for key in _USER_KEYS):
        fallback = {k: v for k, v in fallback.items() if k in _SESSION_GROUP}
    return fallback


# Another tool's session or user on a span outranks a process default.
_SESSION_KEYS = (A.SESSION_ID, A.TRACELOOP_SESSION_ID)
_SESSION_GROUP = (A.SESSION_ID, A.SESSION_TIMEOUT)
_USER_KEYS = (A.USER_ID, A.ENDUSER_ID, A.TRACELOOP_USER_ID, A.USER_EMAIL)


def _encode(person: User | None, scope: _Session) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    if scope.session_id:
        attrs[A.SESSION_ID] = scope.session_id
    if scope.timeout_minutes is not None:
        attrs[A.SESSION_TIMEOUT] = scope.timeout_minutes
    if person:
        if person.get("userId"):
            attrs[A.USER_ID] = person["userId"]
        if "isAuthenticated" in person:
            attrs[A.USER_AUTHENTICATED] = bool(person["isAuthenticated"])
        personal = {k: person[k] for k in PERSONAL_KEYS if k in person}
        if personal and personal_data_on_spans():
            if "email" in personal:
                attrs[A.USER_EMAIL] = personal["email"]
            full_name = " ".join(personal[k] for k in ("firstName", "lastName") if k in personal)
            if full_name:
                attrs[A.USER_FULL_NAME] = full_name
            attrs[A.USER_PERSONAL] = json.dumps(personal, separators=(",", ":"))
        elif personal:
            attrs[A.USER_REF] = _registry.put(personal)
    return attrs


class _PersonalRegistry:
    """Personal fields kept in this process, spans carrying only an opaque reference.

    Bounded: the oldest references go first. Only an exporter in the same process can
    resolve them; the bridge gets the user id alone.
    """

    def __init__(self, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._lock = threading.Lock()
        self._items: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._next = itertools.count(1)
        self._prefix = os.urandom(6).hex()

    def put(self, personal: Mapping[str, Any]) -> str:
        with self._lock:
            ref = f"{self._prefix}-{next(self._next)}"
            self._items[ref] = dict(personal)
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)
            return ref

    def get(self, ref: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._items.get(ref)
            return dict(found) if found is not None else None

    def __len__(self) -> int:
        return len(self._items)


_registry = _PersonalRegistry()


def resolve_personal(ref: str) -> dict[str, Any] | None:
    return _registry.get(ref)
