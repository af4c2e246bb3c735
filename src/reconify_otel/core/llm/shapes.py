"""The Reconify ``request``/``response`` shapes every convention is mapped into.

One builder per provider object (``ChatCompletion``, ``Completion``, Anthropic ``Message``)
so that the same call gives the same payload whichever instrumentation recorded it, and a
value the span does not hold becomes ``None`` rather than a guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reconify_otel.core.conventions.classification import Kind
from reconify_otel.core.llm.values import Json, as_dict, as_int, as_list, as_str


@dataclass(frozen=True, slots=True)
class LlmCall:
    """One plain LLM call, shaped as Reconify's own modules send it."""

    kind: Kind  # its Reconify format and type: ``core.interaction.FORMATS``
    request: dict[str, Any]
    response: dict[str, Any] | str  # ``universal``: an answer that is no JSON is its text
    response_id: str | None  # provider id (chatcmpl-, cmpl-, resp_, msg_), for dedup
    conversation_id: str | None  # Responses API conversation / previous response, for session
    bad_attributes: tuple[str, ...] = ()


# --- finish reasons ------------------------------------------------------------------------
# The GenAI conventions write a shared enum (stop, length, content_filter, tool_call, error);
# older releases and OpenInference write the provider's own word. Both read back to the
# provider's word, which is what Reconify's modules send.

_OPENAI_FINISH = {"tool_call": "tool_calls"}
_ANTHROPIC_FINISH = {"tool_call": "tool_use", "length": "max_tokens"}


def openai_finish(reason: Any) -> str | None:
    text = as_str(reason)
    return _OPENAI_FINISH.get(text, text) if text else None


def anthropic_stop(reason: Any, stop_sequences_sent: bool) -> str | None:
    """Anthropic's ``stop_reason``. The enum's ``stop`` covers both ``end_turn`` and
    ``stop_sequence``; it reads as ``end_turn`` only when no stop sequence was sent."""
    text = as_str(reason)
    if text is None:
        return None
    if text == "stop":
        return None if stop_sequences_sent else "end_turn"
    return _ANTHROPIC_FINISH.get(text, text)


# --- usage -----------------------------------------------------------------------------------


def openai_usage(prompt: int | None, completion: int | None, total: int | None) -> Json | None:
    """``total_tokens`` is prompt + completion by OpenAI's definition when not recorded."""
    if total is None and prompt is not None and completion is not None:
        total = prompt + completion
    if prompt is None and completion is None and total is None:
        return None
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": total}


def anthropic_usage(input_tokens: int | None, output_tokens: int | None) -> Json | None:
    if input_tokens is None and output_tokens is None:
        return None
    return {"input_tokens": input_tokens, "output_tokens": output_tokens}


# --- provider objects ------------------------------------------------------------------------


def tool_call(call_id: Any, name: Any, arguments: Any) -> Json:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def chat_choice(index: int, content: str | None, tool_calls: list[Json], finish: Any) -> Json:
    message: Json = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {"index": index, "message": message, "finish_reason": finish}


def chat_completion(
    response_id: str | None, created: Any, model: Any, choices: list[Json], usage: Json | None
) -> Json:
    return {
        "id": response_id,
        "object": "chat.completion",
        "created": as_int(created),
        "model": model,
        "choices": choices,
        "usage": usage,
    }


def completion_choice(index: int, text: str | None, finish: Any) -> Json:
    return {"index": index, "text": text, "finish_reason": finish}


def text_completion(
    response_id: str | None, created: Any, model: Any, choices: list[Json], usage: Json | None
) -> Json:
    return {
        "id": response_id,
        "object": "text_completion",
        "created": as_int(created),
        "model": model,
        "choices": choices,
        "usage": usage,
    }


def anthropic_message(
    response_id: str | None,
    model: Any,
    content: list[Json] | None,
    stop_reason: str | None,
    usage: Json | None,
) -> Json:
    return {
        "id": response_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "usage": usage,
    }


# --- provider objects as recorded (OpenInference), filtered to the documented shape -----


def filter_chat_completion(body: Json) -> Json:
    """A ``ChatCompletion`` (or a stream's accumulated chunks) in the documented shape."""
    choices = []
    for position, raw in enumerate(as_list(body.get("choices"))):
        choice = as_dict(raw)
        message = as_dict(choice.get("message"))
        calls = [
            tool_call(c.get("id"), f.get("name"), f.get("arguments"))
            for c in map(as_dict, as_list(message.get("tool_calls")))
            for f in (as_dict(c.get("function")),)
        ]
        index = as_int(choice.get("index"))
        choices.append(
            chat_choice(
                position if index is None else index,
                message.get("content"),
                calls,
                choice.get("finish_reason"),
            )
        )
    usage = as_dict(body.get("usage"))
    return chat_completion(
        as_str(body.get("id")),
        body.get("created"),
        body.get("model"),
        choices,
        _openai_usage_of(usage) if usage else None,
    )


def filter_text_completion(body: Json) -> Json:
    choices = []
    for position, raw in enumerate(as_list(body.get("choices"))):
        choice = as_dict(raw)
        index = as_int(choice.get("index"))
        choices.append(
            completion_choice(
                position if index is None else index,
                choice.get("text"),
                choice.get("finish_reason"),
            )
        )
    usage = as_dict(body.get("usage"))
    return text_completion(
        as_str(body.get("id")),
        body.get("created"),
        body.get("model"),
        choices,
        _openai_usage_of(usage) if usage else None,
    )


def filter_anthropic_message(body: Json) -> Json:
    usage = as_dict(body.get("usage"))
    content = body.get("content")
    return anthropic_message(
        as_str(body.get("id")),
        body.get("model"),
        [filter_anthropic_block(b) for b in content] if isinstance(content, list) else None,
        as_str(body.get("stop_reason")),
        anthropic_usage(as_int(usage.get("input_tokens")), as_int(usage.get("output_tokens")))
        if usage
        else None,
    )


def filter_anthropic_block(raw: Any) -> Json:
    """An SDK content block as recorded, without the SDK's null extras (``citations: null``,
    ``caller``...)."""
    block = as_dict(raw)
    kind = block.get("type")
    if kind == "text":
        return {"type": "text", "text": block.get("text")}
    if kind == "tool_use":
        return {
            "type": "tool_use",
            "id": block.get("id"),
            "name": block.get("name"),
            "input": block.get("input"),
        }
    return {key: value for key, value in block.items() if value is not None}


def _openai_usage_of(usage: Json) -> Json | None:
    return openai_usage(
        as_int(usage.get("prompt_tokens")),
        as_int(usage.get("completion_tokens")),
        as_int(usage.get("total_tokens")),
    )


# --- tool definitions ------------------------------------------------------------------------


def chat_tools(definitions: list[Any]) -> list[Any]:
    """Chat Completions nest a function (``{type, function: {...}}``); the GenAI
    conventions record it flat (``{type, name, description, parameters}``)."""
    tools: list[Any] = []
    for raw in definitions:
        tool = as_dict(raw)
        if tool.get("type", "function") == "function" and "function" not in tool:
            function = {k: v for k, v in tool.items() if k != "type"}
            tools.append({"type": "function", "function": function})
        else:
            tools.append(raw)
    return tools


def flat_tools(definitions: list[Any]) -> list[Any]:
    """Responses API tools are flat: ``{type: "function", name, description, parameters}``."""
    tools: list[Any] = []
    for raw in definitions:
        tool = as_dict(raw)
        function = tool.get("function")
        if isinstance(function, dict):
            tools.append({"type": tool.get("type", "function"), **function})
        elif tool and "type" not in tool:  # older releases leave the type out
            tools.append({"type": "function", **tool})
        else:
            tools.append(raw)
    return tools
