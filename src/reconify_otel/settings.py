"""Configuration: explicit argument, then ``RECONIFY_*`` environment variable, then default.

``opentelemetry-instrument`` builds exporters with no arguments, so every option
needs an environment fallback. Keys are held as ``Secret`` so no ``repr``, log
line or traceback can show them. One table (``OPTIONS``) lists every option once;
the README's configuration table is checked against it.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, Final
from urllib.parse import urlsplit

DEFAULT_ENDPOINT: Final = "https://track.reconify.com/track"
ENV_APP_KEY: Final = "RECONIFY_APP_KEY"
ENV_API_KEY: Final = "RECONIFY_API_KEY"
MIB: Final = 1024 * 1024

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class Secret:
    """A string that never shows itself: ``repr``, ``str`` and f-strings print a mask."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


Redact = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Settings:
    app_key: Secret
    api_key: Secret
    endpoint: str = DEFAULT_ENDPOINT
    timeout: float = 10.0
    concurrency: int = 16
    compression: str = "none"
    session_timeout: int | None = None
    debug: bool = False
    allow_insecure: bool = False
    ca_bundle: str | None = None
    capture_content: bool = True
    mask_pii: bool = False
    max_field_bytes: int = 32 * 1024
    max_payload_bytes: int = 1 * MIB
    spool: bool = True
    spool_dir: str | None = None
    spool_max_bytes: int = 50 * MIB
    spool_retention_hours: float = 48.0
    spool_retry_seconds: float = 30.0
    max_queue: int = 2048
    redact: Redact | None = field(default=None, compare=False)
    user_agent: str = field(default="", compare=False)

    @property
    def secrets(self) -> tuple[str, str]:
        return self.app_key.reveal(), self.api_key.reveal()


def number(value: Any, env: str, default: Any, kind: type, name: str, minimum: float) -> Any:
    """An argument or environment number, checked now: ``ValueError`` names both."""
    raw = pick(value, env)
    if raw is None or raw == "":
        return default
    try:
        parsed = kind(raw)
    except (TypeError, ValueError):
        raise ValueError(f"{name} (or {env}) must be a number, got {raw!r}") from None
    if parsed < minimum:
        raise ValueError(f"{name} (or {env}) must be at least {minimum}, got {raw!r}")
    return parsed


def pick(value: Any, env: str) -> Any:
    return value if value is not None else os.environ.get(env)


def _flag(value: Any, env: str, default: bool, name: str) -> bool:
    if isinstance(value, bool):
        return value
    raw = pick(value, env)
    if raw is None:
        return default
    if isinstance(raw, int) and raw in (0, 1):
        return bool(raw)
    lowered = str(raw).strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"{name} ({env}) must be 1/0, true/false, yes/no or on/off, got {raw!r}")


def env_flag(env: str, default: bool) -> bool:
    """A yes/no environment switch read at run time: an unknown value keeps the default
    (with a warning) instead of raising into the application."""
    try:
        return _flag(None, env, default, env)
    except ValueError:
        logging.getLogger("reconify_otel").warning(
            "%s has an unknown value; using the default (%s)", env, default
        )
        return default


def _text(value: Any, env: str, default: Any, name: str) -> Any:
    raw = pick(value, env)
    return default if raw is None or raw == "" else str(raw)


def _compression(value: Any, env: str, default: Any, name: str) -> str:
    lowered = str(_text(value, env, default, name)).strip().lower()
    if lowered not in ("none", "gzip"):
        raise ValueError(f"{name} (or {env}) must be 'none' or 'gzip', got {lowered!r}")
    return lowered


def _num(kind: type, minimum: float) -> Callable[[Any, str, Any, str], Any]:
    def parse(value: Any, env: str, default: Any, name: str) -> Any:
        return number(value, env, default, kind, name, minimum)

    return parse


@dataclass(frozen=True)
class Option:
    name: str
    env: str
    parse: Callable[[Any, str, Any, str], Any]
    meaning: str


# Every option but the keys (validated apart) and ``redact`` (a function: argument only).
OPTIONS: Final = (
    Option("endpoint", "RECONIFY_ENDPOINT", _text, "Reconify's REST endpoint"),
    Option("timeout", "RECONIFY_TIMEOUT", _num(float, 0.001), "seconds for all attempts of one payload"),
    Option("concurrency", "RECONIFY_CONCURRENCY", _num(int, 1), "most payloads sent at once (fewer while the endpoint answers fast)"),
    Option("compression", "RECONIFY_COMPRESSION", _compression, "`none` or `gzip`"),
    Option("session_timeout", "RECONIFY_SESSION_TIMEOUT", _num(int, 1), "minutes before a session ends"),
    Option("debug", "RECONIFY_DEBUG", _flag, "log each payload, keys masked"),
    Option("allow_insecure", "RECONIFY_ALLOW_INSECURE", _flag, "allow `http://` to a host other than loopback"),
    Option("ca_bundle", "RECONIFY_CA_BUNDLE", _text, "CA bundle file for TLS verification"),
    Option("capture_content", "RECONIFY_CAPTURE_CONTENT", _flag, "send message texts"),
    Option("mask_pii", "RECONIFY_MASK_PII", _flag, "mask e-mail addresses and phone numbers in texts"),
    Option("max_field_bytes", "RECONIFY_MAX_FIELD_BYTES", _num(int, 64), "longest string field; longer ones are truncated"),
    Option("max_payload_bytes", "RECONIFY_MAX_PAYLOAD_BYTES", _num(int, 1024), "largest payload; texts are truncated to fit"),
    Option("spool", "RECONIFY_SPOOL", _flag, "keep undelivered payloads on disk and resend them"),
    Option("spool_dir", "RECONIFY_SPOOL_DIR", _text, "spool directory (default `~/.cache/reconify-otel/spool`)"),
    Option("spool_max_bytes", "RECONIFY_SPOOL_MAX_BYTES", _num(int, 1024), "spool size cap; the oldest go first"),
    Option("spool_retention_hours", "RECONIFY_SPOOL_RETENTION_HOURS", _num(float, 0.001), "spooled payloads older than this are dropped"),
    Option("max_queue", "RECONIFY_MAX_QUEUE", _num(int, 1), "handler API: payloads waiting to be sent; beyond it the oldest is dropped"),
    Option("spool_retry_seconds", "RECONIFY_SPOOL_RETRY_SECONDS", _num(float, 0.01), "how often the spool is retried while Reconify is down"),
)  # fmt: skip
OPTION_NAMES: Final = frozenset(o.name for o in OPTIONS) | {"redact"}


def resolve(*, app_key: str | None = None, api_key: str | None = None, **options: Any) -> Settings:
    """Build ``Settings``; a missing key or a bad value is a ``ValueError`` now, not later."""
    from reconify_otel.version import __version__

    unknown = sorted(set(options) - OPTION_NAMES)
    if unknown:
        raise TypeError(f"unknown option(s) {unknown}; known: {sorted(OPTION_NAMES)}")
    app, api = pick(app_key, ENV_APP_KEY), pick(api_key, ENV_API_KEY)
    missing = [
        f"{arg} (or the {env} environment variable)"
        for arg, env, value in (("app_key", ENV_APP_KEY, app), ("api_key", ENV_API_KEY, api))
        if not value
    ]
    if missing:
        raise ValueError(
            "Reconify needs both keys; missing: "
            + " and ".join(missing)
            + ". Both come from the application's page in the Reconify console."
        )
    defaults = {f.name: f.default for f in fields(Settings)}
    values = {
        o.name: o.parse(options.get(o.name), o.env, defaults[o.name], o.name) for o in OPTIONS
    }
    redact = options.get("redact")
    if redact is not None and not callable(redact):
        raise TypeError("redact must be a function taking and returning a payload dict")
    settings = Settings(
        app_key=Secret(str(app)),
        api_key=Secret(str(api)),
        redact=redact,
        user_agent=f"reconify-otel/{__version__}",
        **values,
    )
    _check_endpoint(settings)
    if settings.ca_bundle is not None and not os.path.isfile(settings.ca_bundle):
        raise ValueError(f"ca_bundle (or RECONIFY_CA_BUNDLE) is not a file: {settings.ca_bundle!r}")
    return settings


def _check_endpoint(settings: Settings) -> None:
    """Keys travel in the body: plain HTTP only to this machine, or when asked for."""
    # The value is not echoed: a key passed in the wrong place must not reach a log.
    parts = urlsplit(settings.endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("endpoint (or RECONIFY_ENDPOINT) must be an http:// or https:// URL")
    if parts.scheme == "http" and not settings.allow_insecure and not is_loopback(parts.hostname):
        raise ValueError(
            f"endpoint host {parts.hostname!r} is reached over plain http; the Reconify keys "
            "would travel in clear. Use https, or set allow_insecure "
            "(RECONIFY_ALLOW_INSECURE=1) deliberately."
        )


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
