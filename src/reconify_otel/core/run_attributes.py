"""Pure: one Assistants run and its own messages in, the ``invoke_agent`` span attributes out.

Shared by ``AssistantsInstrumentor`` and the handler API (``log_assistant``), so a run
logged either way gives the same span and therefore the same Reconify payload.
Inputs may be openai pydantic objects or plain dicts; nothing here does I/O.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry.util.types import AttributeValue

from reconify_otel.core import attributes as A

PROVIDER = "openai"
#: Statuses after which a run never changes again.
TERMINAL_STATUSES = frozenset({"completed", "failed", "cancelled", "expired", "incomplete"})
#: Terminal statuses whose span is an error (the exporter does not send them).
ERROR_STATUSES = frozenset({"failed", "cancelled", "expired", "incomplete"})
_FINISH_REASONS = {"completed": "stop", "incomplete": "length"}


def to_dict(obj: Any) -> dict[str, Any] | None:
    """A pydantic object or mapping as a JSON-ready dict; anything else as None."""
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return dict(obj)
    dump = getattr(obj, "model_dump", None)
    if callable(dump):
        value = dump(mode="json")
        return value if isinstance(value, dict) else None
    return None


def span_name(run: Mapping[str, Any] | Any, assistant: Mapping[str, Any] | Any = None) -> str:
    """``invoke_agent {assistant name or id}`` as the GenAI conventions name agent spans."""
    run_d = to_dict(run) or {}
    assistant_d = to_dict(assistant) or {}
    label = assistant_d.get("name") or run_d.get("assistant_id") or assistant_d.get("id")
    return f"{A.INVOKE_AGENT} {label}" if label else A.INVOKE_AGENT


def run_span_attributes(
    run: Mapping[str, Any] | Any,
    request_message: Mapping[str, Any] | Any,
    response_messages: Iterable[Mapping[str, Any] | Any],
    *,
    assistant: Mapping[str, Any] | Any = None,
    capture_content: bool = True,
) -> dict[str, AttributeValue]:
    """Attributes of the run's ``invoke_agent`` span (contract: docs/attributes.md).

    ``response_messages`` are this run's assistant messages, oldest first; other
    messages (user messages, other runs' answers) are dropped here so a caller
    handing over a whole listed page cannot leak earlier turns into the span.
    """
    run_d = to_dict(run) or {}
    assistant_d = to_dict(assistant) or {}
    run_id = run_d.get("id")
    request = to_dict(request_message)
    answers = [
        m
        for m in (to_dict(item) for item in response_messages)
        if m is not None
        and m.get("role", "assistant") == "assistant"
        and (m.get("run_id") in (None, run_id) or run_id is None)
    ]
    answers.sort(key=lambda m: int(m.get("created_at") or 0))  # stable: ties keep order

    attrs: dict[str, AttributeValue] = {
        A.OPERATION_NAME: A.INVOKE_AGENT,
        A.PROVIDER_NAME: PROVIDER,
    }
    status = run_d.get("status")
    model = run_d.get("model") or assistant_d.get("model")
    usage = to_dict(run_d.get("usage")) or {}
    _put(attrs, A.CONVERSATION_ID, run_d.get("thread_id"))
    _put(attrs, A.AGENT_ID, run_d.get("assistant_id") or assistant_d.get("id"))
    _put(attrs, A.AGENT_NAME, assistant_d.get("name"))
    _put(attrs, A.RUN_ID, run_id)
    _put(attrs, A.RUN_STATUS, status)
    _put(attrs, A.REQUEST_MODEL, model)
    _put(attrs, A.RESPONSE_MODEL, model)
    _put(attrs, A.USAGE_INPUT_TOKENS, usage.get("prompt_tokens"))
    _put(attrs, A.USAGE_OUTPUT_TOKENS, usage.get("completion_tokens"))
    _put(attrs, A.USAGE_TOTAL_TOKENS, usage.get("total_tokens"))
    if status in ERROR_STATUSES:
        attrs[A.ERROR_TYPE] = str(status)

    if request is not None:
        attrs[A.REQUEST_MESSAGE] = _dumps(_content_or_empty(request, capture_content))
    if answers:
        attrs[A.RESPONSE_MESSAGES] = _dumps(
            [_content_or_empty(m, capture_content) for m in answers]
        )
    if capture_content:
        if request is not None:
            attrs[A.INPUT_MESSAGES] = _dumps([_parts_message("user", [request])])
        if answers:
            output = _parts_message("assistant", answers)
            output["finish_reason"] = _FINISH_REASONS.get(str(status), str(status))
            attrs[A.OUTPUT_MESSAGES] = _dumps([output])
    return attrs


def _put(attrs: dict[str, AttributeValue], key: str, value: Any) -> None:
    if isinstance(value, (str, int, float)) and not isinstance(value, bool) and value != "":
        attrs[key] = value


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _content_or_empty(message: dict[str, Any], capture_content: bool) -> dict[str, Any]:
    """Content off keeps every field (ids, times) but the content itself."""
    return message if capture_content else {**message, "content": []}


def _parts_message(role: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
    """GenAI ``{"role", "parts"}`` from thread.message content blocks, in order."""
    parts: list[dict[str, Any]] = []
    for message in messages:
        content = message.get("content")
        blocks = content if isinstance(content, list) else []
        if isinstance(content, str):
            blocks = [{"type": "text", "text": {"value": content}}]
        parts.extend(_part(block) for block in blocks if isinstance(block, dict))
    return {"role": role, "parts": parts}


def _part(block: dict[str, Any]) -> dict[str, Any]:
    kind = block.get("type")
    if kind == "text":
        text = block.get("text")
        value = text.get("value") if isinstance(text, dict) else text
        return {"type": "text", "content": value if isinstance(value, str) else ""}
    if kind == "image_file":
        image = block.get("image_file") or {}
        return {"type": "file", "modality": "image", "file_id": image.get("file_id")}
    if kind == "image_url":
        image = block.get("image_url") or {}
        return {"type": "uri", "modality": "image", "uri": image.get("url")}
    return {"type": str(kind)}
