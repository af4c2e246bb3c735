"""Configuration: explicit argument, then ``RECONIFY_*`` environment variable, then default.

``opentelemetry-instrument`` builds exporters with no arguments, so every option
needs an environment fallback. Keys are held as ``Secret`` so no ``repr``, log
line or traceback can show them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Final

DEFAULT_ENDPOINT: Final = "https://track.reconify.com/track"

ENV_ENDPOINT: Final = "RECONIFY_ENDPOINT"
ENV_APP_KEY: Final = "RECONIFY_APP_KEY"
ENV_API_KEY: Final = "RECONIFY_API_KEY"
ENV_TIMEOUT: Final = "RECONIFY_TIMEOUT"
ENV_CONCURRENCY: Final = "RECONIFY_CONCURRENCY"
ENV_COMPRESSION: Final = "RECONIFY_COMPRESSION"
ENV_SESSION_TIMEOUT: Final = "RECONIFY_SESSION_TIMEOUT"
ENV_DEBUG: Final = "RECONIFY_DEBUG"

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


@dataclass(frozen=True)
class Settings:
    app_key: Secret
    api_key: Secret
    endpoint: str = DEFAULT_ENDPOINT
    timeout: float = 10.0
    concurrency: int = 8
    compression: str = "none"
    session_timeout: int | None = None
    debug: bool = False
    user_agent: str = field(default="", compare=False)

    @property
    def secrets(self) -> tuple[str, str]:
        return self.app_key.reveal(), self.api_key.reveal()


def resolve(
    *,
    endpoint: str | None = None,
    app_key: str | None = None,
    api_key: str | None = None,
    timeout: float | None = None,
    concurrency: int | None = None,
    compression: str | None = None,
    session_timeout: int | None = None,
    debug: bool | None = None,
) -> Settings:
    """Build ``Settings``; a missing key or a bad value is a ``ValueError`` now, not later."""
    from reconify_otel.version import __version__

    app = _pick(app_key, ENV_APP_KEY)
    api = _pick(api_key, ENV_API_KEY)
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
    settings = Settings(
        app_key=Secret(str(app)),
        api_key=Secret(str(api)),
        endpoint=str(_pick(endpoint, ENV_ENDPOINT) or DEFAULT_ENDPOINT),
        timeout=_number(timeout, ENV_TIMEOUT, 10.0, float, "timeout", minimum=0.001),
        concurrency=_number(concurrency, ENV_CONCURRENCY, 8, int, "concurrency", minimum=1),
        compression=_compression(_pick(compression, ENV_COMPRESSION) or "none"),
        session_timeout=_optional_int(session_timeout, ENV_SESSION_TIMEOUT),
        debug=_flag(debug, ENV_DEBUG),
        user_agent=f"reconify-otel/{__version__}",
    )
    if not settings.endpoint.startswith(("http://", "https://")):
        raise ValueError(f"endpoint must be an http:// or https:// URL, got {settings.endpoint!r}")
    return settings


def _pick(value: Any, env: str) -> Any:
    return value if value is not None else os.environ.get(env)


def _number(value: Any, env: str, default: Any, kind: type, name: str, minimum: float) -> Any:
    raw = _pick(value, env)
    if raw is None or raw == "":
        return default
    try:
        number = kind(raw)
    except (TypeError, ValueError):
        raise ValueError(f"{name} (or {env}) must be a number, got {raw!r}") from None
    if number < minimum:
        raise ValueError(f"{name} (or {env}) must be at least {minimum}, got {raw!r}")
    return number


def _optional_int(value: Any, env: str) -> int | None:
    raw = _pick(value, env)
    if raw is None or raw == "":
        return None
    return int(_number(raw, env, None, int, "session_timeout", minimum=0))


def _compression(value: str) -> str:
    lowered = value.strip().lower()
    if lowered not in ("none", "gzip"):
        raise ValueError(f"compression (or {ENV_COMPRESSION}) must be 'none' or 'gzip'")
    return lowered


def _flag(value: bool | None, env: str) -> bool:
    if value is not None:
        return bool(value)
    raw = os.environ.get(env, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ValueError(f"{env} must be 1/0, true/false, yes/no or on/off, got {raw!r}")
