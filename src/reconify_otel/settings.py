"""Configuration: explicit argument, then ``RECONIFY_*`` environment variable, then default.

``opentelemetry-instrument`` builds exporters with no arguments, so every option
needs an environment fallback. Keys are held as ``Secret`` so no ``repr``, log
line or traceback can show them. Each option is declared once, as a ``Settings`` field
(``option(default, parser, meaning)``); ``OPTIONS`` is read from those fields, and the
README's configuration table is checked against it. ``ReconifyOptions`` must be written
out for type checkers (``Unpack`` takes no computed TypedDict): tests/test_options.py
holds its keys equal to ``OPTIONS``'.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Final, TypedDict, TypeVar

from reconify_otel.core.payload import INTERACTION_KINDS
from reconify_otel.endpoint import check_endpoint

if TYPE_CHECKING:
    from reconify_otel.delivery.transport import HttpTransport

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
Parse = Callable[[Any, str, Any, str], Any]  # (argument, variable, default, name) -> value
T = TypeVar("T")


def number(value: Any, env: str, default: Any, kind: type, name: str, minimum: float) -> Any:
    """An argument or environment number, checked now: ``ValueError`` names both."""
    raw = pick(value, env)
    if raw is None or raw == "":
        return default
    # True is an int to Python, and int(2.5) is 2: neither is what the user meant.
    if isinstance(raw, bool) or (kind is int and isinstance(raw, float)):
        wanted = "a whole number" if kind is int else "a number"
        raise ValueError(f"{name} (or {env}) must be {wanted}, got {described(raw)}")
    try:
        parsed = kind(raw)
    except (TypeError, ValueError):
        raise ValueError(f"{name} (or {env}) must be a number, got {described(raw)}") from None
    if not math.isfinite(parsed):
        raise ValueError(f"{name} (or {env}) must be a finite number")
    if parsed < minimum:
        raise ValueError(f"{name} (or {env}) must be at least {minimum}, got a smaller number")
    return parsed


def described(raw: Any) -> str:
    """What a bad value was, never the value: a key passed to the wrong option must not
    reach an exception message, and from there a log."""
    if isinstance(raw, str):
        return f"a string of {len(raw)} characters"
    return f"a value of type {type(raw).__name__}"


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
    raise ValueError(
        f"{name} (or {env}) must be 1/0, true/false, yes/no or on/off, got {described(raw)}"
    )


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


def text(raw: Any, name: str, env: str, *, path: bool = False) -> str:
    """``raw`` if it is a string (or, for a ``path``, an ``os.PathLike``), else a
    ``TypeError``: ``str()`` of a wrong object (``b'...'``, a list) must not be sent or
    used as if it were the value meant."""
    if path and isinstance(raw, os.PathLike):
        raw = os.fspath(raw)
    if not isinstance(raw, str):
        kind = "a string or a path" if path else "a string"
        raise TypeError(f"{name} (or {env}) must be {kind}, got {described(raw)}")
    return raw


def _text(value: Any, env: str, default: Any, name: str) -> Any:
    raw = pick(value, env)
    return default if raw is None or raw == "" else text(raw, name, env)


def _path(value: Any, env: str, default: Any, name: str) -> Any:
    raw = pick(value, env)
    return default if raw is None or raw == "" else text(raw, name, env, path=True) or default


def _compression(value: Any, env: str, default: Any, name: str) -> str:
    raw = _text(value, env, default, name)
    lowered = str(raw).strip().lower()
    if lowered not in ("none", "gzip"):
        raise ValueError(f"{name} (or {env}) must be 'none' or 'gzip', got {described(raw)}")
    return lowered


def _endpoint(value: Any, env: str, default: Any, name: str) -> Any:
    """Unset means Reconify's endpoint; set but empty is a mistake, not a wish for production."""
    raw = pick(value, env)
    if raw is None:
        return default
    if not text(raw, name, env).strip():
        raise ValueError(
            f"{name} (or {env}) is empty; leave it unset to send to Reconify's endpoint"
        )
    return str(raw).strip()


def _num(kind: type, minimum: float) -> Parse:
    def parse(value: Any, env: str, default: Any, name: str) -> Any:
        return number(value, env, default, kind, name, minimum)

    return parse


def _interactions(value: Any, env: str, default: Any, name: str) -> frozenset[str]:
    """A comma-separated list (or an iterable) of interaction kinds; ``all`` for every one."""
    raw = pick(value, env)
    if raw is None or (isinstance(raw, str) and raw.strip().lower() in ("", "all")):
        return frozenset(default)
    if isinstance(raw, str):
        raw = raw.split(",")
    try:
        kinds = frozenset(str(kind).strip().lower() for kind in raw if str(kind).strip())
    except TypeError:
        raise ValueError(f"{name} (or {env}) must be a comma-separated list of kinds") from None
    unknown = kinds - INTERACTION_KINDS
    if unknown or not kinds:
        raise ValueError(
            f"{name} (or {env}) takes 'all' or kinds from {sorted(INTERACTION_KINDS)}; "
            f"{len(unknown)} unknown"
            if unknown
            else f"{name} (or {env}) names no kind"
        )
    return kinds


@dataclass(frozen=True)
class Option:
    name: str
    env: str
    parse: Parse
    meaning: str


def option(default: T, parse: Parse, meaning: str) -> T:
    """A ``Settings`` field that is an option (argument, else variable, else default)."""
    return field(default=default, metadata={"option": (parse, meaning)})


@dataclass(frozen=True)
class Settings:
    """Every option, declared once: its type, default, parser and meaning (``option``);
    its variable is ``RECONIFY_<NAME>``. ``OPTIONS`` is read from these fields."""

    app_key: Secret
    api_key: Secret
    endpoint: str = option(DEFAULT_ENDPOINT, _endpoint, "Reconify's REST endpoint")
    timeout: float = option(10.0, _num(float, 0.001), "seconds for all attempts of one payload")
    export_timeout: float = option(
        3.0,
        _num(float, 0.001),
        "longest one `export()` (or one handler batch) waits on the network; the rest is spooled",
    )
    concurrency: int = option(
        16, _num(int, 1), "most payloads sent at once (fewer while the endpoint answers fast)"
    )
    compression: str = option("none", _compression, "`none` or `gzip`")
    session_timeout: int | None = option(None, _num(int, 1), "minutes before a session ends")
    debug: bool = option(False, _flag, "log each payload, keys masked")
    allow_insecure: bool = option(False, _flag, "allow `http://` to a host other than loopback")
    ca_bundle: str | None = option(None, _path, "CA bundle file for TLS verification")
    capture_content: bool = option(True, _flag, "send message texts")
    mask_pii: bool = option(False, _flag, "mask e-mail addresses and phone numbers in texts")
    max_field_bytes: int = option(
        32 * 1024, _num(int, 64), "longest string field; longer ones are truncated"
    )
    max_payload_bytes: int = option(
        1 * MIB, _num(int, 1024), "largest payload; texts are truncated to fit"
    )
    spool: bool = option(True, _flag, "keep undelivered payloads on disk and resend them")
    spool_dir: str | None = option(
        None, _path, "spool directory (default `~/.cache/reconify-otel/spool`)"
    )
    spool_max_bytes: int = option(50 * MIB, _num(int, 1024), "spool size cap; the oldest go first")
    spool_retention_hours: float = option(
        48.0, _num(float, 0.001), "spooled payloads older than this are dropped"
    )
    spool_retry_seconds: float = option(
        4.0,
        _num(float, 0.01),
        "longest pause between probes of a down endpoint (a shorter `Retry-After` wins)",
    )
    max_queue: int = option(
        2048,
        _num(int, 1),
        "handler API: payloads waiting to be sent; beyond it the oldest is dropped",
    )
    interactions: frozenset[str] = option(
        INTERACTION_KINDS,
        _interactions,
        "what is sent: `all`, or a comma-separated list of `assistant`, `chat`, `completion`, `responses`, `anthropic`",
    )
    redact: Redact | None = field(default=None, compare=False)
    transport: HttpTransport | None = field(default=None, compare=False)  # argument only
    user_agent: str = field(default="", compare=False)

    @property
    def secrets(self) -> tuple[str, str]:
        return self.app_key.reveal(), self.api_key.reveal()


class ReconifyOptions(TypedDict, total=False):
    """The keyword options ``ReconifySpanExporter`` and ``reconify_openai_handler`` share
    (``**options: Unpack[ReconifyOptions]``), typed once; ``None`` means "from the
    ``RECONIFY_*`` variable, else the default". The names of ``OPTIONS`` (bar
    ``endpoint``, a parameter of its own), held in step by tests/test_options.py."""

    timeout: float | None
    concurrency: int | None
    compression: str | None
    session_timeout: int | None
    debug: bool | None
    allow_insecure: bool | None
    ca_bundle: str | None
    capture_content: bool | None
    mask_pii: bool | None
    max_field_bytes: int | None
    max_payload_bytes: int | None
    spool: bool | None
    spool_dir: str | None
    spool_max_bytes: int | None
    spool_retention_hours: float | None
    max_queue: int | None
    spool_retry_seconds: float | None
    redact: Redact | None
    export_timeout: float | None
    transport: HttpTransport | None
    interactions: frozenset[str] | None


# Every option but the keys (validated apart), ``redact`` and ``transport`` (objects:
# argument only), in the order of ``Settings``.
OPTIONS: Final = tuple(
    Option(f.name, f"RECONIFY_{f.name.upper()}", *f.metadata["option"])
    for f in fields(Settings)
    if "option" in f.metadata
)
OPTION_NAMES: Final = frozenset(o.name for o in OPTIONS) | {"redact", "transport"}
numeric = _num  # for other option tables (the bridge's)


def read_options(
    table: tuple[Option, ...], given: dict[str, Any], defaults: dict[str, Any]
) -> dict[str, Any]:
    """Every option of ``table``: its argument, else its variable, else its default."""
    return {o.name: o.parse(given.get(o.name), o.env, defaults[o.name], o.name) for o in table}


def resolve(*, app_key: str | None = None, api_key: str | None = None, **options: Any) -> Settings:
    """Build ``Settings``; a missing key or a bad value is a ``ValueError`` now, not later."""
    from reconify_otel.version import __version__

    unknown = sorted(set(options) - OPTION_NAMES)
    if unknown:  # worded as Python words it: the exporter and handler take ``**options``
        raise TypeError(
            f"got an unexpected keyword argument {unknown[0]!r}; "
            f"the options are {sorted(OPTION_NAMES)}"
        )
    app, api = pick(app_key, ENV_APP_KEY), pick(api_key, ENV_API_KEY)
    for arg, env, value in (("app_key", ENV_APP_KEY, app), ("api_key", ENV_API_KEY, api)):
        if value is not None:
            text(value, arg, env)  # 123, b"key" or ["key"] is refused, never sent as str()
    missing = [
        f"{arg} (or the {env} environment variable)"
        for arg, env, value in (("app_key", ENV_APP_KEY, app), ("api_key", ENV_API_KEY, api))
        if value is None or not value.strip()
    ]
    if missing:
        raise ValueError(
            "Reconify needs both keys; missing: "
            + " and ".join(missing)
            + ". Both come from the application's page in the Reconify console."
        )
    defaults = {f.name: f.default for f in fields(Settings)}
    values = read_options(OPTIONS, options, defaults)
    redact = options.get("redact")
    if redact is not None and not callable(redact):
        raise TypeError("redact must be a function taking and returning a payload dict")
    settings = Settings(
        app_key=Secret(app),
        api_key=Secret(api),
        redact=redact,
        transport=options.get("transport"),
        user_agent=f"reconify-otel/{__version__}",
        **values,
    )
    check_endpoint(settings.endpoint, settings.allow_insecure)
    if settings.ca_bundle is not None and not os.path.isfile(settings.ca_bundle):
        raise ValueError(
            "ca_bundle (or RECONIFY_CA_BUNDLE) is not a file: expected the path of a CA "
            f"bundle, got {described(settings.ca_bundle)}"
        )
    return settings
