"""What leaves the process: the content switch and e-mail/phone masking, as ONE walk over
the finished interaction, whatever format the mapping produced (assistant runs, chat,
completion, Responses, Anthropic, and any added later).

Both switches are allowlists. The envelope (``reconify``, ``timestamps``, ``session``,
``sessionTimeout``, ``user``: what you set) is left as it is; everything else is walked.
Numbers, booleans and ``null`` are kept. A string is kept only at a protocol position:
under a key of ``KEPT`` (ids, model, roles, types, finish and stop reasons, tool names),
as a single token, in a protocol object: ``request``/``response`` themselves, or an
object reached from them through ``CONTAINERS`` keys only (messages, content blocks,
tools, tool calls, choices, output items, usage). Every other object is opaque data
(``metadata``, tool inputs and arguments, JSON schemas, tool results, anything unknown):
there no key is trusted, and the only string kept is a JSON type name under ``type``.
Formats that spell ids and protocol objects their own way (Gemini's ``responseId`` and
``contents``/``parts``, Cohere's ``generation_id`` and ``chat_history``) add theirs to
both lists, in their payloads only (``FORMAT_KEPT``, ``FORMAT_CONTAINERS``).
``capture_content=False`` turns every other string into ``null`` and drops the map
entries whose key is not a plain identifier (an e-mail used as a ``metadata`` key);
``mask_pii=True`` masks e-mail addresses and phone numbers in every other string and in
map keys. Both return a new interaction; the caller's is never changed in place.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, NamedTuple

from reconify_otel.core.interaction import Interaction

EMAIL_MASK = "[email]"
PHONE_MASK = "[phone]"
# Bounded repetitions keep both patterns linear on hostile text (no ReDoS).
_EMAIL = re.compile(r"[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}")
# Seven or more digits with the usual separators, optionally with a leading +.
_PHONE = re.compile(r"(?<![\w])\+?\d[\d\s().-]{5,24}\d(?![\w])")
_DATE = re.compile(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4}")

# The keys whose string values are kept in a protocol object: provider ids, enums and
# names, never free text. ``name`` is a tool's (or a schema's) name, except in a message
# (a dict with ``role``), where it names a participant and is not kept.
KEPT = frozenset(
    {
        "id",
        "call_id",
        "tool_call_id",
        "tool_use_id",
        "thread_id",
        "run_id",
        "assistant_id",
        "previous_response_id",
        "file_id",
        "model",
        "object",
        "type",
        "role",
        "status",
        "finish_reason",
        "stop_reason",
        "name",
        "tool_choice",
        "reasoning_effort",
        "effort",
        "service_tier",
        "system_fingerprint",
        "media_type",
        "detail",
    }
)
# The keys under which a protocol object holds protocol objects (or lists of them); any
# other object is opaque data. ``content`` of a ``*_result`` block (a tool's output) is data.
CONTAINERS = frozenset(
    {
        *("messages", "content", "system", "tool_calls", "function", "tools", "tool_choice"),
        *("choices", "message", "usage", "response_format", "json_schema", "text", "format"),
        *("reasoning", "thinking", "summary", "annotations", "source", "image_url"),
        *("image_file", "file", "attachments"),
    }
)
# At the top of ``request``/``response`` only: Responses input items and output items.
# Deeper down, ``input`` (a tool_use block's) and ``output`` (a tool's) are data.
ROOT_CONTAINERS = CONTAINERS | {"input", "output"}
# The one string kept in opaque data: a JSON type name under ``type`` (a schema's), which
# cannot hold anything else.
JSON_TYPES = frozenset({"object", "array", "string", "number", "integer", "boolean", "null"})
# A kept value is one token: printable, no space, short (an id, a model, an enum).
TOKEN_MAX = 256
# Formats that name their ids, enums and protocol objects their own way (Gemini's REST API
# in camelCase, the Python SDKs' dumps in snake_case, Cohere's v1 fields): kept, and walked
# as protocol objects, in payloads of that format only, beside the keys above. Their
# texts (``text``, ``message``, ``preamble``, function arguments and answers) stay content.
FORMAT_KEPT = {
    "gemini": frozenset(
        {
            *("responseId", "response_id", "modelVersion", "model_version", "finishReason"),
            *("mimeType", "mime_type"),
        }
    ),
    "cohere": frozenset({"response_id", "generation_id"}),
    "bedrock": frozenset({"modelId", "requestId", "stopReason", "toolUseId"}),
}
FORMAT_CONTAINERS = {
    "gemini": frozenset(
        {
            *("contents", "history", "parts", "candidates", "systemInstruction"),
            *("system_instruction", "functionCall", "function_call", "functionResponse"),
            *("function_response", "inlineData", "inline_data", "fileData", "file_data"),
        }
    ),
    "cohere": frozenset({"chat_history"}),
    # Bedrock's ``{requestId, body}`` and Converse's objects; the body sent, a JSON text,
    # is content. A tool's input stays data; a tool result names its call (``toolUseId``).
    "bedrock": frozenset(
        {
            *("body", "output", "inferenceConfig", "toolConfig", "toolSpec", "toolUse"),
            *("toolResult", "metrics"),
        }
    ),
}


def without_content(interaction: Interaction) -> Interaction:
    """``capture_content=False``: strings outside ``KEPT`` become ``null``."""
    return _outside_envelope(interaction, _nothing, _nothing)


def mask_pii(interaction: Interaction) -> Interaction:
    """``mask_pii=True``: e-mail addresses and phone numbers masked outside ``KEPT``."""
    return _outside_envelope(interaction, mask_text, _masked_key)


Text = Callable[[str], str | None]
Key = Callable[[Any], Any]


class Allowlist(NamedTuple):
    """What a walk keeps: the kept keys, and the keys holding protocol objects at the top
    of a side and below it (``KEPT``, ``ROOT_CONTAINERS``, ``CONTAINERS`` and the
    format's own)."""

    kept: frozenset[str]
    root: frozenset[str]
    inner: frozenset[str]


_ALLOWED = Allowlist(KEPT, ROOT_CONTAINERS, CONTAINERS)
_FORMAT_ALLOWED = {
    name: Allowlist(
        KEPT | FORMAT_KEPT.get(name, frozenset()),
        ROOT_CONTAINERS | FORMAT_CONTAINERS.get(name, frozenset()),
        CONTAINERS | FORMAT_CONTAINERS.get(name, frozenset()),
    )
    for name in {*FORMAT_KEPT, *FORMAT_CONTAINERS}
}


def allowlist(format_name: str) -> Allowlist:
    """What the switches keep in a payload of ``format_name`` (Reconify's format)."""
    return _FORMAT_ALLOWED.get(format_name, _ALLOWED)


def _outside_envelope(interaction: Interaction, text: Text, key_of: Key) -> Interaction:
    """Request, response and any other entry outside the envelope, walked."""
    extra = interaction.extra
    kept, root, inner = allowlist(interaction.format)

    def walk(value: Any) -> Any:
        return _walk(value, root, inner, kept, text, key_of)

    return interaction.with_messages(
        walk(interaction.request),
        walk(interaction.response),
        tuple((key, walk(value)) for key, value in extra) if extra else extra,
    )


def _nothing(_value: Any) -> None:
    return None


def _masked_key(key: Any) -> Any:
    return mask_text(key) if isinstance(key, str) else key


# Kept as they are by both switches; any other leaf is text (the encoder writes an
# object it does not know as ``str(object)``).
_NUMBERS = (int, float, type(None))
_SCALARS = frozenset({int, float, bool, type(None)})


def is_token(text: str) -> bool:
    return len(text) <= TOKEN_MAX and " " not in text and text.isprintable()


def is_result(block: Any) -> bool:
    """A tool's output block (``tool_result``, ``web_search_tool_result``, ...)."""
    kind = block.get("type") if isinstance(block, dict) else None
    return isinstance(kind, str) and kind.endswith("_result")


def _walk(
    value: Any,
    here: frozenset[str],
    inner: frozenset[str],
    kept: frozenset[str],
    text: Text,
    key_of: Key,
) -> Any:
    """The one walk, over (a list of) protocol objects; ``here`` names the keys under
    which they hold protocol objects (``inner`` below them), and every other object is
    ``_data``; strings are kept under ``kept`` keys only. ``text`` on each
    string not kept, ``key_of`` on each map key that is not a plain ASCII identifier, as
    every key of the formats is (None drops the entry; an identifier holds no ``@`` and no
    digit run that starts a word). Dicts and lists (tuples too) are rebuilt, never changed."""
    if not isinstance(value, dict):
        if isinstance(value, (list, tuple)):
            return [_walk(item, here, inner, kept, text, key_of) for item in value]
        return _data(value, text, key_of)
    out: dict[Any, Any] = {}
    in_message = "role" in value
    for key, item in value.items():
        if type(key) is str and key.isascii() and key.isidentifier():
            name = key
        else:
            name = key_of(key)
            if name is None:
                continue
        kind = type(item)
        if kind is str:
            keep = key in kept and is_token(item) and not (in_message and key == "name")
            out[name] = item if keep else text(item)
        elif kind in _SCALARS:
            out[name] = item
        elif key in here and not (key == "content" and is_result(value)):
            out[name] = _walk(item, inner, inner, kept, text, key_of)
        else:
            out[name] = _data(item, text, key_of)
    return out


def _data(value: Any, text: Text, key_of: Key) -> Any:
    """Opaque data (user's or model's): no key is trusted; every string but a JSON type
    name under ``type`` is text, whatever key holds it."""
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        for key, item in value.items():
            if not (type(key) is str and key.isascii() and key.isidentifier()):
                key = key_of(key)
                if key is None:
                    continue
            kind = type(item)
            if kind is str:
                out[key] = item if key == "type" and item in JSON_TYPES else text(item)
            elif kind in _SCALARS:
                out[key] = item
            else:
                out[key] = _data(item, text, key_of)
        return out
    if isinstance(value, (list, tuple)):
        return [_data(item, text, key_of) for item in value]
    if isinstance(value, _NUMBERS):
        return value
    return text(value if isinstance(value, str) else str(value))  # what the encoder writes


def mask_text(text: str) -> str:
    masked = _EMAIL.sub(EMAIL_MASK, text) if "@" in text else text
    return _PHONE.sub(lambda m: PHONE_MASK if _looks_like_phone(m.group()) else m.group(), masked)


def _looks_like_phone(text: str) -> bool:
    """7 to 15 digits (E.164), and not a date such as 2024-05-01."""
    digits = sum(ch.isdigit() for ch in text)
    return 7 <= digits <= 15 and not _DATE.fullmatch(text.strip())


# --- the texts the size caps shorten (``size_caps.fit``) ------------------------------------

# Where an LLM call's texts sit (chat, completion, Responses, Anthropic shapes; Cohere's
# ``message``/``preamble``/``chat_history[].message`` and tool parameters, Gemini's
# ``contents``/``systemInstruction`` given as text and function ``args``): the strings
# under these keys, at any depth of ``request`` and ``response``.
_CONTENT_KEYS = frozenset(
    {
        *("content", "text", "prompt", "system", "instructions", "arguments", "thinking"),
        *("input", "message", "preamble", "contents", "systemInstruction"),
        *("system_instruction", "args", "parameters"),
    }
)


def _map_sides(interaction: Interaction, change: Callable[[Any], Any]) -> Interaction:
    """``change`` on each side that is an object, or (a ``universal`` answer that is no
    JSON) a text."""
    request, response = interaction.request, interaction.response
    return interaction.with_messages(
        change(request) if isinstance(request, dict) else request,
        # A ``universal`` answer is any JSON the provider sent: a list too.
        change(response) if isinstance(response, (dict, str, list)) else response,
        interaction.extra,
    )


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


def _map_every_text(value: Any, change: Callable[[str], str], kept: frozenset[str]) -> Any:
    """``change`` on every string but a token under a kept key (an id, model, role...)."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {
            key: item
            if isinstance(item, str) and key in kept and is_token(item)
            else _map_every_text(item, change, kept)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_map_every_text(item, change, kept) for item in value]
    return value


def map_texts(
    interaction: Interaction, change: Callable[[str], str], every: bool = False
) -> Interaction:
    """A copy with ``change`` applied to every text value of both messages. ``every``:
    to every string but ids, models, roles and the like (``allowlist``'s kept keys), for
    payloads sent as given, whose texts may sit under any key."""
    if every:
        kept = allowlist(interaction.format).kept
        return _map_sides(interaction, lambda side: _map_every_text(side, change, kept))
    if interaction.type != "assistant":
        return _map_sides(
            interaction, lambda side: _map_content_texts(side, change, isinstance(side, str))
        )

    def on_message(message: Any) -> Any:
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, list):
            return message
        return dict(message, content=[_block(block, change) for block in content])

    return _map_sides(interaction, on_message)


def texts_of(interaction: Interaction, every: bool = False) -> list[str]:
    """Every text value of both messages, in order (``every``: as ``map_texts``)."""
    found: list[str] = []

    def collect(text: str) -> str:
        found.append(text)
        return text

    map_texts(interaction, collect, every)
    return found


def _block(block: Any, change: Callable[[str], str]) -> Any:
    text = block.get("text") if isinstance(block, dict) else None
    if isinstance(text, dict) and isinstance(text.get("value"), str):
        return dict(block, text=dict(text, value=change(text["value"])))
    return block
