"""OpenInference spans (``openinference-instrumentation-openai`` / ``-anthropic``, Arize
Phoenix): ``ChatCompletion``, ``Completion``, ``Response``, ``messages.create``...

``input.value`` / ``output.value`` are the request body and the provider's answer as JSON,
exactly what Reconify's modules send; they are used as they are, filtered to the documented
shape. With content hidden they read ``__REDACTED__`` and the call is rebuilt from
``llm.invocation_parameters``, ``llm.model_name``, ``llm.token_count.*`` and
``llm.finish_reason``: no id then, since only ``output.value`` carries it.
"""

from __future__ import annotations

from typing import Any

from reconify_otel.core.conventions import openinference as OI
from reconify_otel.core.conventions.classification import Kind
from reconify_otel.core.llm import responses, shapes
from reconify_otel.core.llm.genai import ANTHROPIC, CHAT, COMPLETION, RESPONSES
from reconify_otel.core.llm.responses import SDK_ONLY, without_options
from reconify_otel.core.llm.shapes import LlmCall
from reconify_otel.core.llm.values import (
    Attrs,
    Json,
    as_dict,
    as_str,
    first_str,
    int_attr,
    json_attr,
)

_FILTERS = {
    CHAT: shapes.filter_chat_completion,
    COMPLETION: shapes.filter_text_completion,
    RESPONSES: responses.chat_response,
    ANTHROPIC: shapes.filter_anthropic_message,
}
_AS_SENT = frozenset({Kind.MISTRAL, Kind.COHERE, Kind.GEMINI, Kind.BEDROCK, Kind.UNIVERSAL})
_TOKENS = (OI.TOKEN_COUNT_PROMPT, OI.TOKEN_COUNT_COMPLETION, OI.TOKEN_COUNT_TOTAL)
_CACHE = (OI.TOKEN_COUNT_CACHE_READ, OI.TOKEN_COUNT_CACHE_WRITE)


def map_openinference(flavor: Kind, attrs: Attrs) -> LlmCall | str:
    bad: list[str] = []
    body_in = json_attr(attrs, OI.INPUT_VALUE, dict, bad)
    body_out = json_attr(attrs, OI.OUTPUT_VALUE, dict, bad)
    params = json_attr(attrs, OI.INVOCATION_PARAMETERS, dict, bad) or {}
    if body_out is None and not any(k in attrs for k in (*_TOKENS, OI.MODEL_NAME)):
        return "the span holds no response (no output.value, model or token counts)"
    request = _request(flavor, attrs, body_in, params)
    response = _FILTERS[flavor](body_out) if body_out is not None else _bare(flavor, attrs, bad)
    return _call(flavor, request, response, (body_in or {}, params, body_out or {}), bad)


def map_bodies(flavor: Kind, body_in: Json, body_out: Any) -> LlmCall:
    """A call known by its request body and answer as they went over the wire (the
    handler's): the same filters as ``input.value``/``output.value``, nothing to parse.
    Mistral's, Cohere's, Gemini's and the ``universal`` format are sent as they are, as Reconify's
    modules send them (``universal``: an answer that is no JSON is its text)."""
    if flavor in _AS_SENT:
        request = without_options(body_in)
        response_id = as_str(body_out.get("id")) if isinstance(body_out, dict) else None
        return LlmCall(flavor, request, body_out, response_id, None, ())
    body_out = as_dict(body_out)
    request = _request(flavor, {}, body_in, {})
    return _call(flavor, request, _FILTERS[flavor](body_out), (body_in, {}, body_out), [])


def _call(
    flavor: Kind, request: Json, response: Json, sources: tuple[Json, Json, Json], bad: list[str]
) -> LlmCall:
    """``sources``: the request body, invocation parameters and answer the ids come from."""
    return LlmCall(
        kind=flavor,
        request=request,
        response=response,
        response_id=as_str(response.get("id")),
        conversation_id=responses.conversation_of(*sources) if flavor == RESPONSES else None,
        bad_attributes=tuple(bad),
    )


def _request(flavor: Kind, attrs: Attrs, body_in: Json | None, params: Json) -> Json:
    """The request body as sent, or (content hidden) its parameters with the content null."""
    if body_in is not None:
        body = {k: v for k, v in body_in.items() if k not in SDK_ONLY}
        return responses.chat_request(body) if flavor == RESPONSES else body
    if flavor == RESPONSES:
        return responses.chat_request(params)
    request: Json = {"model": params.get("model") or first_str(attrs, OI.REQUEST_MODEL_NAME)}
    request["prompt" if flavor == COMPLETION else "messages"] = None
    # OpenInference's Anthropic parameters include the SDK's own options (extra_headers
    # may hold an API key): only the call's keyword arguments are the request.
    request.update((k, v) for k, v in params.items() if k != "model" and k not in SDK_ONLY)
    return request


def _bare(flavor: str, attrs: Attrs, bad: list[str]) -> Json:
    """The answer without ``output.value``: model, finish reason and usage only."""
    model = first_str(attrs, OI.RESPONSE_MODEL_NAME, OI.MODEL_NAME)
    finish = first_str(attrs, OI.FINISH_REASON)
    prompt, completion, total = (int_attr(attrs, bad, key) for key in _TOKENS)
    if flavor == ANTHROPIC:
        if prompt is not None:  # OpenInference counts cache reads and writes as input
            prompt -= sum(int_attr(attrs, bad, key) or 0 for key in _CACHE)
        usage = shapes.anthropic_usage(prompt, completion)
        return shapes.anthropic_message(None, model, None, finish, usage)
    openai_usage = shapes.openai_usage(prompt, completion, total)
    if flavor == COMPLETION:
        choice = shapes.completion_choice(0, None, finish)
        return shapes.text_completion(None, None, model, [choice], openai_usage)
    chat_choice = shapes.chat_choice(0, None, [], finish)
    return shapes.chat_completion(None, None, model, [chat_choice], openai_usage)
