"""Reading span attribute values defensively: wrong types and bad JSON read as absent.

Attributes come from any instrumentation, any version, or the network (the bridge):
nothing here trusts a type, and nothing raises.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def json_attr(attrs: Mapping[str, Any], key: str, kind: type, bad: list[str]) -> Any:
    raw = attrs.get(key)
    if raw is None:
        return None
    try:
        # NaN and Infinity are not JSON: read as null, never passed on.
        value = (
            json.loads(raw, parse_constant=_no_constant) if isinstance(raw, (str, bytes)) else None
        )
    except (ValueError, RecursionError):
        value = None
    if not isinstance(value, kind):
        bad.append(key)
        return None
    return value


def _no_constant(_: str) -> None:
    return None


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def first_str(attrs: Mapping[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = as_str(attrs.get(key))
        if value is not None:
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
