"""What leaves the process: message texts off on request, e-mail and phone masking.

Both work on copies; the caller's payload is never changed in place.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from reconify_otel.core.payload import Payload

EMAIL_MASK = "[email]"
PHONE_MASK = "[phone]"
# Bounded repetitions keep both patterns linear on hostile text (no ReDoS).
_EMAIL = re.compile(r"[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}")
# Seven or more digits with the usual separators, optionally with a leading +.
_PHONE = re.compile(r"(?<![\w])\+?\d[\d\s().-]{5,24}\d(?![\w])")
_DATE = re.compile(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4}")


# Where an LLM call's texts sit (chat, completion, Responses, Anthropic shapes): the
# values under these keys, at any depth of ``request`` and ``response``.
_CONTENT_KEYS = frozenset(
    {"content", "text", "prompt", "system", "instructions", "arguments", "thinking", "input"}
)


def _is_assistant(payload: Payload) -> bool:
    envelope = payload.get("reconify")
    return isinstance(envelope, dict) and envelope.get("type") == "assistant"


def without_content(payload: Payload) -> Payload:
    """Ids, times, model and usage stay; message content goes (``null`` for LLM calls)."""
    if _is_assistant(payload):
        return _map_messages(payload, lambda message: dict(message, content=[]))
    return _map_sides(payload, lambda side: _null_content(side))


def mask_pii(payload: Payload) -> Payload:
    """E-mail addresses and phone numbers in message texts replaced by markers."""
    return map_texts(payload, mask_text)


def mask_text(text: str) -> str:
    masked = _EMAIL.sub(EMAIL_MASK, text) if "@" in text else text
    return _PHONE.sub(lambda m: PHONE_MASK if _looks_like_phone(m.group()) else m.group(), masked)


def _looks_like_phone(text: str) -> bool:
    """7 to 15 digits (E.164), and not a date such as 2024-05-01."""
    digits = sum(ch.isdigit() for ch in text)
    return 7 <= digits <= 15 and not _DATE.fullmatch(text.strip())


def _map_messages(payload: Payload, change: Callable[[dict[str, Any]], dict[str, Any]]) -> Payload:
    copy = dict(payload)
    for side in ("request", "response"):
        if isinstance(copy.get(side), dict):
            copy[side] = change(copy[side])
    return copy


def _map_sides(payload: Payload, change: Callable[[Any], Any]) -> Payload:
    copy = dict(payload)
    for side in ("request", "response"):
        if side in copy:
            copy[side] = change(copy[side])
    return copy


def _null_content(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: None if key in _CONTENT_KEYS else _null_content(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_null_content(item) for item in value]
    return value


def _map_content_texts(value: Any, change: Callable[[str], str], inside: bool) -> Any:
    """``change`` on every string at or below a content key; ids, roles, urls untouched."""
    if isinstance(value, str):
        return change(value) if inside else value
    if isinstance(value, dict):
        return {
            key: _map_content_texts(item, change, key in _CONTENT_KEYS)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_map_content_texts(item, change, inside) for item in value]
    return value


def map_texts(payload: Payload, change: Callable[[str], str]) -> Payload:
    """A copy with ``change`` applied to every text value of both messages."""
    if not _is_assistant(payload):
        return _map_sides(payload, lambda side: _map_content_texts(side, change, False))

    def on_message(message: dict[str, Any]) -> dict[str, Any]:
        content = message.get("content")
        if not isinstance(content, list):
            return message
        return dict(message, content=[_block(block, change) for block in content])

    return _map_messages(payload, on_message)


def texts_of(payload: Payload) -> list[str]:
    """Every text value of both messages, in order."""
    found: list[str] = []

    def collect(text: str) -> str:
        found.append(text)
        return text

    map_texts(payload, collect)
    return found


def _block(block: Any, change: Callable[[str], str]) -> Any:
    text = block.get("text") if isinstance(block, dict) else None
    if isinstance(text, dict) and isinstance(text.get("value"), str):
        return dict(block, text=dict(text, value=change(text["value"])))
    return block
