"""The allowlist holds at protocol positions only. PII planted under every ``KEPT`` key name
inside user- and model-controlled data (``tool_use.input`` in request and answer,
``metadata``, function-call arguments parsed into objects, JSON schemas, tool results,
unknown objects), with lists and objects under kept keys, in every payload kind, under
both switches: the exact output is asserted, protocol facts (ids, model, roles, block
types, tool names, finish reasons, usage) included.

Each builder below takes ``t``, what becomes of a planted string: as is (the payload
sent), ``None`` (content off) or its masked form (``mask_pii``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from reconify_otel.core import privacy
from reconify_otel.core.privacy import KEPT

from .privacy_checks import on_json

MAIL, PHONE, PERSON = "alice@example.com", "+44 20 7946 0958", "Bob Smith +1 415 555 0101"
WORDS = ("text", "input_text", "object", "file_citation")  # not PII, but content in data
MASKED = {MAIL: "[email]", PHONE: "[phone]", PERSON: "Bob Smith [phone]"} | {w: w for w in WORDS}
T = Callable[[str], Any]
# The switches take an interaction; the payloads here are written as its JSON.
without_content, mask_pii = on_json(privacy.without_content), on_json(privacy.mask_pii)

ENVELOPE = {
    "reconify": {"format": "openai", "type": "chat", "version": "3.1.0"},
    "timestamps": {"request": 1, "response": 2},
    "session": None,
    "sessionTimeout": None,
    "user": {},
}


def _keyed(t: T) -> dict[str, Any]:
    """A map keyed by an e-mail: the entry goes with content off, the key is masked."""
    return {} if t(MAIL) is None else {t(MAIL): t(PERSON)}


def data(t: T) -> dict[str, Any]:
    """Free-form data with every kept key name, lists and objects under them."""
    return {
        **{key: t(MAIL) for key in KEPT},
        "listed": {key: [t(MAIL), t(PHONE)] for key in KEPT},
        "nested": {key: {"id": t(PHONE), "type": t(MAIL)} for key in KEPT},
        "contact": {"name": t(PERSON), "phone": {"id": t(PHONE)}, "rows": [{"role": t(MAIL)}]},
        "keyed": _keyed(t),
        "count": 7,
        "ok": True,
    }


def schema(t: T) -> dict[str, Any]:
    """A JSON schema: only JSON type names under ``type`` are kept."""
    return {
        "type": "object",
        "title": t(MAIL),
        "properties": {
            key: {"type": "string", "default": t(MAIL), "enum": [t(PHONE)]} for key in KEPT
        },
        "required": [t(MAIL)],
        "anyOf": [{"type": t(MAIL)}, {"type": [t(PHONE)]}, {"type": "integer"}],
        "keyed": _keyed(t),
        "additionalProperties": False,
    }


def anthropic(t: T) -> dict[str, Any]:
    request = {
        "model": "claude-3-5-haiku-latest",
        "max_tokens": 64,
        "metadata": data(t),
        "tools": [{"name": "lookup", "description": t(MAIL), "input_schema": schema(t)}],
        "tool_choice": {"type": "tool", "name": "lookup"},
        "messages": [
            {"role": "user", "content": t(MAIL)},
            {
                "role": "assistant",
                "content": [
                    {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": data(t)},
                    {"type": "server_tool_use", "id": "srv_1", "name": "web", "input": data(t)},
                    # Kept keys at a protocol position, with a list, an object, free text.
                    {"type": "text", "text": t(MAIL), "status": [t(MAIL)], "detail": data(t)},
                    {"type": "tool_use", "id": "toolu_3", "name": t(PERSON), "input": {}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_1",
                        "content": [{"type": t("text"), "text": t(MAIL)}, data(t)],
                    },
                    {"type": "tool_result", "tool_use_id": "srv_1", "content": t(PHONE)},
                ],
            },
        ],
    }
    response = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-3-5-haiku-latest",
        "content": [
            {"type": "text", "text": t(PHONE)},
            {"type": "tool_use", "id": "toolu_2", "name": "email", "input": data(t)},
        ],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 11, "output_tokens": 7, "service_tier": "standard"},
    }
    return {"request": request, "response": response}


def _function_call(t: T, call_id: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": "lookup", "arguments": data(t)}}


def chat(t: T) -> dict[str, Any]:
    request = {
        "model": "gpt-4o",
        "metadata": data(t),
        "tools": [{"type": "function", "function": {"name": "lookup", "parameters": schema(t)}}],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "answer", "strict": True, "schema": schema(t)},
        },
        "messages": [
            {"role": "user", "name": t(PERSON), "content": t(MAIL)},
            {"role": "assistant", "content": None, "tool_calls": [_function_call(t, "call_1")]},
            {"role": "tool", "tool_call_id": "call_1", "content": t(PHONE)},
        ],
    }
    answer = {"role": "assistant", "content": t(MAIL), "tool_calls": [_function_call(t, "c2")]}
    choice = {"index": 0, "message": answer, "finish_reason": "tool_calls", "logprobs": data(t)}
    response: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "gpt-4o-2024-08-06",
    }
    response |= {"system_fingerprint": "fp_1", "choices": [choice]}
    response["usage"] = {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
    return {"request": request, "response": response}


def completion(t: T) -> dict[str, Any]:
    request = {"model": "davinci-002", "prompt": t(MAIL), "extra_body": data(t), "n": 1}
    response = {
        "id": "cmpl-1",
        "object": "text_completion",
        "model": "davinci-002",
        "choices": [{"index": 0, "text": t(PHONE), "finish_reason": "length", "logprobs": data(t)}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
    }
    return {"request": request, "response": response}


def responses(t: T) -> dict[str, Any]:
    call = {"type": "function_call", "call_id": "call_1", "name": "lookup", "arguments": data(t)}
    request = {
        "model": "gpt-4.1-nano",
        "metadata": data(t),
        "tools": [{"type": "function", "name": "lookup", "parameters": schema(t)}],
        "text": {"format": {"type": "json_schema", "name": "answer", "schema": schema(t)}},
        "reasoning": {"effort": "low"},
        "input": [
            {"role": "user", "content": [{"type": "input_text", "text": t(MAIL)}]},
            call,
            {
                "type": "function_call_output",
                "call_id": "call_1",
                "output": [{"type": t("input_text"), "text": t(PHONE)}, data(t)],
            },
        ],
    }
    response = {
        "id": "resp_1",
        "object": "response",
        "status": "completed",
        "model": "gpt-4.1-nano-2025-04-14",
        "metadata": data(t),
        "output": [
            {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": t(MAIL), "annotations": []}],
            },
            {**call, "id": "fc_1", "call_id": "call_2", "status": "completed"},
        ],
        "usage": {"input_tokens": 5, "output_tokens": 6, "total_tokens": 11},
    }
    return {"request": request, "response": response}


def assistant_run(t: T) -> dict[str, Any]:
    text = {"value": t(MAIL), "annotations": []}
    request = {
        "role": "user",
        "content": [{"type": "text", "text": text}],
        "metadata": data(t),
        "assistant_id": "asst_1",
        "thread_id": "thread_1",
        "model": "gpt-4o-mini",
    }
    response = {
        "id": "msg_2",
        "object": "thread.message",
        "role": "assistant",
        "content": [{"type": "text", "text": text}],
        "metadata": data(t),
        "attachments": [{"file_id": "file_1", "tools": [{"type": "file_search"}]}],
        "run_id": "run_1",
        "thread_id": "thread_1",
        "assistant_id": "asst_1",
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
    return {"request": request, "response": response}


KINDS = [anthropic, chat, completion, responses, assistant_run]
SWITCHES: dict[str, tuple[Callable[[Any], Any], T]] = {
    "content off": (without_content, lambda _: None),
    "masked": (mask_pii, MASKED.__getitem__),
}


@pytest.mark.parametrize("switch", list(SWITCHES))
@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.__name__)
def test_kept_key_names_inside_data_are_content(
    kind: Callable[[T], dict[str, Any]], switch: str
) -> None:
    walk, t = SWITCHES[switch]
    sent = {**ENVELOPE, **kind(lambda text: text)}
    assert walk(sent) == {**ENVELOPE, **kind(t)}


def test_the_plants_cover_every_kept_key_and_differ_from_the_expectations() -> None:
    planted = data(lambda text: text)
    assert set(planted) >= KEPT and KEPT == set(planted["listed"]) == set(planted["nested"])
    for kind in KINDS:
        sent = kind(lambda text: text)
        assert sent != kind(lambda _: None) and sent != kind(MASKED.__getitem__)
