"""OpenInference LLM spans of frameworks (LangChain, LiteLLM, the OpenAI Agents SDK):
``input.value`` is the framework's own input, not the provider's request body, so the
call is read from the flattened ``llm.input_messages.*`` / ``llm.output_messages.*``,
the model, the invocation parameters and the token counts.

Faithful, not complete: a parameter is sent only where the span says the application
set it, the model is the one sent (or, where the span records only the answering model,
that one), and ``stream`` only when the span says so. Where ``output.value`` is the
provider's own answer (the Agents SDK's Responses object), that answer is used as is.
"""

from __future__ import annotations

from reconify_otel.core.conventions import openinference as OI
from reconify_otel.core.conventions.classification import Kind
from reconify_otel.core.conventions.providers import shape_of
from reconify_otel.core.llm import bedrock_spans, cohere, gemini, parts, responses, shapes
from reconify_otel.core.llm.shapes import LlmCall
from reconify_otel.core.llm.values import (
    Attrs,
    Json,
    as_dict,
    as_str,
    first_str,
    indexed,
    int_attr,
    json_attr,
    parse_json,
    recorded_text,
)

# The chat request's parameters a framework may report among its invocation parameters;
# the rest (``_type``, ``model_name``, ``api_base``, client options) were never sent.
_CHAT_PARAMETERS = (
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
    "n",
    "stop",
    "presence_penalty",
    "frequency_penalty",
    "seed",
    "logprobs",
    "top_logprobs",
    "response_format",
    "tool_choice",
    "parallel_tool_calls",
    "reasoning_effort",
    "user",
)
_ANTHROPIC_PARAMETERS = ("max_tokens", "temperature", "top_p", "top_k", "stop_sequences")
_ANSWERS = {Kind.CHAT: "chat.completion", Kind.RESPONSES: "response"}
_TOKENS = (OI.TOKEN_COUNT_PROMPT, OI.TOKEN_COUNT_COMPLETION, OI.TOKEN_COUNT_TOTAL)


def map_openinference_messages(kind: Kind, attrs: Attrs) -> LlmCall | str:
    flavor = shape_of(kind)  # Mistral's and the universal format are OpenAI's chat shape
    bad: list[str] = []
    inputs = _messages(attrs, OI.INPUT_MESSAGES)
    outputs = _messages(attrs, OI.OUTPUT_MESSAGES)
    raw_answer = recorded_text(attrs, OI.OUTPUT_VALUE)
    answer = as_dict(parse_json(raw_answer)) if raw_answer is not None else {}
    params = json_attr(attrs, OI.INVOCATION_PARAMETERS, dict, bad) or {}
    # The Agents SDK reports the answer's settings as parameters: an answer, not a request.
    if "id" in params:
        params = {}
    provider = first_str(attrs, OI.PROVIDER, OI.SYSTEM)
    model = _model(as_str(params.get("model")) or first_str(attrs, OI.MODEL_NAME), provider)
    if not outputs and raw_answer is None and not any(k in attrs for k in _TOKENS):
        return "the span holds no response (no output messages, output.value or tokens)"
    if flavor == Kind.COHERE:
        return _cohere(attrs, model, inputs, outputs, answer, params, bad)
    if flavor == Kind.GEMINI:
        return _gemini(attrs, model, inputs, outputs, answer, params, bad)
    if flavor == Kind.BEDROCK:
        return bedrock_spans.from_openinference(attrs, model, inputs, outputs, params, bad)
    request = _request(flavor, model, inputs, params)
    if answer.get("object") == _ANSWERS.get(flavor):  # the provider's own answer
        if flavor == Kind.RESPONSES:
            response = responses.chat_response(answer)
        else:
            response = shapes.filter_chat_completion(answer)
    else:
        text = raw_answer if not answer else None  # LiteLLM: the answer's text
        response = _response(flavor, attrs, outputs, answer, text, provider, bad)
    return LlmCall(
        kind=kind,
        request=request,
        response=response,
        response_id=as_str(response.get("id")),
        conversation_id=None,
        bad_attributes=tuple(bad),
    )


def _model(model: str | None, provider: str | None) -> str | None:
    """LiteLLM routes by ``provider/model``; the provider was sent the model alone."""
    if model and provider and model.startswith(provider + "/"):
        return model[len(provider) + 1 :]
    return model


def _messages(attrs: Attrs, prefix: str) -> list[Json]:
    """The flattened messages in the GenAI ``parts`` shape the builders take."""
    found = []
    for fields in indexed(attrs, prefix).values():
        role = as_str(fields.get(OI.MESSAGE_ROLE))
        content = fields.get(OI.MESSAGE_CONTENT)
        if not isinstance(content, str):
            texts = [
                text
                for f in indexed(fields, "message.contents").values()
                if isinstance(text := f.get("message_content.text"), str)
            ]
            content = "".join(texts) if texts else None
        if role == "tool":
            call_id = fields.get(OI.MESSAGE_TOOL_CALL_ID)
            answer = {"type": "tool_call_response", "id": call_id, "response": content}
            found.append({"role": "tool", "parts": [answer]})
            continue
        message_parts: list[Json] = [{"type": "text", "content": content}] if content else []
        for call in indexed(fields, OI.MESSAGE_TOOL_CALLS).values():
            message_parts.append(
                {
                    "type": "tool_call",
                    "id": call.get(OI.TOOL_CALL_ID),
                    "name": call.get(OI.TOOL_CALL_NAME),
                    "arguments": call.get(OI.TOOL_CALL_ARGUMENTS),
                }
            )
        found.append({"role": role or "assistant", "parts": message_parts})
    return found


def _request(flavor: Kind, model: str | None, inputs: list[Json], params: Json) -> Json:
    request: Json = {"model": model}
    if flavor == Kind.ANTHROPIC:
        system, messages = parts.anthropic_messages(inputs) if inputs else (None, None)
        request["messages"] = messages
        if system is not None:
            request["system"] = system
        names: tuple[str, ...] = _ANTHROPIC_PARAMETERS
    else:
        request["messages"] = parts.openai_messages(inputs) if inputs else None
        names = _CHAT_PARAMETERS
    # OpenInference's Mistral instrumentation writes every unset keyword argument as "".
    request.update((key, params[key]) for key in names if params.get(key) not in (None, ""))
    if params.get("stream") is True:  # LangChain reports False for its streamed calls
        request["stream"] = True
    return request


def _response(
    flavor: Kind,
    attrs: Attrs,
    outputs: list[Json],
    answer: Json,
    text: str | None,
    provider: str | None,
    bad: list[str],
) -> Json:
    """The answer from the output messages (else ``text``), model, finish reason and token
    counts; the id where the framework's result holds the provider's (LangChain's
    ``llm_output``)."""
    # LangChain's result holds the provider's id in ``llm_output``, Mistral's stream (as
    # OpenInference accumulates it) in ``data``.
    response_id = as_str(as_dict(answer.get("llm_output")).get("id")) or as_str(
        as_dict(answer.get("data")).get("id")
    )
    model = _model(first_str(attrs, OI.RESPONSE_MODEL_NAME, OI.MODEL_NAME), provider)
    finish = first_str(attrs, OI.FINISH_REASON)
    if not outputs and text:
        outputs = [{"role": "assistant", "parts": [{"type": "text", "content": text}]}]
    prompt, completion, total = (int_attr(attrs, bad, key) for key in _TOKENS)
    if flavor == Kind.ANTHROPIC:
        blocks = parts.anthropic_output(outputs[0]) if outputs else None
        usage = shapes.anthropic_usage(prompt, completion)
        return shapes.anthropic_message(response_id, model, blocks, finish, usage)
    choices = []
    for index, message in enumerate(outputs or [{"parts": []}]):
        text, calls = parts.openai_output(message)
        choices.append(shapes.chat_choice(index, text, calls, shapes.openai_finish(finish)))
    usage = shapes.openai_usage(prompt, completion, total)
    return shapes.chat_completion(response_id, None, model, choices, usage)


def _cohere(
    attrs: Attrs,
    model: str | None,
    inputs: list[Json],
    outputs: list[Json],
    answer: Json,
    params: Json,
    bad: list[str],
) -> LlmCall:
    """Reconify's ``cohere`` format (``core.llm.cohere``); OpenInference counts the
    model's tokens (``usage.tokens``), not the billed units."""
    asked = {k: v for k, v in params.items() if k in cohere.PARAMETERS and v not in (None, "")}
    request = cohere.request(model, inputs, asked, None)
    counts = (
        int_attr(attrs, bad, OI.TOKEN_COUNT_PROMPT),
        int_attr(attrs, bad, OI.TOKEN_COUNT_COMPLETION),
    )
    finish = first_str(attrs, OI.FINISH_REASON)
    response_id = as_str(answer.get("id"))  # the v2 answer, unstreamed calls only
    first = outputs[0] if outputs else None
    response = cohere.response(response_id, first, finish, counts, "tokens")
    return LlmCall(Kind.COHERE, request, response, response_id, None, tuple(bad))


def _gemini(
    attrs: Attrs,
    model: str | None,
    inputs: list[Json],
    outputs: list[Json],
    answer: Json,
    params: Json,
    bad: list[str],
) -> LlmCall:
    """Reconify's ``gemini`` format (``core.llm.gemini``); ``output.value`` is the SDK's
    answer object (snake_case): its id and model version are taken from it. The
    ``vertexai`` SDK's spans name the model by its resource name (``projects/.../models/
    gemini-2.5-flash``) and list every parameter the request object has, unset ones
    empty: the model id is sent, and only the parameters set."""
    model = model.rpartition("/models/")[2] if model else model
    asked = {key: value for key, value in params.items() if value not in (None, "", [], {})}
    request = gemini.request(model, inputs, None, asked)
    counts = (
        int_attr(attrs, bad, OI.TOKEN_COUNT_PROMPT),
        int_attr(attrs, bad, OI.TOKEN_COUNT_COMPLETION),
        int_attr(attrs, bad, OI.TOKEN_COUNT_REASONING),
        int_attr(attrs, bad, OI.TOKEN_COUNT_TOTAL),
    )
    response_id = as_str(answer.get("response_id"))
    finish = [first_str(attrs, OI.FINISH_REASON)]
    version = as_str(answer.get("model_version")) or model
    response = gemini.response(response_id, version, outputs, finish, counts)
    return LlmCall(Kind.GEMINI, request, response, response_id, None, tuple(bad))
