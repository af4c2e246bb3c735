"""The privacy switches as one allowlist walk over the finished payload (``core.privacy``):
exact outputs on every kind of place a text can sit, on a format the mapping does not
produce yet, and against what instrumentations record with their own content switch off.
The planted-PII end-to-end proof through the real SDKs: tests/test_privacy_planted.py."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from reconify_otel.core import privacy
from reconify_otel.core.llm import LlmCall, map_llm_call
from reconify_otel.core.privacy import KEPT

from .llm_recordings import SPANS
from .privacy_checks import leaves, on_json


class _Odd:
    """Not JSON: the encoder would send ``str()`` of it."""

    def __str__(self) -> str:
        return MAIL


# The switches take an interaction; the payloads here are written as its JSON.
without_content, mask_pii = on_json(privacy.without_content), on_json(privacy.mask_pii)

MAIL, PHONE = "jane.doe@example.com", "+1 (555) 010-0199"
ENVELOPE = {
    "reconify": {"format": "anthropic", "type": "chat", "version": "3.1.0"},
    "timestamps": {"request": 1, "response": 2},
    "session": "s-1",
    "sessionTimeout": 10,
    "user": {"userId": "u-1", "email": MAIL},
}
# Every kind of place a text can sit: free-form maps (and keys), lists, schemas, tool
# inputs, documents, images, files, participant names, tuples and non-JSON objects.
ANTHROPIC_PAYLOAD = {
    **ENVELOPE,
    "request": {
        "model": "claude-3-5-sonnet-20240620",
        "max_tokens": 1024,
        "stream": False,
        "metadata": {"user_id": MAIL, f"{MAIL}": "x"},
        "stop_sequences": (PHONE,),
        "system": f"Reach {MAIL}",
        "messages": [
            {
                "role": "user",
                "name": "Jane",
                "content": [
                    {
                        "type": "document",
                        "title": PHONE,
                        "source": {"type": "text", "media_type": "text/plain", "data": MAIL},
                    },
                    {"type": "image", "source": {"type": "url", "url": f"https://x.test/{MAIL}"}},
                    {"type": "input_file", "filename": f"{MAIL}.pdf", "file_id": "file_1"},
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"to": MAIL}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": PHONE},
                ],
            },
        ],
        "tools": [
            {
                "name": "lookup",
                "description": f"Mail {MAIL}",
                "input_schema": {
                    "type": "object",
                    "required": ["to"],
                    "properties": {"to": {"type": "string", "default": PHONE}},
                },
            }
        ],
        "odd": _Odd(),
    },
    "response": {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-3-5",
        "content": [
            {"type": "text", "text": f"Call {PHONE}"},
            {"type": "tool_use", "id": "toolu_2", "name": "lookup", "input": {"to": MAIL}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": PHONE,
        "usage": {"input_tokens": 514, "output_tokens": 152},
    },
}


def test_content_off_keeps_only_allowlisted_strings() -> None:
    off = without_content(ANTHROPIC_PAYLOAD)
    assert {k: off[k] for k in ENVELOPE} == ENVELOPE  # what you set, as you set it
    assert off["request"] == {
        "model": "claude-3-5-sonnet-20240620",
        "max_tokens": 1024,
        "stream": False,
        "metadata": {"user_id": None},  # a key that is no identifier goes with its value
        "stop_sequences": [None],
        "system": None,
        "messages": [
            {
                "role": "user",
                "name": None,
                "content": [
                    {
                        "type": "document",
                        "title": None,
                        "source": {"type": "text", "media_type": "text/plain", "data": None},
                    },
                    {"type": "image", "source": {"type": "url", "url": None}},
                    {"type": "input_file", "filename": None, "file_id": "file_1"},
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"to": None}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": None},
                ],
            },
        ],
        "tools": [
            {
                "name": "lookup",
                "description": None,
                "input_schema": {
                    "type": "object",
                    "required": [None],
                    "properties": {"to": {"type": "string", "default": None}},
                },
            }
        ],
        "odd": None,
    }
    assert off["response"] == {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-3-5",
        "content": [
            {"type": "text", "text": None},
            {"type": "tool_use", "id": "toolu_2", "name": "lookup", "input": {"to": None}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 514, "output_tokens": 152},
    }


def test_mask_pii_masks_every_string_but_the_allowlisted_ones() -> None:
    masked = mask_pii(ANTHROPIC_PAYLOAD)
    assert {k: masked[k] for k in ENVELOPE} == ENVELOPE
    request = masked["request"]
    assert request["metadata"] == {"user_id": "[email]", "[email]": "x"}
    assert request["stop_sequences"] == ["[phone]"]
    assert request["system"] == "Reach [email]"
    assert request["messages"][0] == {
        "role": "user",
        "name": "Jane",
        "content": [
            {
                "type": "document",
                "title": "[phone]",
                "source": {"type": "text", "media_type": "text/plain", "data": "[email]"},
            },
            {"type": "image", "source": {"type": "url", "url": "https://x.test/[email]"}},
            {"type": "input_file", "filename": "[email]", "file_id": "file_1"},
        ],
    }
    assert request["messages"][1]["content"][0]["input"] == {"to": "[email]"}
    assert request["messages"][2]["content"][0]["content"] == "[phone]"
    assert request["tools"] == [
        {
            "name": "lookup",
            "description": "Mail [email]",
            "input_schema": {
                "type": "object",
                "required": ["to"],
                "properties": {"to": {"type": "string", "default": "[phone]"}},
            },
        }
    ]
    assert request["odd"] == "[email]"
    assert masked["response"]["content"] == [
        {"type": "text", "text": "Call [phone]"},
        {"type": "tool_use", "id": "toolu_2", "name": "lookup", "input": {"to": "[email]"}},
    ]
    assert masked["response"]["stop_sequence"] == "[phone]"
    assert masked["response"]["usage"] == {"input_tokens": 514, "output_tokens": 152}


def test_the_walk_changes_a_copy_and_covers_a_format_added_later() -> None:
    before = copy.deepcopy({k: v for k, v in ANTHROPIC_PAYLOAD.items() if k != "request"})
    new_format = {**ENVELOPE, "request": {"query": MAIL}, "extra": [{"note": PHONE, "n": 3}]}
    assert without_content(new_format)["extra"] == [{"note": None, "n": 3}]
    assert mask_pii(new_format)["extra"] == [{"note": "[phone]", "n": 3}]
    assert mask_pii(new_format)["request"] == {"query": "[email]"}
    without_content(ANTHROPIC_PAYLOAD), mask_pii(ANTHROPIC_PAYLOAD)
    assert {k: v for k, v in ANTHROPIC_PAYLOAD.items() if k != "request"} == before


def test_the_chat_parameters_that_leaked() -> None:
    request = {
        "model": "gpt-4o",
        "user": MAIL,
        "metadata": {"k": PHONE},
        "stop": [MAIL],
        "suffix": MAIL,
        "response_format": {
            "type": "json_schema",
            "json_schema": {
                "name": "answer",
                "description": MAIL,
                "strict": True,
                "schema": {"type": "object", "description": PHONE},
            },
        },
        "tool_choice": {"type": "function", "function": {"name": "lookup"}},
        "logit_bias": {"50256": -100},
        "temperature": 0.2,
        "n": 1,
    }
    off = without_content({**ENVELOPE, "request": request, "response": {}})
    assert off["request"] == {
        "model": "gpt-4o",
        "user": None,
        "metadata": {"k": None},
        "stop": [None],
        "suffix": None,
        "response_format": {
            "type": "json_schema",
            "json_schema": {
                "name": "answer",
                "description": None,
                "strict": True,
                "schema": {"type": "object", "description": None},
            },
        },
        "tool_choice": {"type": "function", "function": {"name": "lookup"}},
        "logit_bias": {},
        "temperature": 0.2,
        "n": 1,
    }
    masked = mask_pii({**ENVELOPE, "request": request, "response": {}})["request"]
    assert (masked["user"], masked["metadata"], masked["stop"], masked["suffix"]) == (
        "[email]",
        {"k": "[phone]"},
        ["[email]"],
        "[email]",
    )
    assert masked["response_format"]["json_schema"]["description"] == "[email]"
    assert masked["response_format"]["json_schema"]["schema"]["description"] == "[phone]"


def test_the_allowlist_is_small_and_explicit() -> None:
    """Adding a key here is a privacy decision: it must be named in README's Privacy."""
    assert sorted(KEPT) == sorted(
        [
            *("id", "call_id", "tool_call_id", "tool_use_id", "thread_id", "run_id"),
            *("assistant_id", "previous_response_id", "file_id", "model", "object", "type"),
            *("role", "status", "finish_reason", "stop_reason", "name", "tool_choice"),
            *("reasoning_effort", "effort", "service_tier", "system_fingerprint"),
            *("media_type", "detail"),
        ]
    )


def _payload(tag: str, cassette: str, n: int) -> dict[str, Any]:
    span = json.loads((SPANS / tag / cassette / f"{n}.json").read_text())
    call = map_llm_call(span["name"], span["attributes"])
    assert isinstance(call, LlmCall), call
    return {**ENVELOPE, "request": call.request, "response": call.response}


@pytest.mark.parametrize(
    "tag", ["traceloop-openai-0.62.4", "traceloop-anthropic-0.62.4", "openinference-openai-0.1.66"]
)
def test_content_off_keeps_all_a_span_recorded_without_content_still_holds(tag: str) -> None:
    """What an instrumentation still records with its own content switch off (ids, model,
    numeric parameters, usage, finish reasons) arrives, at the same place, when the
    exporter's switch strips the span recorded with content."""
    twins = sorted((SPANS / tag).glob("*/*.json"))
    assert twins
    for twin in twins:
        cassette, n = twin.parts[-2], int(twin.stem)
        stripped = without_content(_payload(tag, cassette, n))
        bare = without_content(_payload(f"{tag}-nocontent", cassette, n))
        assert leaves(bare) <= leaves(stripped), twin
        assert stripped["request"]["model"] is not None and stripped["response"]["usage"]
