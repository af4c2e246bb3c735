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

from reconify_otel.core.llm.parts import PROVIDER, call_input, parts_of
from reconify_otel.core.llm.values import Json, as_dict, as_str

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
    return [found for part in parts_of(message) if (found := _part(part)) is not None]


def _part(part: Json) -> Json | None:
    """A GenAI part as Gemini's REST API writes it; None for a text without its text.

    ``text`` is ``{text}``, ``reasoning`` a thought (``{text, thought: true}``, as Gemini
    returns thoughts), ``tool_call`` a ``functionCall`` (``call_input``), ``tool_call_response``
    a ``functionResponse``, ``blob`` and ``uri`` Gemini's ``inlineData`` and ``fileData``
    (the parts the conventions make them from). Any other part (a ``file`` id, a
    provider's own, a kind added later) is kept as recorded, its ``type`` included:
    Gemini has no part it was made from, and nothing recorded is dropped. A block an older
    release recorded verbatim (``PROVIDER``) is that block (its text, for a text block).
    """
    if not part:  # no object recorded
        return None
    content = part.get("content")
    # An untyped ``{content}`` is the early text form.
    kind = part.get("type") or ("text" if "content" in part else None)
    if kind == "text":
        return None if content is None else {"text": content}
    if kind == "reasoning":
        return None if content is None else {"text": content, "thought": True}
    if kind == "tool_call":
        return {
            "functionCall": {"name": part.get("name"), "args": call_input(part.get("arguments"))}
        }
    if kind == "tool_call_response":
        answer = {"name": part.get("id"), "response": {"content": part.get("response")}}
        return {"functionResponse": answer}
    if kind == "blob":
        return {"inlineData": _present(mimeType=part.get("mime_type"), data=content)}
    if kind == "uri":
        return {"fileData": _present(mimeType=part.get("mime_type"), fileUri=part.get("uri"))}
    if kind == PROVIDER:
        block = as_dict(part.get("value"))
        is_text = block.get("type") == "text" and isinstance(block.get("text"), str)
        return {"text": block["text"]} if is_text else block
    return part


def _present(**fields: Any) -> Json:
    return {key: value for key, value in fields.items() if value is not None}


def request(model: Any, inputs: list[Json], instructions: list[Json] | None, params: Json) -> Json:
    """``system`` messages (and the conventions' system instructions) become the
    ``systemInstruction``; every other message a ``contents`` entry."""
    body: Json = {"model": model}
    system = _instruction_parts(instructions or [])
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


def _instruction_parts(instructions: list[Any]) -> list[Json]:
    """``gen_ai.system_instructions`` as ``systemInstruction`` parts: each a GenAI part
    (``_part``), a plain string a text; anything else (a number, a list) is no part and
    is skipped, the rest of the call still mapped."""
    found: list[Json] = []
    for entry in instructions:
        part = {"text": entry} if isinstance(entry, str) else None
        if isinstance(entry, dict):
            part = _part(entry)
        if part is not None:
            found.append(part)
    return found


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
    recorded; the answer's own tokens are the output's without the thoughts. Counts that
    contradict that (more thoughts than output: an instrumentation that counts the answer
    alone, or a bad count) leave the answer's count and the computed total out rather than
    send a negative or a guess; a negative count is never sent. A recorded count that was
    unusable is the caller's to count (``values.int_attr``), once."""
    candidates = []
    for index, message in enumerate(outputs or [{"parts": []}]):
        finish = finishes[index] if index < len(finishes) else message.get("finish_reason")
        content = {"role": "model", "parts": _parts(message)}
        candidates.append(
            {"content": content, "finishReason": finish_reason(finish), "index": index}
        )
    return {
        "candidates": candidates,
        "usageMetadata": _usage(*(c if c is None or c >= 0 else None for c in counts)) or None,
        "modelVersion": model,
        "responseId": response_id,
    }


def _usage(prompt: int | None, output: int | None, thoughts: int | None, total: int | None) -> Json:
    usage: Json = {}
    if prompt is not None:
        usage["promptTokenCount"] = prompt
    consistent = output is None or thoughts is None or output >= thoughts
    if output is not None and consistent:
        usage["candidatesTokenCount"] = output - (thoughts or 0)
    if total is None and prompt is not None and output is not None and consistent:
        total = prompt + output
    if total is not None:
        usage["totalTokenCount"] = total
    if thoughts is not None:
        usage["thoughtsTokenCount"] = thoughts
    return usage
