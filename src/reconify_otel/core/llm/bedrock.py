"""Amazon Bedrock calls in Reconify's ``bedrock`` format (type ``chat``).

Reconify's module logs ``invoke_model``: the request is its keyword arguments
(``modelId``, ``body`` as the JSON text sent), the response ``{requestId, body}`` with the
answer body parsed. A span holds that exact body only where OpenInference recorded it
(Claude's messages API): then that is what is sent (``exact``). Every other call,
``converse``/``converse_stream`` and an ``invoke_model`` whose span holds only messages,
is sent in Converse's form, Bedrock's own model-independent one (``request`` and
``response``): ``{modelId, messages, system, inferenceConfig, additionalModelRequestFields,
toolConfig}`` and ``{requestId, body: {output: {message}, stopReason, usage}}``. A
streamed call is sent as that unstreamed answer. The readers give messages in the GenAI
``parts`` shape.
"""

from __future__ import annotations

from typing import Any

from reconify_otel.core.llm.parts import call_input, parts_of
from reconify_otel.core.llm.responses import without_options
from reconify_otel.core.llm.values import Json, as_str

# Converse's ``inferenceConfig`` keys, from the conventions' and Converse's own names; any
# other parameter is model-specific (``additionalModelRequestFields``).
INFERENCE_CONFIG = {
    "max_tokens": "maxTokens",
    "maxTokens": "maxTokens",
    "temperature": "temperature",
    "top_p": "topP",
    "topP": "topP",
    "stop_sequences": "stopSequences",
    "stopSequences": "stopSequences",
}
# The kinds of Converse's ``ToolResultContentBlock``.
_RESULT_KINDS = frozenset({"text", "json", "image", "document", "video", "searchResult"})
# The conventions' finish reasons as Converse's stop reasons (Bedrock's own pass as given).
_STOP = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_call": "tool_use",
    "tool_calls": "tool_use",
    "content_filter": "content_filtered",
}


def block(part: Json) -> Json:
    """One Converse content block from a GenAI part; a block in Bedrock's own shape (no
    ``type``: OpenInference's and the log events' messages) passes as given."""
    kind = part.get("type")
    if kind is None:
        return part
    if kind == "text":  # the GenAI part's ``content``; Anthropic's block's ``text``
        return {"text": part.get("content", part.get("text"))}
    if kind == "tool_call":
        tool_input = call_input(part.get("arguments"))
        return {
            "toolUse": {"toolUseId": part.get("id"), "name": part.get("name"), "input": tool_input}
        }
    if kind == "tool_call_response":
        answer = part.get("response")
        content: Any
        if isinstance(answer, str):
            content = [{"text": answer}]
        elif _result_blocks(answer):  # botocore's events: the toolResult's content as given
            content = answer
        else:
            content = [{"json": answer}]
        return {"toolResult": {"toolUseId": part.get("id"), "content": content}}
    return {key: value for key, value in part.items() if key != "type"}


def _result_blocks(answer: Any) -> bool:
    """Whether a tool's answer is a ``toolResult``'s content already: a list of Converse's
    tool result blocks (``{text}``, ``{json}``, ``{image}``...), one kind each."""
    if not isinstance(answer, list) or not answer:
        return False
    return all(
        isinstance(b, dict) and len(b) == 1 and next(iter(b)) in _RESULT_KINDS for b in answer
    )


def _blocks(message: Json) -> list[Json]:
    content = message.get("content")
    if isinstance(content, list) and "parts" not in message:  # Bedrock's own message
        return [b if isinstance(b, dict) else {"text": str(b)} for b in content]
    if isinstance(content, str) and "parts" not in message:
        return [{"text": content}]
    return [block(p) for p in parts_of(message)]


def messages(inputs: list[Json]) -> tuple[list[Json], list[Json]]:
    """(system blocks, Converse messages): a tool's answer is a user message's block."""
    system: list[Json] = []
    found: list[Json] = []
    for message in inputs:
        role = str(message.get("role") or "user")
        if role == "system":
            system.extend(_blocks(message))
            continue
        found.append(
            {"role": "assistant" if role == "assistant" else "user", "content": _blocks(message)}
        )
    return system, found


def tool_config(definitions: list[Any]) -> Json:
    """Converse's ``toolConfig``; a definition already in its ``toolSpec`` shape is kept."""
    tools = []
    for tool in definitions:
        if not isinstance(tool, dict):
            continue
        if "toolSpec" in tool:
            tools.append(tool)
            continue
        function = tool.get("function")
        spec: Json = function if isinstance(function, dict) else tool
        entry: Json = {"name": spec.get("name")}
        if spec.get("description") is not None:
            entry["description"] = spec["description"]
        entry["inputSchema"] = {"json": spec.get("parameters")}
        tools.append({"toolSpec": entry})
    return {"tools": tools}


def request(
    model_id: Any,
    inputs: list[Json],
    instructions: list[Any] | None,
    params: Json,
    tools: list[Any] | None = None,
) -> Json:
    """Converse's request; ``params`` by the conventions' or Converse's names."""
    system, found = messages(inputs)
    system = [_text_block(p) for p in instructions or ()] + system
    body: Json = {"modelId": model_id, "messages": found or None}
    if system:
        body["system"] = system
    config = {INFERENCE_CONFIG[k]: v for k, v in params.items() if k in INFERENCE_CONFIG}
    if config:
        body["inferenceConfig"] = config
    # What a framework reports as parameters may hold its client's credentials (LiteLLM's
    # ``aws_secret_access_key``): never sent.
    extra = without_options(
        {k: v for k, v in params.items() if k not in INFERENCE_CONFIG and v is not None}
    )
    if extra:
        body["additionalModelRequestFields"] = extra
    if tools:
        body["toolConfig"] = tool_config(tools)
    return body


def _text_block(part: Any) -> Json:
    if isinstance(part, str):
        return {"text": part}
    if isinstance(part, dict):
        return block(part) if "type" in part else part
    return {"text": str(part)}


def stop_reason(reason: Any) -> str | None:
    text = as_str(reason)
    return _STOP.get(text, text) if text else None


def response(
    request_id: str | None,
    output: Json | None,
    finish: Any,
    counts: tuple[int | None, int | None, int | None, int | None, int | None],
) -> Json:
    """``counts``: input, output, total, cache read and cache write tokens as recorded."""
    message = {"role": "assistant", "content": _blocks(output) if output else []}
    prompt, completion, total, cache_read, cache_write = counts
    usage: Json = {}
    if prompt is not None:
        usage["inputTokens"] = prompt
    if completion is not None:
        usage["outputTokens"] = completion
    if total is None and prompt is not None and completion is not None:
        total = prompt + completion
    if total is not None:
        usage["totalTokens"] = total
    if cache_read is not None:
        usage["cacheReadInputTokens"] = cache_read
    if cache_write is not None:
        usage["cacheWriteInputTokens"] = cache_write
    answer: Json = {"output": {"message": message}, "stopReason": stop_reason(finish)}
    answer["usage"] = usage or None
    return {"requestId": request_id, "body": answer}


def exact(
    model_id: Any, body: str, answer: Json | None, request_id: str | None
) -> tuple[Json, Json]:
    """``invoke_model`` as Reconify's module logs it, from the body sent and answered."""
    return {"modelId": model_id, "body": body}, {"requestId": request_id, "body": answer}
