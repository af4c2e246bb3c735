"""Payload to bytes. The keys join the payload here, at the last moment, so nothing
upstream of sending (mapping, queues, debug output, a spool) ever holds them."""

from __future__ import annotations

import json
from typing import Any

from reconify_otel.core.payload import Payload

MASK = "***"


def encode(payload: Payload, app_key: str, api_key: str) -> bytes:
    reconify = dict(payload["reconify"], appKey=app_key, apiKey=api_key)
    return to_json(dict(payload, reconify=reconify))


def to_json(value: Any) -> bytes:
    """Compact UTF-8 JSON; a lone surrogate (invalid in UTF-8) becomes ``?``."""
    text = _ENCODER.encode(value)
    return text.encode("utf-8", "replace")


# One encoder for all (``json.dumps`` with options builds one per call); it holds no state.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str)


def masked(payload: Payload) -> str:
    """The payload as it is sent, keys masked: for debug output."""
    reconify = dict(payload["reconify"], appKey=MASK, apiKey=MASK)
    return json.dumps(dict(payload, reconify=reconify), ensure_ascii=False, default=_repr)


def _repr(value: Any) -> str:
    return repr(value)
