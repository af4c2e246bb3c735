"""Spans in the GenAI semantic conventions: traceloop/openllmetry (``openai.chat``,
``openai.completion``, ``openai.response``, ``anthropic.chat``) and the official
``opentelemetry-instrumentation-openai-v2`` (``chat {model}``).

The request is rebuilt from the recorded messages and ``gen_ai.request.*`` parameters,
the response from the output messages, ids, model, finish reasons and usage. Neither
convention records everything that was sent (see the LLM payload reference): what a span
does not hold stays absent or ``None``.
"""

from __future__ import annotations

from typing import Any

from reconify_otel.core.llm import legacy, parts, shapes
from reconify_otel.core.llm.shapes import LlmCall
from reconify_otel.core.llm.values import (
    Attrs,
    Json,
    as_dict,
    as_str,
    first_str,
    int_attr,
    json_attr,
    scalar_attr,
)

CHAT, COMPLETION, RESPONSES, ANTHROPIC = "chat", "completion", "responses", "anthropic"

# ``gen_ai.request.<suffix>`` -> the keyword argument it records, per call.
_OPENAI_PARAMS = {
    "temperature": "temperature",
    "top_p": "top_p",
    "max_tokens": "max_tokens",
    "frequency_penalty": "frequency_penalty",
    "presence_penalty": "presence_penalty",
    "seed": "seed",
    "stop_sequences": "stop",
    "choice.count": "n",
}
_PARAMS = {  # ``gen_ai.request.{suffix}`` -> the request body's key
    flavor: {f"gen_ai.request.{suffix}": key for suffix, key in params.items()}
    for flavor, params in {
        CHAT: _OPENAI_PARAMS,
        COMPLETION: _OPENAI_PARAMS,
        RESPONSES: {
            "temperature": "temperature",
            "top_p": "top_p",
            "max_tokens": "max_output_tokens",
        },
        ANTHROPIC: {
            "max_tokens": "max_tokens",
            "temperature": "temperature",
            "top_p": "top_p",
            "top_k": "top_k",
            "stop_sequences": "stop_sequences",
        },
    }.items()
}
_CACHE_READ = ("gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens")
_CACHE_WRITE = (
    "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.cache_creation_input_tokens",
)


def map_genai(flavor: str, attrs: Attrs) -> LlmCall | str:
    bad: list[str] = []
    inputs = json_attr(attrs, "gen_ai.input.messages", list, bad)
    outputs = json_attr(attrs, "gen_ai.output.messages", list, bad)
    # Older traceloop spells messages and tools as flattened lists (``legacy``); spans
    # with the JSON messages never do, so they skip the scan for them.
    flattened = inputs is None and outputs is None
    if flattened:
        inputs, outputs = legacy.messages(attrs)
    outputs = [as_dict(m) for m in outputs or ()]
    response_id = first_str(attrs, "gen_ai.response.id")
    usage = _usage(flavor, attrs, bad)
    model = first_str(attrs, "gen_ai.response.model", "llm.response.model")
    if not outputs and response_id is None and usage is None and model is None:
        return "the span holds no response (no output, id, model or usage)"
    request = _request(flavor, attrs, inputs, bad, flattened)
    finishes = _finish_reasons(attrs, outputs)
    response: Json
    if flavor == ANTHROPIC:
        blocks = parts.anthropic_output(outputs[0]) if outputs else None
        sequences = request.get("stop_sequences") is not None
        stop = shapes.anthropic_stop(finishes[0] if finishes else None, sequences)
        response = shapes.anthropic_message(response_id, model, blocks, stop, usage)
    elif flavor == COMPLETION:
        choices = [
            shapes.completion_choice(i, _joined(m), shapes.openai_finish(f))
            for i, (m, f) in enumerate(_choices(outputs, finishes))
        ]
        response = shapes.text_completion(response_id, None, model, choices, usage)
    else:
        response = shapes.chat_completion(
            response_id, None, model, _chat_choices(flavor, outputs, finishes), usage
        )
    return LlmCall(
        format="anthropic" if flavor == ANTHROPIC else "openai",
        type="completion" if flavor == COMPLETION else "chat",
        request=request,
        response=response,
        response_id=response_id,
        conversation_id=first_str(attrs, "gen_ai.conversation.id"),
        bad_attributes=tuple(bad),
    )


def _request(
    flavor: str, attrs: Attrs, inputs: list[Any] | None, bad: list[str], flattened: bool
) -> Json:
    request: Json = {"model": first_str(attrs, "gen_ai.request.model", "llm.request.model")}
    if flavor == COMPLETION:
        request["prompt"] = parts.completion_prompt(inputs) if inputs else None
    elif flavor == ANTHROPIC:
        system, messages = parts.anthropic_messages(inputs) if inputs else (None, None)
        request["messages"] = messages
        instructions = json_attr(attrs, "gen_ai.system_instructions", list, bad)
        if instructions:
            system = parts.anthropic_content([as_dict(p) for p in instructions])
        if system is not None:
            request["system"] = system
    else:
        instructions = json_attr(attrs, "gen_ai.system_instructions", list, bad)
        messages = parts.openai_messages(inputs) if inputs else None
        request["messages"] = parts.with_system(messages, instructions) if messages else None
    for attribute, key in _PARAMS[flavor].items():
        value = scalar_attr(attrs, attribute, bad)
        if value is not None:
            request[key] = value
    tools = json_attr(attrs, "gen_ai.tool.definitions", list, bad)
    if not tools and flattened:
        tools = legacy.tool_definitions(attrs)
    if tools:
        if flavor == CHAT:
            tools = shapes.chat_tools(tools)
        elif flavor == RESPONSES:
            tools = shapes.flat_tools(tools)
        request["tools"] = tools
    if flavor != ANTHROPIC:
        user = first_str(attrs, "gen_ai.user", "llm.user")
        if user is not None:
            request["user"] = user
    if attrs.get("gen_ai.is_streaming") is True or attrs.get("llm.is_streaming") is True:
        request["stream"] = True
    return request


def _usage(flavor: str, attrs: Attrs, bad: list[str]) -> Json | None:
    prompt = int_attr(attrs, bad, "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens")
    completion = int_attr(
        attrs, bad, "gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens"
    )
    if flavor == ANTHROPIC:
        # The conventions count cache reads and writes as input; Anthropic does not.
        cached = [int_attr(attrs, bad, *keys) for keys in (_CACHE_READ, _CACHE_WRITE)]
        if prompt is not None:
            prompt -= sum(c for c in cached if c is not None)
        return shapes.anthropic_usage(prompt, completion)
    total = int_attr(attrs, bad, "gen_ai.usage.total_tokens", "llm.usage.total_tokens")
    return shapes.openai_usage(prompt, completion, total)


def _finish_reasons(attrs: Attrs, outputs: list[Json]) -> list[Any]:
    """Per choice: the output message's own reason, else the span's list in order."""
    recorded = attrs.get("gen_ai.response.finish_reasons")
    listed = list(recorded) if isinstance(recorded, (list, tuple)) else []
    count = max(len(outputs), len(listed))
    found = []
    for index in range(count):
        own = outputs[index].get("finish_reason") if index < len(outputs) else None
        found.append(own if as_str(own) else (listed[index] if index < len(listed) else None))
    return found


def _choices(outputs: list[Json], finishes: list[Any]) -> list[tuple[Json, Any]]:
    """One entry per answer; with content off the finish reasons still count them, and a
    call that returned answered at least once."""
    count = max(len(outputs), len(finishes), 1)
    return [
        (outputs[i] if i < len(outputs) else {}, finishes[i] if i < len(finishes) else None)
        for i in range(count)
    ]


def _chat_choices(flavor: str, outputs: list[Json], finishes: list[Any]) -> list[Json]:
    if flavor == RESPONSES:  # one answer: every output message and call in it
        merged = {"parts": [p for m in outputs for p in parts.parts_of(m)]}
        outputs, finishes = ([merged] if outputs else []), finishes[:1]
    choices = []
    for index, (message, finish) in enumerate(_choices(outputs, finishes)):
        text, calls = parts.openai_output(message)
        choices.append(shapes.chat_choice(index, text, calls, shapes.openai_finish(finish)))
    return choices


def _joined(message: Json) -> str | None:
    texts = parts.texts_of(parts.parts_of(message))
    return "".join(texts) if texts else None
