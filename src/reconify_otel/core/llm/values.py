"""The readers the LLM-call mappers add to ``core.values``: counts, request parameters,
flattened ``{prefix}.N.*`` lists, dicts, and tool-call arguments as OpenAI writes them;
``core.values``' own readers re-exported so a reader imports from one place.

As there, a value that is present but unusable is named in ``bad`` so the caller can
count it; the rest of the span is still mapped.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from reconify_otel.core.values import (
    REDACTED,
    as_int,
    as_list,
    as_str,
    first_str,
    is_index,
    json_attr,
    parse_json,
)

__all__ = [
    "REDACTED",
    "Attrs",
    "Json",
    "as_dict",
    "as_int",
    "as_list",
    "as_str",
    "compact_json",
    "first_str",
    "indexed",
    "int_attr",
    "is_index",
    "json_attr",
    "parse_json",
    "recorded_text",
    "scalar_attr",
]

Attrs = Mapping[str, Any]
Json = dict[str, Any]


def recorded_text(attrs: Attrs, key: str) -> str | None:
    """A text attribute as recorded; OpenInference's placeholder for hidden content is
    no text (sent as absent, never as the placeholder)."""
    value = as_str(attrs.get(key))
    return None if value == REDACTED else value


def as_dict(value: Any) -> Json:
    return value if isinstance(value, dict) else {}


def int_attr(attrs: Attrs, bad: list[str], *keys: str) -> int | None:
    """The first key holding a count (an integer, not negative); any other value is bad."""
    for key in keys:
        raw = attrs.get(key)
        if raw is None:
            continue
        value = as_int(raw)
        if value is None and isinstance(raw, str) and is_index(raw.strip()):
            value = int(raw)
        if value is None or value < 0:
            bad.append(key)
            continue
        return value
    return None


def scalar_attr(attrs: Attrs, key: str, bad: list[str]) -> Any:
    """A request parameter as recorded: number, string, bool, or a sequence made a list."""
    raw = attrs.get(key)
    if isinstance(raw, float) and not math.isfinite(raw):  # no JSON value
        bad.append(key)
        return None
    if raw is None or isinstance(raw, (bool, int, float, str)):
        return raw
    if isinstance(raw, (list, tuple)):
        return list(raw)
    bad.append(key)
    return None


def indexed(attrs: Attrs, prefix: str) -> dict[int, dict[str, Any]]:
    """``{prefix}.N.rest`` attributes grouped by N: ``{N: {rest: value}}``.

    Flattened lists (``gen_ai.prompt.0.role``, ``llm.input_messages.1.message.content``)
    are how older conventions spell a JSON array; this reads them back in one pass.
    """
    dot = prefix + "."
    found: dict[int, dict[str, Any]] = {}
    for key, value in attrs.items():
        if not key.startswith(dot):
            continue
        index, _, rest = key[len(dot) :].partition(".")
        if rest and is_index(index):
            found.setdefault(int(index), {})[rest] = value
    return dict(sorted(found.items()))


def compact_json(value: Any) -> str:
    """JSON text the way OpenAI writes tool-call arguments (no spaces, UTF-8 kept).

    Needed where an instrumentation parsed the arguments string into an object: the
    original spacing is gone, the value is not.
    """
    # ``default=str`` as the payload encoder: bytes (OTLP allows them) cost no call.
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
