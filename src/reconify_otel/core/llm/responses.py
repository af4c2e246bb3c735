"""The Responses API read into the chat shape Reconify documents for it.

Reconify's modules predate ``responses.create``; its closest documented form is an OpenAI
chat interaction, so ``instructions`` and ``input`` become ``messages`` and the
``Response`` becomes a one-choice ``ChatCompletion`` (see the LLM payload reference).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconify_otel.core.llm import shapes
from reconify_otel.core.llm.values import Json, as_dict, as_int, as_list, as_str

# Keyword arguments of the SDK itself, never sent to the API.
SDK_ONLY = frozenset({"extra_headers", "extra_query", "extra_body", "timeout"})
# What a request given as a dict (``log_chat``, a wrapped client's keyword arguments) may
# hold that is no part of the call: the SDK's options and credentials. A provider key
# passed along must never reach Reconify. Names compared lower-case, without - and _.
_OPTIONS = frozenset(
    {
        "extraheaders",
        "extraquery",
        "extrabody",
        "timeout",
        "headers",
        "defaultheaders",
        "defaultquery",
        "httpoptions",
        "authorization",
        "proxyauthorization",
        "bearer",
        "key",
        "password",
        "clientsecret",
        "credentials",
    }
)


def _is_option(key: Any) -> bool:
    if not isinstance(key, str):
        return False
    name = key.lower().replace("-", "").replace("_", "")
    return (
        name in _OPTIONS
        or name.endswith(("apikey", "secret", "secretkey", "accesskey", "accesskeyid"))
        or name.endswith("token")  # access_token, session_token; not max_tokens
    )


def without_options(body: Mapping[str, Any]) -> Json:
    """``body`` without the SDK's options and credentials, at any depth: a Gemini
    ``config``'s ``http_options``, an STS ``Credentials`` object, nested ``headers``."""
    kept: Json = {}
    for key, value in body.items():
        if not _is_option(key):
            kept[key] = _without(value)
    return kept


def _without(value: Any) -> Any:
    if isinstance(value, Mapping):
        return without_options(value)
    if isinstance(value, list):
        return [_without(item) for item in value]
    return value


_MOVED = frozenset({"model", "input", "instructions"})


def content_block(raw: Any) -> Any:
    """A Responses content part as the chat content part it stands for; chat-native
    parts (and anything unknown) are kept as they are."""
    block = as_dict(raw)
    kind = block.get("type")
    if kind in ("input_text", "output_text"):
        return {"type": "text", "text": block.get("text")}
    if kind == "input_image":
        image: Json = {"url": block.get("image_url")}
        if block.get("detail") is not None:
            image["detail"] = block["detail"]
        if block.get("file_id") is not None and block.get("image_url") is None:
            image = {"file_id": block["file_id"]}
        return {"type": "image_url", "image_url": image}
    if kind == "input_file":
        fields = ("file_id", "file_data", "filename")
        return {"type": "file", "file": {k: block[k] for k in fields if k in block}}
    return raw


def chat_content(content: Any) -> Any:
    """A string stays a string; a list of parts becomes chat parts, and a lone text part
    reads as its text (the GenAI conventions cannot tell the two apart either)."""
    if not isinstance(content, list):
        return content
    blocks = [content_block(part) for part in content]
    if len(blocks) == 1 and as_dict(blocks[0]).get("type") == "text":
        return as_dict(blocks[0]).get("text")
    return blocks


def chat_messages(instructions: Any, items: Any) -> list[Json] | None:
    """``instructions`` + ``input`` as chat messages: roles and texts kept, function calls
    and their outputs as ``tool_calls`` / ``tool`` messages, other item kinds left out."""
    messages: list[Json] = []
    if isinstance(instructions, str):
        messages.append({"role": "system", "content": instructions})
    if isinstance(items, str):
        messages.append({"role": "user", "content": items})
        return messages
    if not isinstance(items, list):
        return messages or None
    for raw in items:
        item = as_dict(raw)
        kind = item.get("type", "message")
        if kind == "message" and isinstance(item.get("role"), str):
            messages.append({"role": item["role"], "content": chat_content(item.get("content"))})
        elif kind == "function_call":
            call_id = item.get("call_id", item.get("id"))
            call = shapes.tool_call(call_id, item.get("name"), item.get("arguments"))
            messages.append({"role": "assistant", "tool_calls": [call]})
        elif kind == "function_call_output":
            output = chat_content(item.get("output"))
            messages.append(
                {"role": "tool", "tool_call_id": item.get("call_id"), "content": output}
            )
    return messages


def chat_request(body: Json) -> Json:
    """A ``responses.create`` request body as a chat request: ``model``, ``messages``, then
    every other parameter that was set, as it was set."""
    request: Json = {"model": body.get("model")}
    request["messages"] = (
        chat_messages(body.get("instructions"), body["input"]) if "input" in body else None
    )
    for key, value in body.items():
        if key not in _MOVED and key not in SDK_ONLY:
            request[key] = value
    return request


def finish_reason(body: Json, has_tool_calls: bool) -> str | None:
    """The chat ``finish_reason`` a Response's status stands for."""
    status = body.get("status")
    if status == "completed":
        return "tool_calls" if has_tool_calls else "stop"
    if status == "incomplete":
        reason = as_dict(body.get("incomplete_details")).get("reason")
        return {"max_output_tokens": "length", "content_filter": "content_filter"}.get(str(reason))
    return None


def chat_response(body: Json) -> Json:
    """A ``Response`` as a one-choice ``ChatCompletion``: the output text joined, the
    ``function_call`` items as tool calls (``id`` = their ``call_id``, the id a later
    ``function_call_output`` answers), usage renamed."""
    texts: list[str] = []
    calls: list[Json] = []
    for raw in as_list(body.get("output")):
        item = as_dict(raw)
        if item.get("type") == "message":
            for part in map(as_dict, as_list(item.get("content"))):
                if part.get("type") == "output_text" and isinstance(part.get("text"), str):
                    texts.append(part["text"])
        elif item.get("type") == "function_call":
            call_id = item.get("call_id", item.get("id"))
            calls.append(shapes.tool_call(call_id, item.get("name"), item.get("arguments")))
    usage = as_dict(body.get("usage"))
    return shapes.chat_completion(
        as_str(body.get("id")),
        body.get("created_at"),
        body.get("model"),
        [
            shapes.chat_choice(
                0, "".join(texts) if texts else None, calls, finish_reason(body, bool(calls))
            )
        ],
        shapes.openai_usage(
            as_int(usage.get("input_tokens")),
            as_int(usage.get("output_tokens")),
            as_int(usage.get("total_tokens")),
        )
        if usage
        else None,
    )


def conversation_of(*bodies: Json) -> str | None:
    """The conversation a call belongs to: ``conversation`` (an id or ``{id}``). Not the
    ``previous_response_id`` it continues: that changes every turn, so as a session it
    would split a conversation into one session per turn."""
    for body in bodies:
        conversation = body.get("conversation")
        found = as_str(conversation) or as_str(as_dict(conversation).get("id"))
        if found:
            return found
    return None
