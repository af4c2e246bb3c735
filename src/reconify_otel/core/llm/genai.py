"""Spans in the GenAI semantic conventions: traceloop/openllmetry (``openai.chat``,
``openai.completion``, ``openai.response``, ``anthropic.chat``, ``vertexai.*``...) and the official
``opentelemetry-instrumentation-openai-v2`` (``chat {model}``).

The request is rebuilt from the recorded messages and ``gen_ai.request.*`` parameters,
the response from the output messages, ids, model, finish reasons and usage. Neither
convention records everything that was sent (see the LLM payload reference): what a span
does not hold stays absent or ``None``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from reconify_otel.core.conventions import genai as G
from reconify_otel.core.conventions import traceloop as T
from reconify_otel.core.conventions.classification import Kind
from reconify_otel.core.conventions.providers import shape_of
from reconify_otel.core.llm import bedrock, cohere, gemini, legacy, parts, shapes
from reconify_otel.core.llm.shapes import LlmCall
from reconify_otel.core.llm.values import (
    Attrs,
    Json,
    as_dict,
    as_str,
    first_str,
    int_attr,
    json_attr,
    parse_json,
    scalar_attr,
)

CHAT, COMPLETION, RESPONSES, ANTHROPIC = Kind.CHAT, Kind.COMPLETION, Kind.RESPONSES, Kind.ANTHROPIC

# The recorded request parameters -> the request body's key, per call, in the body's order.
_OPENAI_PARAMS = {
    G.REQUEST_TEMPERATURE: "temperature",
    G.REQUEST_TOP_P: "top_p",
    G.REQUEST_MAX_TOKENS: "max_tokens",
    G.REQUEST_FREQUENCY_PENALTY: "frequency_penalty",
    G.REQUEST_PRESENCE_PENALTY: "presence_penalty",
    G.REQUEST_SEED: "seed",
    G.REQUEST_STOP_SEQUENCES: "stop",
    G.REQUEST_CHOICE_COUNT: "n",
}
_PARAMS = {
    CHAT: _OPENAI_PARAMS,
    COMPLETION: _OPENAI_PARAMS,
    RESPONSES: {
        G.REQUEST_TEMPERATURE: "temperature",
        G.REQUEST_TOP_P: "top_p",
        G.REQUEST_MAX_TOKENS: "max_output_tokens",
    },
    ANTHROPIC: {
        G.REQUEST_MAX_TOKENS: "max_tokens",
        G.REQUEST_TEMPERATURE: "temperature",
        G.REQUEST_TOP_P: "top_p",
        G.REQUEST_TOP_K: "top_k",
        G.REQUEST_STOP_SEQUENCES: "stop_sequences",
    },
}


_STREAM_FLAGS = (G.IS_STREAMING, T.IS_STREAMING, G.REQUEST_STREAM)


def map_genai(kind: Kind, attrs: Attrs, echoed_request: bool = False) -> LlmCall | str:
    """``echoed_request``: the span's request parameters were copied from the answer
    (``traceloop.ANSWER_ECHO_SCOPES``), so none of them is taken as sent."""
    flavor = shape_of(kind)  # Mistral's and the universal format are OpenAI's chat shape
    bad: list[str] = []
    inputs = json_attr(attrs, G.INPUT_MESSAGES, list, bad)
    outputs = json_attr(attrs, G.OUTPUT_MESSAGES, list, bad)
    # Older traceloop spells messages and tools as flattened lists (``legacy``); spans
    # with the JSON messages never do, so they skip the scan for them.
    flattened = inputs is None and outputs is None
    if flattened:
        inputs, outputs = legacy.messages(attrs)
    outputs = [as_dict(m) for m in outputs or ()]
    response_id = first_str(attrs, G.RESPONSE_ID)
    own_format = _OWN_FORMATS.get(flavor)
    if own_format is not None:
        # A model alone is no answer (below); the builder reads the counts itself. A
        # call answered is sent without its content where its log events never came.
        answered = (
            response_id or attrs.get(G.AWS_REQUEST_ID) or attrs.get(G.RESPONSE_FINISH_REASONS)
        )
        if not outputs and not answered and int_attr(attrs, [], *_COUNTS) is None:
            return "the span holds no response (no output, id, finish reason or usage)"
        return own_format(_Read(attrs, inputs or [], outputs, response_id, bad, flattened))
    usage = _usage(flavor, attrs, bad)
    model = first_str(attrs, G.RESPONSE_MODEL, T.RESPONSE_MODEL)
    # A model alone is no answer: Logfire's span of a streamed call records the model
    # from the first chunk and leaves the answer to a span of its own (``logfire``).
    if not outputs and response_id is None and usage is None:
        return "the span holds no response (no output, id or usage)"
    request = _request(flavor, attrs, inputs, bad, flattened, echoed_request)
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
        kind=kind,
        request=request,
        response=response,
        response_id=response_id,
        conversation_id=first_str(attrs, G.CONVERSATION_ID),
        bad_attributes=tuple(bad),
    )


def _request(
    flavor: Kind,
    attrs: Attrs,
    inputs: list[Any] | None,
    bad: list[str],
    flattened: bool,
    echoed: bool,
) -> Json:
    # Where a span records only the model that answered, that is the model asked for.
    model = first_str(attrs, G.REQUEST_MODEL, T.REQUEST_MODEL, G.RESPONSE_MODEL, T.RESPONSE_MODEL)
    request: Json = {"model": model}
    if flavor == COMPLETION:
        request["prompt"] = parts.completion_prompt(inputs) if inputs else None
    elif flavor == ANTHROPIC:
        system, messages = parts.anthropic_messages(inputs) if inputs else (None, None)
        request["messages"] = messages
        instructions = json_attr(attrs, G.SYSTEM_INSTRUCTIONS, list, bad)
        if instructions:
            system = parts.anthropic_content([as_dict(p) for p in instructions])
        if system is not None:
            request["system"] = system
    else:
        instructions = json_attr(attrs, G.SYSTEM_INSTRUCTIONS, list, bad)
        messages = parts.openai_messages(inputs) if inputs else None
        request["messages"] = parts.with_system(messages, instructions) if messages else None
    for attribute, key in () if echoed else _PARAMS[flavor].items():
        value = scalar_attr(attrs, attribute, bad)
        if value is not None:
            request[key] = value
    tools = json_attr(attrs, G.TOOL_DEFINITIONS, list, bad)
    if not tools and flattened:
        tools = legacy.tool_definitions(attrs)
    if tools:
        if flavor == CHAT:
            tools = shapes.chat_tools(tools)
        elif flavor == RESPONSES:
            tools = shapes.flat_tools(tools)
        request["tools"] = tools
    if flavor != ANTHROPIC:
        user = first_str(attrs, G.USER, T.USER)
        if user is not None:
            request["user"] = user
    # LiteLLM writes the flag as the text "True".
    if any(attrs.get(k) in (True, "True", "true") for k in _STREAM_FLAGS):
        request["stream"] = True
    return request


# The request parameters by the names the Cohere, Gemini and Bedrock builders take.
_NEUTRAL_PARAMS = {
    G.REQUEST_TEMPERATURE: "temperature",
    G.REQUEST_TOP_P: "top_p",
    G.REQUEST_TOP_K: "top_k",
    G.REQUEST_MAX_TOKENS: "max_tokens",
    G.REQUEST_STOP_SEQUENCES: "stop_sequences",
    G.REQUEST_SEED: "seed",
    G.REQUEST_FREQUENCY_PENALTY: "frequency_penalty",
    G.REQUEST_PRESENCE_PENALTY: "presence_penalty",
    G.LLM_FREQUENCY_PENALTY: "frequency_penalty",
    G.LLM_PRESENCE_PENALTY: "presence_penalty",
}
_COUNTS = (
    G.USAGE_INPUT_TOKENS,
    G.USAGE_PROMPT_TOKENS,
    G.USAGE_OUTPUT_TOKENS,
    G.USAGE_COMPLETION_TOKENS,
    G.USAGE_TOTAL_TOKENS,
)


def _neutral_params(attrs: Attrs, bad: list[str]) -> Json:
    """The recorded parameters; traceloop records stop sequences as their JSON."""
    params: Json = {}
    for attribute, key in _NEUTRAL_PARAMS.items():
        value = scalar_attr(attrs, attribute, bad)
        if isinstance(value, str) and key == "stop_sequences":
            value = parse_json(value) if value.startswith("[") else [value]
        if value is not None:
            params[key] = value
    return params


class _Read(NamedTuple):
    """What ``map_genai`` read of a span, for the builders of the other formats."""

    attrs: Attrs
    inputs: list[Any]
    outputs: list[Json]
    response_id: str | None
    bad: list[str]
    flattened: bool


def _counts(attrs: Attrs, bad: list[str]) -> tuple[int | None, int | None]:
    """The input and output tokens, in either spelling."""
    return (
        int_attr(attrs, bad, G.USAGE_INPUT_TOKENS, G.USAGE_PROMPT_TOKENS),
        int_attr(attrs, bad, G.USAGE_OUTPUT_TOKENS, G.USAGE_COMPLETION_TOKENS),
    )


def _tools(attrs: Attrs, bad: list[str], flattened: bool) -> list[Any] | None:
    tools = json_attr(attrs, G.TOOL_DEFINITIONS, list, bad)
    return tools or (legacy.tool_definitions(attrs) if flattened else None)


def _cohere(span: _Read) -> LlmCall:
    """Reconify's ``cohere`` format (``core.llm.cohere``); traceloop records the billed
    units as the usage, as floats."""
    attrs, inputs, outputs, response_id, bad, flattened = span
    params = _neutral_params(attrs, bad)
    model = first_str(attrs, G.REQUEST_MODEL, T.REQUEST_MODEL, G.RESPONSE_MODEL)
    tools = _tools(attrs, bad, flattened)
    request = cohere.request(model, [as_dict(m) for m in inputs], params, tools)
    finishes = _finish_reasons(attrs, outputs)
    billed = _counts(attrs, bad)
    first = outputs[0] if outputs else None
    answer = cohere.response(response_id, first, finishes[0] if finishes else None, billed)
    return LlmCall(Kind.COHERE, request, answer, response_id, None, tuple(bad))


def _gemini(span: _Read) -> LlmCall:
    """Reconify's ``gemini`` format (``core.llm.gemini``)."""
    attrs, inputs, outputs, response_id, bad, _flattened = span
    params = _neutral_params(attrs, bad)
    instructions = json_attr(attrs, G.SYSTEM_INSTRUCTIONS, list, bad)
    model = first_str(attrs, G.REQUEST_MODEL, G.RESPONSE_MODEL)
    request = gemini.request(model, [as_dict(m) for m in inputs], instructions, params)
    counts = (
        *_counts(attrs, bad),
        int_attr(attrs, bad, G.USAGE_REASONING),
        # traceloop's vertexai spans name the total only in its older ``llm.*`` form.
        int_attr(attrs, bad, G.USAGE_TOTAL_TOKENS, T.USAGE_TOTAL_TOKENS),
    )
    answered = first_str(attrs, G.RESPONSE_MODEL) or model
    finishes = _finish_reasons(attrs, outputs)
    answer = gemini.response(response_id, answered, outputs, finishes, counts)
    return LlmCall(Kind.GEMINI, request, answer, response_id, None, tuple(bad))


def _bedrock(span: _Read) -> LlmCall:
    """Reconify's ``bedrock`` format, in Converse's form (``core.llm.bedrock``): no
    GenAI span holds the body sent. botocore's spans name the AWS request id."""
    attrs, inputs, outputs, response_id, bad, flattened = span
    params = _neutral_params(attrs, bad)
    instructions = json_attr(attrs, G.SYSTEM_INSTRUCTIONS, list, bad)
    model = first_str(attrs, G.REQUEST_MODEL, T.REQUEST_MODEL, G.RESPONSE_MODEL)
    messages = [as_dict(m) for m in inputs]
    request = bedrock.request(model, messages, instructions, params, _tools(attrs, bad, flattened))
    counts = (
        *_counts(attrs, bad),
        int_attr(attrs, bad, G.USAGE_TOTAL_TOKENS),
        int_attr(attrs, bad, *G.USAGE_CACHE_READ),
        int_attr(attrs, bad, *G.USAGE_CACHE_WRITE),
    )
    finishes = _finish_reasons(attrs, outputs)
    request_id = first_str(attrs, G.AWS_REQUEST_ID)
    first = outputs[0] if outputs else None
    answer = bedrock.response(request_id, first, finishes[0] if finishes else None, counts)
    # The AWS request id is no model's response id: another instrumentation's span of the
    # call records the model's (traceloop's, Claude's ``msg_...``) or none.
    return LlmCall(Kind.BEDROCK, request, answer, response_id, None, tuple(bad))


_OWN_FORMATS = {Kind.COHERE: _cohere, Kind.GEMINI: _gemini, Kind.BEDROCK: _bedrock}


def _usage(flavor: str, attrs: Attrs, bad: list[str]) -> Json | None:
    if flavor == ANTHROPIC:
        prompt, completion = _counts(attrs, bad)
        # The conventions count cache reads and writes as input; Anthropic does not.
        cached = [int_attr(attrs, bad, *keys) for keys in (G.USAGE_CACHE_READ, G.USAGE_CACHE_WRITE)]
        if prompt is not None:
            prompt -= sum(c for c in cached if c is not None)
        return shapes.anthropic_usage(prompt, completion)
    return openai_usage(attrs, bad, G.USAGE_TOTAL_TOKENS, T.USAGE_TOTAL_TOKENS)


def openai_usage(attrs: Attrs, bad: list[str], *total_keys: str) -> Json | None:
    """OpenAI's ``usage`` from the GenAI token counts; the total from ``total_keys``, which
    differ by convention (an assistant run's too)."""
    prompt, completion = _counts(attrs, bad)
    return shapes.openai_usage(prompt, completion, int_attr(attrs, bad, *total_keys))


def _finish_reasons(attrs: Attrs, outputs: list[Json]) -> list[Any]:
    """Per choice: the output message's own reason, else the span's list in order."""
    recorded = attrs.get(G.RESPONSE_FINISH_REASONS)
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
    texts = parts.part_texts(parts.parts_of(message))
    return "".join(texts) if texts else None
