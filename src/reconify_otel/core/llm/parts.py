"""GenAI ``parts`` messages read back into each provider's own message format.

``gen_ai.input.messages`` / ``gen_ai.output.messages`` hold messages as
``{role, parts: [{type: text|tool_call|tool_call_response|blob|uri|file|reasoning, ...}]}``.
Reconify wants what the application sent (OpenAI chat messages, Anthropic messages), so
each part type goes back to the provider's block it was made from. A part of a kind not
known here is kept as recorded rather than dropped. ``legacy`` produces the same shape,
with a ``PROVIDER`` part for content an old release recorded verbatim.
"""

from __future__ import annotations

from typing import Any

from reconify_otel.core.llm import responses, shapes
from reconify_otel.core.llm.values import Json, as_dict, as_list, as_str, compact_json, parse_json

# A content block recorded in the provider's own format (older releases): kept verbatim.
PROVIDER = "_provider"
_CALLS = frozenset({"tool_call", "tool_call_response", "reasoning"})


def parts_of(message: Json) -> list[Json]:
    """A message's parts; the early JSON form (``{role, content: "..."}``) as one text part."""
    parts = [as_dict(p) for p in as_list(message.get("parts"))]
    if not parts and isinstance(message.get("content"), str):
        parts = [{"type": "text", "content": message["content"]}]
    return parts


def part_texts(parts: list[Json]) -> list[str]:
    """The texts of a message's ``text`` parts (a payload's texts: ``privacy.texts_of``)."""
    return [
        p["content"] for p in parts if p.get("type") == "text" and isinstance(p.get("content"), str)
    ]


def _is_text_block(block: Any) -> bool:
    return isinstance(block, dict) and block.get("type") == "text"


# --- OpenAI ------------------------------------------------------------------------------


def openai_block(part: Json) -> Any:
    kind = part.get("type")
    if kind == "text":
        return {"type": "text", "text": part.get("content")}
    if kind == PROVIDER:
        return responses.content_block(part.get("value"))
    modality, mime = part.get("modality"), as_str(part.get("mime_type"))
    if kind == "uri" and modality == "image":
        return {"type": "image_url", "image_url": {"url": part.get("uri")}}
    if kind == "blob" and modality == "image":
        url = f"data:{mime or 'image/*'};base64,{part.get('content')}"
        return {"type": "image_url", "image_url": {"url": url}}
    if kind == "blob" and modality == "audio" and mime:
        audio_format = {"mpeg": "mp3", "x-wav": "wav"}.get(mime.split("/")[-1], mime.split("/")[-1])
        return {
            "type": "input_audio",
            "input_audio": {"data": part.get("content"), "format": audio_format},
        }
    if kind == "file" and part.get("file_id") is not None:
        return {"type": "file", "file": {"file_id": part.get("file_id")}}
    return part


def openai_content(parts: list[Json]) -> Any:
    """A lone text part reads as a string (the common form); anything else as a list."""
    blocks = [openai_block(p) for p in parts]
    if not blocks:
        return None
    if len(blocks) == 1 and _is_text_block(blocks[0]):
        return as_dict(blocks[0]).get("text")
    return blocks


def openai_arguments(arguments: Any) -> Any:
    """Tool-call arguments as the JSON text OpenAI carries (instrumentations parse it)."""
    if arguments is None or isinstance(arguments, str):
        return arguments
    if isinstance(arguments, bytes):  # OTLP bytes (the bridge): the JSON text's bytes
        return arguments.decode("utf-8", "replace")
    return compact_json(arguments)


def _openai_calls(parts: list[Json]) -> list[Json]:
    return [
        shapes.tool_call(p.get("id"), p.get("name"), openai_arguments(p.get("arguments")))
        for p in parts
        if p.get("type") == "tool_call"
    ]


def openai_messages(messages: list[Any]) -> list[Json]:
    """Chat request messages: ``tool_call`` parts as ``tool_calls``, each
    ``tool_call_response`` as its own ``tool`` message, the rest as ``content``."""
    result: list[Json] = []
    for raw in messages:
        message = as_dict(raw)
        role = as_str(message.get("role")) or "user"
        parts = parts_of(message)
        for part in parts:
            if part.get("type") == "tool_call_response":
                answer = {"role": "tool", "tool_call_id": part.get("id")}
                result.append(dict(answer, content=part.get("response")))
        calls = _openai_calls(parts)
        content = [p for p in parts if p.get("type") not in _CALLS]
        if not content and not calls and len(parts) > len(content):
            continue  # only tool responses: already written as tool messages
        entry: Json = {"role": role}
        if content or not calls:
            entry["content"] = openai_content(content)
        if calls:
            entry["tool_calls"] = calls
        result.append(entry)
    return result


def with_system(messages: list[Json], instructions: list[Any] | None) -> list[Json]:
    """``gen_ai.system_instructions`` as the leading system message, unless one is there."""
    if not instructions or any(m.get("role") in ("system", "developer") for m in messages):
        return messages
    parts = [as_dict(p) for p in instructions]
    return [{"role": "system", "content": openai_content(parts)}, *messages]


def openai_output(message: Json) -> tuple[str | None, list[Json]]:
    """An answer's text (parts joined, as a stream is) and tool calls. A stream that sent
    only tool calls leaves an empty text part behind: its content is null, as unstreamed."""
    parts = parts_of(message)
    calls = _openai_calls(parts)
    texts = part_texts(parts)
    text = "".join(texts)
    if text or (texts and not calls):
        return text, calls
    return None, calls


def completion_prompt(messages: list[Any]) -> Any:
    texts = [t for m in messages for t in part_texts(parts_of(as_dict(m)))]
    if len(texts) == 1:
        return texts[0]
    return texts or None


# --- Anthropic ---------------------------------------------------------------------------


def call_input(arguments: Any) -> Any:
    """A call's arguments as the object Anthropic's ``tool_use.input``, Gemini's ``args``
    and Converse's ``toolUse.input`` are: recorded JSON text read back into one. Text that
    is no JSON object (cut short, or the model's own words) is kept as that text: the one
    thing known, where a null would lose it and a wrapper object would invent."""
    if isinstance(arguments, bytes):  # OTLP bytes (the bridge): the JSON text's bytes
        arguments = arguments.decode("utf-8", "replace")
    if isinstance(arguments, str):
        parsed = parse_json(arguments)
        return parsed if isinstance(parsed, dict) else arguments
    return arguments


def _source(part: Json) -> Json:
    kind, mime = part.get("type"), part.get("mime_type")
    if kind == "blob":
        return {"type": "base64", "media_type": mime, "data": part.get("content")}
    if kind == "uri":
        return {"type": "url", "url": part.get("uri")}
    return {"type": "file", "file_id": part.get("file_id")}


def anthropic_block_of(part: Json) -> Any:
    """A GenAI part as the Anthropic content block it was made from."""
    kind = part.get("type")
    if kind == "text":
        return {"type": "text", "text": part.get("content")}
    if kind == "tool_call":
        return {
            "type": "tool_use",
            "id": part.get("id"),
            "name": part.get("name"),
            "input": call_input(part.get("arguments")),
        }
    if kind == "tool_call_response":
        return {
            "type": "tool_result",
            "tool_use_id": part.get("id"),
            "content": part.get("response"),
        }
    if kind == "reasoning":
        return {"type": "thinking", "thinking": part.get("content")}
    if kind == PROVIDER:
        return part.get("value")
    if kind in ("blob", "uri", "file"):
        media = "image" if part.get("modality") == "image" else "document"
        return {"type": media, "source": _source(part)}
    return part


def anthropic_content(parts: list[Json]) -> Any:
    blocks = [anthropic_block_of(p) for p in parts]
    if len(blocks) == 1 and _is_text_block(blocks[0]):
        return as_dict(blocks[0]).get("text")
    return blocks


def anthropic_messages(messages: list[Any]) -> tuple[Any, list[Json]]:
    """``(system, messages)``: system messages lifted into ``system`` (where Anthropic
    takes them), ``tool`` messages back into user turns of ``tool_result`` blocks."""
    system: list[Json] = []
    result: list[Json] = []
    for raw in messages:
        message = as_dict(raw)
        role = as_str(message.get("role")) or "user"
        parts = parts_of(message)
        if role == "system":
            system.extend(parts)
            continue
        result.append(
            {"role": "user" if role == "tool" else role, "content": anthropic_content(parts)}
        )
    return (anthropic_content(system) if system else None), result


def anthropic_output(message: Json) -> list[Any]:
    return [anthropic_block_of(p) for p in parts_of(message)]
