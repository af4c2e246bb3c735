"""Google Gemini calls in Reconify's ``gemini`` format: the request as Gemini's REST API
takes it (``model``, ``contents`` of ``{role, parts: [{text}]}``, ``systemInstruction``,
``generationConfig``) and the ``GenerateContentResponse`` (``candidates``,
``usageMetadata``, ``modelVersion``, ``responseId``).

Type ``generate``: no instrumentation tells a ``chats`` call from ``generate_content``
(both are ``generate_content`` spans; a chat's history is in its contents), so every call
is sent as Reconify's module sends ``generateContent``. The readers give messages in the
GenAI ``parts`` shape.
"""

from __future__ import annotations

from typing import Any

from reconify_otel.core.llm.parts import parts_of
from reconify_otel.core.llm.values import Json, as_str, parse_json

# The GenAI conventions' roles as Gemini names them.
_ROLES = {"assistant": "model", "model": "model", "user": "user", "tool": "function"}
# The conventions' request parameters as ``generationConfig`` names them.
CONFIG = {
    "temperature": "temperature",
    "top_p": "topP",
    "top_k": "topK",
    "max_tokens": "maxOutputTokens",
    "max_output_tokens": "maxOutputTokens",
    "stop_sequences": "stopSequences",
    "seed": "seed",
    "candidate_count": "candidateCount",
    "frequency_penalty": "frequencyPenalty",
    "presence_penalty": "presencePenalty",
}
# The conventions' finish reasons (and OpenInference's, Gemini's own) as Gemini's.
_FINISH = {
    "stop": "STOP",
    "length": "MAX_TOKENS",
    "content_filter": "SAFETY",
    "tool_call": "STOP",
    "tool_calls": "STOP",
}


def _parts(message: Json) -> list[Json]:
    found: list[Json] = []
    for part in parts_of(message):
        kind = part.get("type")
        if kind == "text" and isinstance(part.get("content"), str):
            found.append({"text": part["content"]})
        elif kind == "tool_call":
            arguments = part.get("arguments")
            parsed = parse_json(arguments) if isinstance(arguments, str) else arguments
            found.append({"functionCall": {"name": part.get("name"), "args": parsed}})
        elif kind == "tool_call_response":
            answer = {"name": part.get("id"), "response": {"content": part.get("response")}}
            found.append({"functionResponse": answer})
    return found


def request(model: Any, inputs: list[Json], instructions: list[Json] | None, params: Json) -> Json:
    """``system`` messages (and the conventions' system instructions) become the
    ``systemInstruction``; every other message a ``contents`` entry."""
    body: Json = {"model": model}
    system = [{"text": t} for t in _texts(instructions or [])]
    contents = []
    for message in inputs:
        role = str(message.get("role") or "user")
        if role == "system":
            system.extend(_parts(message))
            continue
        contents.append({"role": _ROLES.get(role, role), "parts": _parts(message)})
    body["contents"] = contents or None
    if system:
        body["systemInstruction"] = {"parts": system}
    config = {CONFIG[k]: v for k, v in params.items() if k in CONFIG and v is not None}
    if config:
        body["generationConfig"] = config
    return body


def _texts(parts: list[Json]) -> list[str]:
    return [p["content"] for p in parts if isinstance(p.get("content"), str)]


def finish_reason(reason: Any) -> str | None:
    text = as_str(reason)
    return _FINISH.get(text, text.upper()) if text else None


def response(
    response_id: str | None,
    model: Any,
    outputs: list[Json],
    finishes: list[Any],
    counts: tuple[int | None, int | None, int | None, int | None],
) -> Json:
    """``counts``: prompt, output (answer and thoughts), thoughts and total tokens, as
    recorded; the answer's own tokens are the output's without the thoughts."""
    candidates = []
    for index, message in enumerate(outputs or [{"parts": []}]):
        finish = finishes[index] if index < len(finishes) else message.get("finish_reason")
        content = {"role": "model", "parts": _parts(message)}
        candidates.append(
            {"content": content, "finishReason": finish_reason(finish), "index": index}
        )
    prompt, output, thoughts, total = counts
    usage: Json = {}
    if prompt is not None:
        usage["promptTokenCount"] = prompt
    if output is not None:
        usage["candidatesTokenCount"] = output - (thoughts or 0)
    if total is None and prompt is not None and output is not None:
        total = prompt + output
    if total is not None:
        usage["totalTokenCount"] = total
    if thoughts is not None:
        usage["thoughtsTokenCount"] = thoughts
    return {
        "candidates": candidates,
        "usageMetadata": usage or None,
        "modelVersion": model,
        "responseId": response_id,
    }
