"""Reading span attribute values defensively: wrong types and bad JSON read as absent.

Attributes come from any instrumentation, any version, or the network (the bridge):
nothing here trusts a type, and nothing raises.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

# OpenInference writes this in place of a hidden input or output: content off, not bad.
REDACTED = "__REDACTED__"


def parse_json(raw: Any) -> Any:
    """Parsed JSON, or ``None`` when ``raw`` is not JSON text (NaN/Infinity read as null)."""
    if not isinstance(raw, (str, bytes)):
        return None
    try:
        if isinstance(raw, str):  # one decoder for all: ``json.loads`` builds one per call
            return _DECODER.decode(raw)
        return json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        return None


def json_attr(attrs: Mapping[str, Any], key: str, kind: type, bad: list[str]) -> Any:
    """A JSON attribute of the expected kind; absent or redacted is ``None``, other
    values that are not JSON of that kind are named in ``bad``."""
    raw = attrs.get(key)
    if raw is None or raw == REDACTED:
        return None
    value = parse_json(raw)
    if not isinstance(value, kind):
        bad.append(key)
        return None
    return value


def _no_constant(_: str) -> None:
    return None


_DECODER = json.JSONDecoder(parse_constant=_no_constant)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def first_str(attrs: Mapping[str, Any], *keys: str) -> str | None:
    """The first key holding a non-empty string."""
    for key in keys:
        value = attrs.get(key)
        if isinstance(value, str) and value:  # as_str, inlined: read for every span
            return value
    return None


def as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and is_index(value.strip()):
        return int(value)
    return None


def is_index(text: str) -> bool:
    """ASCII digits only, short enough for ``int()`` (``isdigit`` alone admits "²")."""
    return 0 < len(text) <= 18 and text.isascii() and text.isdigit()
