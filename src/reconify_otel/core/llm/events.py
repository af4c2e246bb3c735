"""A call's content recorded as GenAI log events, read back as the span attributes the
conventions put it in (``gen_ai.input.messages``, ``gen_ai.output.messages``,
``gen_ai.system_instructions``), so one reader (``core.llm.genai``) maps both.

Two generations of events: one per message (``gen_ai.user.message``, ``gen_ai.choice``...,
``opentelemetry-instrumentation-botocore``'s and openai-v2's) with the message as the
body; and ``opentelemetry-util-genai``'s ``EVENT_ONLY`` mode, one
``gen_ai.client.inference.operation.details`` event carrying those attributes.

botocore records a tool conversation twice over: its assistant event holds the
``toolUse`` blocks in ``content`` and again as ``tool_calls``, and a user message with
``toolResult`` blocks becomes one ``gen_ai.tool.message`` per result, then the user event
holding the same results. Each call and each result is read once.

Never raises: an event is the instrumentation's (or, through the bridge, anyone's) data.
A value present but unusable is mapped around, an event that cannot be read at all is
left out; ``read`` says how many events were (``unusable``), so the caller can count them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from reconify_otel.core.conventions import genai as G
from reconify_otel.core.llm.values import Json, as_dict, as_int, as_list, as_str

_ROLES = G.MESSAGE_EVENTS
CHOICE = G.CHOICE_EVENT
DETAILS = G.DETAILS_EVENT
NAMES = frozenset({*_ROLES, CHOICE, DETAILS})
CONTENT_KEYS = (G.INPUT_MESSAGES, G.OUTPUT_MESSAGES, G.SYSTEM_INSTRUCTIONS)
_TOOL_CALL, _TOOL_RESULT = "tool_call", "tool_call_response"


@dataclass(frozen=True, slots=True)
class GenAiEvent:
    """One log record of a call, as the routes read it from the SDK or from OTLP."""

    name: str
    body: Any
    attributes: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Content:
    """What the events hold: the content attributes (none: an empty dict), and how many
    events had a value that could not be used (mapped around, or the event left out)."""

    attributes: dict[str, str]
    unusable: int = 0


class _Bad:
    """Whether the event being read had a value present but unusable."""

    __slots__ = ("seen",)

    def __init__(self) -> None:
        self.seen = False

    def __call__(self) -> None:
        self.seen = True


def _part(block: Any, bad: _Bad) -> Json | None:
    """A content block (Bedrock's ``{text}``/``{toolUse}``/``{toolResult}``, Anthropic's
    typed blocks) as a GenAI part; a dict of another kind is kept as given."""
    if isinstance(block, str):
        return {"type": "text", "content": block}
    if not isinstance(block, dict):
        bad()
        return None
    item = block
    if isinstance(item.get("text"), str) and item.get("type") in (None, "text"):
        return {"type": "text", "content": item["text"]}
    use = (
        item.get("toolUse")
        if "toolUse" in item
        else (item if item.get("type") == "tool_use" else None)
    )
    if isinstance(use, dict):
        return {
            "type": _TOOL_CALL,
            "id": use.get("toolUseId", use.get("id")),
            "name": use.get("name"),
            "arguments": use.get("input"),
        }
    result = item.get("toolResult")
    if isinstance(result, dict):
        return {
            "type": _TOOL_RESULT,
            "id": result.get("toolUseId"),
            "response": result.get("content"),
        }
    return item


def _tool_call(call: Any, bad: _Bad) -> Json | None:
    """An OpenAI-shaped ``tool_calls`` entry (botocore's too) as a GenAI part."""
    if not isinstance(call, dict):
        bad()
        return None
    function = call.get("function")
    if function is not None and not isinstance(function, dict):
        bad()
    function = as_dict(function)
    return {
        "type": _TOOL_CALL,
        "id": call.get("id"),
        "name": function.get("name"),
        "arguments": function.get("arguments"),
    }


def _same_call(part: Json, parts: list[Json]) -> bool:
    """Whether ``parts`` (a message's content) already hold the call ``part``: by id, or
    without one by name and arguments."""
    for other in parts:
        if other.get("type") != _TOOL_CALL:
            continue
        if part["id"] is not None:
            if other.get("id") == part["id"]:
                return True
        elif other.get("name") == part["name"] and other.get("arguments") == part["arguments"]:
            return True
    return False


def _parts(body: Json, bad: _Bad) -> list[Json]:
    content = body.get("content")
    found: list[Json] = []
    if isinstance(content, str):
        found.append({"type": "text", "content": content})
    elif isinstance(content, list):
        found.extend(p for p in (_part(b, bad) for b in content) if p is not None)
    elif content is not None:
        bad()
    calls = body.get("tool_calls")
    if calls is not None and not isinstance(calls, list):
        bad()
    from_content = list(found)
    for call in as_list(calls):
        part = _tool_call(call, bad)
        if part is not None and not _same_call(part, from_content):  # botocore's twice
            found.append(part)
    return found


def _message(role: str, body: Json, bad: _Bad) -> Json:
    if role == "tool":
        call_id = body.get("id")
        if call_id is not None and not isinstance(call_id, (str, int)):
            bad()
            call_id = None
        answer = {"type": _TOOL_RESULT, "id": call_id, "response": body.get("content")}
        return {"role": role, "parts": [answer]}
    return {"role": role, "parts": _parts(body, bad)}


def _body(event: GenAiEvent, bad: _Bad) -> Json:
    body = event.body
    if body is not None and not isinstance(body, dict):
        bad()
    return as_dict(body)


def _choice(event: GenAiEvent, bad: _Bad, position: int) -> tuple[int, Json]:
    body = _body(event, bad)
    raw = body.get("message")
    if raw is not None and not isinstance(raw, dict):
        bad()
    message = _message("assistant", as_dict(raw), bad)
    finish = body.get("finish_reason")
    if finish is not None:
        if isinstance(finish, str):
            message["finish_reason"] = finish
        else:
            bad()
    index = as_int(body.get("index"))
    if index is None and body.get("index") is not None:
        bad()
    return (index if index is not None else position), message


def _json(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def _dumps(messages: list[Json]) -> tuple[str | None, int]:
    """The messages as JSON text, and how many were left out as not encodable (a cycle,
    nesting past the recursion limit, a value whose ``str`` raises)."""
    try:
        return _json(messages), 0
    except Exception:
        kept: list[str] = []
        for message in messages:
            try:
                kept.append(_json(message))
            except Exception:
                continue
        text = "[" + ", ".join(kept) + "]" if kept else None
        return text, len(messages) - len(kept)


def _results_of(message: Json | None) -> set[str | int]:
    """The ids of the tool results a user message holds."""
    if message is None or message.get("role") != "user":
        return set()
    ids = (p.get("id") for p in message["parts"] if p.get("type") == _TOOL_RESULT)
    return {i for i in ids if isinstance(i, (str, int))}


def _once(inputs: list[Json]) -> list[Json]:
    """The input messages without the tool messages whose result the user message next
    to their run (botocore's: the one after) holds too."""
    kept: list[Json] = []
    run: list[Json] = []  # tool messages since the last other message
    before: Json | None = None
    for message in [*inputs, None]:
        if message is not None and message.get("role") == "tool":
            run.append(message)
            continue
        if run:
            held = _results_of(before) | _results_of(message)
            for tool in run:
                answer_id = tool["parts"][0].get("id")
                if not (isinstance(answer_id, (str, int)) and answer_id in held):
                    kept.append(tool)
            run = []
        if message is not None:
            kept.append(message)
            before = message
    return kept


def read(events: Iterable[GenAiEvent]) -> Content:
    """The content attributes the events hold; never raises."""
    found: dict[str, str] = {}
    inputs: list[Json] = []
    choices: list[tuple[int, Json]] = []
    unusable = 0
    for event in events:
        bad = _Bad()
        try:
            name = event.name
            if name == DETAILS:
                attributes = event.attributes
                if not isinstance(attributes, Mapping):
                    raise TypeError("attributes")
                found.update({k: _json(attributes[k]) for k in CONTENT_KEYS if k in attributes})
            elif isinstance(name, str) and name in _ROLES:
                body = _body(event, bad)
                role = as_str(body.get("role")) or _ROLES[name]
                if not isinstance(body.get("role"), (str, type(None))):
                    bad()
                inputs.append(_message(role, body, bad))
            elif name == CHOICE:
                choices.append(_choice(event, bad, len(choices)))
        except Exception:  # RecursionError, a hostile ``__eq__``, what nothing foresaw
            bad()
        unusable += bad.seen
    if inputs:
        text, left_out = _dumps(_once(inputs))
        unusable += left_out
        if text is not None:
            found.setdefault(G.INPUT_MESSAGES, text)
    if choices:
        choices.sort(key=lambda c: c[0])
        text, left_out = _dumps([m for _, m in choices])
        unusable += left_out
        if text is not None:
            found.setdefault(G.OUTPUT_MESSAGES, text)
    return Content(found, unusable)


def joined(
    attributes: Mapping[str, Any],
    events: Iterable[GenAiEvent],
    on_unusable: Callable[[int], None] | None = None,
) -> Mapping[str, Any]:
    """The span's attributes with its events' content; what the span records itself wins.
    ``on_unusable``: told how many events had a value that could not be used, if any."""
    content = read(events)
    if content.unusable and on_unusable is not None:
        on_unusable(content.unusable)
    missing = {k: v for k, v in content.attributes.items() if k not in attributes}
    return {**attributes, **missing} if missing else attributes
