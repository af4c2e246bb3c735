"""Per-field and per-payload size caps, with a visible marker where text was cut.

A runaway tool output or a pasted document must not make a payload Reconify refuses
(or one that costs the application memory); the marker tells a reader of the
transcript that the text went on.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from reconify_otel.core.encoding import to_json
from reconify_otel.core.interaction import Interaction
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


def cap_interaction(interaction: Interaction, max_bytes: int) -> Interaction:
    """Every string of the interaction's JSON cut to ``max_bytes`` (``cap_fields``)."""
    i = interaction

    def cap(value: Any) -> Any:
        return cap_fields(value, max_bytes)

    return replace(
        i,
        format=cap(i.format),
        type=cap(i.type),
        version=cap(i.version),
        request_ms=cap(i.request_ms),
        response_ms=cap(i.response_ms),
        session=cap(i.session),
        session_timeout=cap(i.session_timeout),
        user=cap(i.user),
        request=cap(i.request),
        response=cap(i.response),
        extra=tuple((key, cap(value)) for key, value in i.extra),
    )


# Formats whose payload can be the request and answer as given (``log_chat``, OpenInference's
# bodies): their texts may sit under any key (a Cohere call's ``documents``, an answer
# that is a list), so when their content texts cannot be shortened enough, every string
# but ids, models and roles is.
AS_GIVEN = frozenset({"universal", "mistral", "cohere", "gemini", "bedrock"})


def fit(interaction: Interaction, max_bytes: int) -> Interaction | None:
    """The interaction with its texts shortened until it fits, or None if it cannot."""
    size = encoded_size(interaction)
    if size <= max_bytes:
        return interaction
    fitted = _fit(interaction, max_bytes, size, every=False)
    if fitted is None and interaction.format in AS_GIVEN:
        fitted = _fit(interaction, max_bytes, size, every=True)
    return fitted


def _fit(interaction: Interaction, max_bytes: int, size: int, every: bool) -> Interaction | None:
    texts = [len(text.encode("utf-8", "replace")) for text in texts_of(interaction, every)]
    if not texts:
        return None
    budget = sum(texts) - (size - max_bytes)
    share = budget // len(texts) - _MARKER_BYTES
    if share <= 0:
        return None
    shortened = map_texts(interaction, lambda text: truncate(text, share), every)
    return shortened if encoded_size(shortened) <= max_bytes else None


def encoded_size(interaction: Interaction) -> int:
    return len(to_json(interaction.to_json()))
