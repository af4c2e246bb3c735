"""A call's content recorded as GenAI log events, read back as the span attributes the
conventions put it in (``gen_ai.input.messages``, ``gen_ai.output.messages``,
``gen_ai.system_instructions``), so one reader (``core.llm.genai``) maps both.

Two generations of events: one per message (``gen_ai.user.message``, ``gen_ai.choice``...,
``opentelemetry-instrumentation-botocore``'s and openai-v2's) with the message as the
body; and ``opentelemetry-util-genai``'s ``EVENT_ONLY`` mode, one
``gen_ai.client.inference.operation.details`` event carrying those attributes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from reconify_otel.core.conventions import genai as G
from reconify_otel.core.llm.values import Json, as_dict, as_str

_ROLES = G.MESSAGE_EVENTS
CHOICE = G.CHOICE_EVENT
DETAILS = G.DETAILS_EVENT
NAMES = frozenset({*_ROLES, CHOICE, DETAILS})
CONTENT_KEYS = (G.INPUT_MESSAGES, G.OUTPUT_MESSAGES, G.SYSTEM_INSTRUCTIONS)


@dataclass(frozen=True, slots=True)
class GenAiEvent:
    """One log record of a call, as the routes read it from the SDK or from OTLP."""

    name: str
    body: Any
    attributes: Mapping[str, Any]


def _part(block: Any) -> Json:
    """A content block (Bedrock's ``{text}``/``{toolUse}``/``{toolResult}``, Anthropic's
    typed blocks) as a GenAI part; one of another kind is kept as given."""
    if isinstance(block, str):
        return {"type": "text", "content": block}
    item = as_dict(block)
    if isinstance(item.get("text"), str) and item.get("type") in (None, "text"):
        return {"type": "text", "content": item["text"]}
    use = (
        item.get("toolUse")
        if "toolUse" in item
        else (item if item.get("type") == "tool_use" else None)
    )
    if isinstance(use, dict):
        call_id = use.get("toolUseId", use.get("id"))
        return {
            "type": "tool_call",
            "id": call_id,
            "name": use.get("name"),
            "arguments": use.get("input"),
        }
    result = item.get("toolResult")
    if isinstance(result, dict):
        return {
            "type": "tool_call_response",
            "id": result.get("toolUseId"),
            "response": result.get("content"),
        }
    return item


def _parts(body: Json) -> list[Json]:
    content = body.get("content")
    found = [_part(b) for b in content] if isinstance(content, list) else []
    if isinstance(content, str):
        found.append({"type": "text", "content": content})
    for call in body.get("tool_calls") or ():
        function = as_dict(as_dict(call).get("function"))
        arguments = function.get("arguments")
        found.append(
            {
                "type": "tool_call",
                "id": as_dict(call).get("id"),
                "name": function.get("name"),
                "arguments": arguments,
            }
        )
    return found


def _message(role: str, body: Json) -> Json:
    if role == "tool":
        answer = {
            "type": "tool_call_response",
            "id": body.get("id"),
            "response": body.get("content"),
        }
        return {"role": role, "parts": [answer]}
    return {"role": role, "parts": _parts(body)}


def _json(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def as_attributes(events: Iterable[GenAiEvent]) -> dict[str, str]:
    """The content attributes the events hold (none: an empty dict)."""
    found: dict[str, str] = {}
    inputs: list[Json] = []
    choices: list[tuple[int, Json]] = []
    for event in events:
        if event.name == DETAILS:
            found.update(
                (k, _json(event.attributes[k])) for k in CONTENT_KEYS if k in event.attributes
            )
            continue
        body = as_dict(event.body)
        role = _ROLES.get(event.name)
        if role is not None:
            inputs.append(_message(as_str(body.get("role")) or role, body))
        elif event.name == CHOICE:
            message = _message("assistant", as_dict(body.get("message")))
            if body.get("finish_reason") is not None:
                message["finish_reason"] = body["finish_reason"]
            index = body.get("index")
            choices.append((index if isinstance(index, int) else len(choices), message))
    if inputs:
        found.setdefault(G.INPUT_MESSAGES, _json(inputs))
    if choices:
        found.setdefault(
            G.OUTPUT_MESSAGES, _json([m for _, m in sorted(choices, key=lambda c: c[0])])
        )
    return found


def joined(attributes: Mapping[str, Any], events: Iterable[GenAiEvent]) -> Mapping[str, Any]:
    """The span's attributes with its events' content; what the span records itself wins."""
    content = as_attributes(events)
    missing = {k: v for k, v in content.items() if k not in attributes}
    return {**attributes, **missing} if missing else attributes
