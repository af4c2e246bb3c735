"""Cohere chat calls in Reconify's ``cohere`` format: what its module sends for the v1
client's ``chat(**kwargs)``, the keyword arguments (``model``, ``message``, ``preamble``,
``chat_history``...) and the response's fields (``response_id``, ``text``,
``finish_reason``, ``tool_calls``, ``meta.billed_units``).

Reconify's module predates the v2 client (``ClientV2.chat``: ``messages``, ``message``
content parts, ``usage``), so a v2 call is sent in that closest documented form: the last
user message as ``message``, a system message as ``preamble``, the messages before as
``chat_history`` (roles ``USER``, ``CHATBOT``, ``SYSTEM``, ``TOOL``), the answer's text
parts joined as ``text``. The readers give messages in the GenAI ``parts`` shape.
"""

from __future__ import annotations

from typing import Any

from reconify_otel.core.llm.parts import PROVIDER, parts_of
from reconify_otel.core.llm.values import Json, as_dict, as_str, parse_json

# The GenAI roles as Cohere's v1 chat history names them.
_ROLES = {"user": "USER", "assistant": "CHATBOT", "system": "SYSTEM", "tool": "TOOL"}
# Request parameters as the v1 client names them, from the conventions' names.
PARAMETERS = {
    "temperature": "temperature",
    "top_p": "p",
    "top_k": "k",
    "max_tokens": "max_tokens",
    "stop_sequences": "stop_sequences",
    "frequency_penalty": "frequency_penalty",
    "presence_penalty": "presence_penalty",
    "seed": "seed",
}


def texts(message: Json) -> str | None:
    """A message's text: its text parts joined, Cohere's v2 content parts (recorded as
    their JSON) included; a tool's answer's text."""
    found: list[str] = []
    for part in parts_of(message):
        kind = part.get("type")
        if kind == "text" and isinstance(part.get("content"), str):
            found.extend(_text_blocks(part["content"]))
        elif kind == PROVIDER:
            text = as_dict(part.get("value")).get("text")
            if isinstance(text, str):
                found.append(text)
        elif kind == "tool_call_response" and isinstance(part.get("response"), str):
            found.append(part["response"])
    return "".join(found) if found else None


def _text_blocks(content: str) -> list[str]:
    """v2 content recorded as the JSON of its parts (``[{"type": "text", "text": ...}]``)."""
    if content.startswith("[{"):
        blocks = parse_json(content)
        if isinstance(blocks, list) and all(isinstance(b, dict) for b in blocks):
            return [b["text"] for b in blocks if isinstance(b.get("text"), str)]
    return [content]


def request(model: Any, inputs: list[Json], params: Json, tools: list[Any] | None) -> Json:
    """The v1 keyword arguments from the conversation: the last user message is the
    ``message``, a leading system message the ``preamble``, the rest the history."""
    body: Json = {"model": model}
    last_user = max((i for i, m in enumerate(inputs) if m.get("role") == "user"), default=None)
    history = []
    for index, message in enumerate(inputs):
        role = str(message.get("role") or "user")
        if index == last_user:
            continue
        if role == "system" and index == 0:
            body["preamble"] = texts(message)
            continue
        history.append({"role": _ROLES.get(role, role.upper()), "message": texts(message)})
    body["message"] = texts(inputs[last_user]) if last_user is not None else None
    if history:
        body["chat_history"] = history
    body.update((PARAMETERS[k], v) for k, v in params.items() if k in PARAMETERS)
    if tools:
        body["tools"] = tools
    return body


def response(
    response_id: str | None,
    output: Json | None,
    finish: Any,
    counts: tuple[int | None, int | None],
    counted: str = "billed_units",
) -> Json:
    """The response's fields: id, text, finish reason, tool calls, and the token counts
    under ``meta`` as ``counted`` says they were counted (``billed_units``, or ``tokens``
    as the model counted them); a negative count as none."""
    answer: Json = {"response_id": response_id, "text": texts(output) if output else None}
    answer["finish_reason"] = as_str(finish)
    calls = [
        {"name": part.get("name"), "parameters": _parameters(part.get("arguments"))}
        for part in (parts_of(output) if output else [])
        if part.get("type") == "tool_call"
    ]
    if calls:
        answer["tool_calls"] = calls
    # A negative count is never sent (the caller counted it as unusable: ``int_attr``).
    input_tokens, output_tokens = (c if c is None or c >= 0 else None for c in counts)
    if input_tokens is not None or output_tokens is not None:
        answer["meta"] = {counted: {"input_tokens": input_tokens, "output_tokens": output_tokens}}
    return answer


def _parameters(arguments: Any) -> Any:
    """A tool call's arguments as the object Cohere's v1 ``parameters`` are."""
    parsed = parse_json(arguments) if isinstance(arguments, str) else arguments
    return parsed if isinstance(parsed, dict) else arguments
