"""Per-field and per-payload size caps, with a visible marker where text was cut.

A runaway tool output or a pasted document must not make a payload Reconify refuses
(or one that costs the application memory); the marker tells a reader of the
transcript that the text went on.
"""

from __future__ import annotations

from typing import Any

from reconify_otel.core.encoding import to_json
from reconify_otel.core.payload import Payload
from reconify_otel.core.privacy import map_texts, texts_of

TRUNCATION_MARKER = " …[truncated by reconify-otel]"
_MARKER_BYTES = len(TRUNCATION_MARKER.encode())


def truncate(text: str, max_bytes: int) -> str:
    """``text`` cut to at most ``max_bytes`` UTF-8 bytes, marker included."""
    raw = text.encode("utf-8", "replace")
    if len(raw) <= max_bytes:
        return text
    keep = max(0, max_bytes - _MARKER_BYTES)
    return raw[:keep].decode("utf-8", "ignore") + TRUNCATION_MARKER


def cap_fields(value: Any, max_bytes: int) -> Any:
    """Every string in a JSON-like value cut to ``max_bytes``."""
    if isinstance(value, str):
        return truncate(value, max_bytes) if len(value) * 4 > max_bytes else value
    if isinstance(value, dict):
        return {key: cap_fields(item, max_bytes) for key, item in value.items()}
    if isinstance(value, list):
        return [cap_fields(item, max_bytes) for item in value]
    return value


def fit(payload: Payload, max_bytes: int) -> Payload | None:
    """The payload with its texts shortened until it fits, or None if it cannot."""
    size = encoded_size(payload)
    if size <= max_bytes:
        return payload
    texts = [len(text.encode("utf-8", "replace")) for text in texts_of(payload)]
    if not texts:
        return None
    budget = sum(texts) - (size - max_bytes)
    share = budget // len(texts) - _MARKER_BYTES
    if share <= 0:
        return None
    shortened = map_texts(payload, lambda text: truncate(text, share))
    return shortened if encoded_size(shortened) <= max_bytes else None


def encoded_size(payload: Payload) -> int:
    return len(to_json(payload))
