"""The Gemini, Cohere and universal formats after an adversarial review: the size caps
shorten their texts (Cohere's ``message``, ``preamble`` and history, Gemini's ``contents``
and system instruction in the REST and the SDK's forms, and in payloads sent as given any
text under keys of their own), and the content switch and masking take every text while
the ids, models, roles, finish reasons and tool names stay. Expected values are exact."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reconify_otel.core import privacy
from reconify_otel.core.conventions import Kind
from reconify_otel.core.interaction import Interaction, interaction_of
from reconify_otel.core.size_caps import TRUNCATION_MARKER, encoded_size, fit
from reconify_otel.prepare import Prepared, Preparer
from reconify_otel.runtime.counters import Counters
from reconify_otel.settings import resolve

from .genai_spans import COHERE_SPAN, GEMINI_SPAN, mapped, messages, record, text

BLOB = {"type": "blob", "modality": "image", "mime_type": "image/png", "content": "iVBORw0KGgo="}


ANSWER = messages(("assistant", [text("Arr.")]))


def preparer(**options: Any) -> tuple[Preparer, Counters]:
    settings = resolve(endpoint="http://127.0.0.1:9/track", app_key="a", api_key="b", **options)
    counters = Counters()
    return Preparer(settings, counters, resolve_personal=None), counters


# --- 6. size caps ---------------------------------------------------------------------------

LONG = "x" * 6_000


def as_interaction(kind: Kind, request: dict[str, Any], response: Any) -> Interaction:
    fmt = {Kind.GEMINI: "gemini", Kind.COHERE: "cohere", Kind.UNIVERSAL: "universal"}[kind]
    typ = {Kind.GEMINI: "generate"}.get(kind, "chat")
    payload = {
        "reconify": {"format": fmt, "type": typ, "version": "3.1.0"},
        "timestamps": {"request": 1, "response": 2},
        "session": None,
        "sessionTimeout": None,
        "user": {},
        "request": request,
        "response": response,
    }
    found = interaction_of(payload, kind)
    assert found is not None
    return found


def shortened(value: Any, short: str) -> Any:
    """``value`` with every ``LONG`` replaced by ``short``."""
    if value == LONG:
        return short
    if isinstance(value, dict):
        return {k: shortened(v, short) for k, v in value.items()}
    if isinstance(value, list):
        return [shortened(v, short) for v in value]
    return value


def first_cut(value: Any) -> str | None:
    if isinstance(value, str):
        return value if value.endswith(TRUNCATION_MARKER) else None
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    return next((cut for item in items if (cut := first_cut(item)) is not None), None)


# Each long text under a content key, or (sent as given) each under keys of its own only.
SIZED = {
    "cohere v1": (
        Kind.COHERE,
        {
            "model": "command",
            "message": LONG,
            "preamble": LONG,
            "chat_history": [{"role": "USER", "message": LONG}],
        },
        {"response_id": "co-6", "generation_id": "gen-6", "text": LONG},
    ),
    "cohere documents": (
        Kind.COHERE,
        {"model": "command", "message": "Sum up", "documents": [{"id": "d1", "snippet": LONG}]},
        {"response_id": "co-7", "text": "ok", "citations": [{"start": 0, "document_ids": ["d1"]}]},
    ),
    "gemini rest": (
        Kind.GEMINI,
        {
            "model": "gemini-2.5-flash",
            "contents": [{"role": "user", "parts": [{"text": LONG}]}],
            "systemInstruction": {"parts": [{"text": LONG}]},
        },
        {"candidates": [{"content": {"role": "model", "parts": [{"text": LONG}]}}]},
    ),
    "gemini sdk": (
        Kind.GEMINI,
        {"model": "gemini-2.5-flash", "contents": [LONG], "config": {"system_instruction": LONG}},
        {"candidates": [{"content": {"role": "model", "parts": [{"text": LONG}]}}]},
    ),
    "gemini call arguments": (
        Kind.GEMINI,
        {"model": "gemini-2.5-flash", "contents": "Look it up"},
        {
            "candidates": [
                {
                    "content": {
                        "role": "model",
                        "parts": [{"function_call": {"name": "f", "args": {"q": LONG}}}],
                    }
                }
            ],
            "response_id": "resp-6",
        },
    ),
    "universal list": (
        Kind.UNIVERSAL,
        {"model": "tgi", "inputs": LONG},
        [{"generated_text": LONG}],
    ),
    "universal unknown keys": (
        Kind.UNIVERSAL,
        {"model": "llama3", "prompt": "Hi"},
        {"model": "llama3", "response": LONG, "done": True},
    ),
}


@pytest.mark.parametrize("name", list(SIZED))
def test_fit_shortens_the_texts_of_gemini_cohere_and_universal_payloads(name: str) -> None:
    """Every long text cut to the same share with the marker; ids, models, roles, tool
    names, short texts and numbers as they were."""
    kind, request, response = SIZED[name]
    interaction = as_interaction(kind, request, response)
    assert encoded_size(interaction) > 6_000
    fitted = fit(interaction, 4_000)
    assert fitted is not None
    assert encoded_size(fitted) <= 4_000
    short = first_cut([fitted.request, fitted.response])
    assert short is not None and len(short) > 500
    assert short == "x" * (len(short) - len(TRUNCATION_MARKER)) + TRUNCATION_MARKER
    assert (fitted.request, fitted.response) == (
        shortened(request, short),
        shortened(response, short),
    )


def test_a_long_cohere_call_is_sent_shortened_not_dropped() -> None:
    attrs = {
        **COHERE_SPAN,
        "gen_ai.input.messages": messages(("system", [text(LONG)]), ("user", [text(LONG)])),
        "gen_ai.output.messages": ANSWER,
        "gen_ai.response.id": "co-8",
    }
    prepare, counters = preparer(max_payload_bytes=4_096, max_field_bytes=100_000)
    sent = prepare.prepare(record(attrs))
    assert isinstance(sent, Prepared), sent
    assert len(sent.body) <= 4_096
    request = sent.payload["request"]
    assert request["message"] == request["preamble"] and request["message"].endswith(
        TRUNCATION_MARKER
    )
    assert sent.payload["response"]["response_id"] == "co-8"
    assert {k: v for k, v in counters.snapshot().items() if v} == {}


# --- 6 and 7. the content switch and masking -------------------------------------------------


def test_content_off_keeps_the_gemini_ids_roles_and_tool_names() -> None:
    attrs = {
        **GEMINI_SPAN,
        "gen_ai.system_instructions": json.dumps([text("Be brief.")]),
        "gen_ai.input.messages": messages(("user", [text("Weather?"), BLOB])),
        "gen_ai.output.messages": messages(
            (
                "assistant",
                [
                    {"type": "reasoning", "content": "Call the tool."},
                    {"type": "tool_call", "name": "weather", "arguments": '{"city": "Paris"}'},
                ],
            )
        ),
        "gen_ai.response.id": "resp-9",
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": 5,
        "gen_ai.usage.output_tokens": 9,
    }
    off = privacy.without_content(mapped(attrs))
    assert off.request == {
        "model": "gemini-2.5-flash",
        "contents": [
            {
                "role": "user",
                "parts": [{"text": None}, {"inlineData": {"mimeType": "image/png", "data": None}}],
            }
        ],
        "systemInstruction": {"parts": [{"text": None}]},
    }
    assert off.response == {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [
                        {"text": None, "thought": True},
                        {"functionCall": {"name": "weather", "args": {"city": None}}},
                    ],
                },
                "finishReason": "STOP",
                "index": 0,
            }
        ],
        "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 9, "totalTokenCount": 14},
        "modelVersion": "gemini-2.5-flash",
        "responseId": "resp-9",
    }


def test_content_off_keeps_the_cohere_ids_and_roles() -> None:
    attrs = {
        **COHERE_SPAN,
        "gen_ai.input.messages": messages(
            ("system", [text("Be a pirate.")]),
            ("user", [text("Hi")]),
            ("assistant", [text("Arr")]),
            ("user", [text("A joke")]),
        ),
        "gen_ai.output.messages": ANSWER,
        "gen_ai.response.id": "co-10",
        "gen_ai.response.finish_reasons": ("COMPLETE",),
    }
    off = privacy.without_content(mapped(attrs))
    assert off.request == {
        "model": "command",
        "preamble": None,
        "message": None,
        "chat_history": [{"role": "USER", "message": None}, {"role": "CHATBOT", "message": None}],
    }
    assert off.response == {"response_id": "co-10", "text": None, "finish_reason": "COMPLETE"}


MAIL = "jane.doe@example.com"


def planted(where: str) -> str:
    return f"{where} {MAIL}"


GIVEN = {
    "gemini": (
        Kind.GEMINI,
        {
            "model": "gemini-2.5-flash",
            "contents": [{"role": "user", "parts": [{"text": planted("question")}]}],
            "systemInstruction": {"parts": [{"text": planted("system")}]},
            "config": {"system_instruction": planted("sdk system"), "temperature": 0.2},
            "tools": [{"functionDeclarations": [{"name": "f", "description": planted("tool")}]}],
        },
        {
            "candidates": [
                {
                    "content": {
                        "role": "model",
                        "parts": [
                            {"text": planted("thought"), "thought": True},
                            {"functionCall": {"id": "fc-1", "name": "f", "args": {"to": MAIL}}},
                        ],
                    },
                    "finishReason": "STOP",
                    "citationMetadata": {"citations": [{"uri": f"https://x.test/{MAIL}"}]},
                }
            ],
            "usageMetadata": {"promptTokenCount": 3},
            "modelVersion": "gemini-2.5-flash",
            "responseId": "resp-11",
        },
    ),
    "cohere": (
        Kind.COHERE,
        {
            "model": "command",
            "message": planted("message"),
            "preamble": planted("preamble"),
            "chat_history": [{"role": "USER", "message": planted("history")}],
            "documents": [{"id": "d1", "snippet": planted("document")}],
        },
        {
            "response_id": "co-11",
            "generation_id": "gen-11",
            "text": planted("answer"),
            "finish_reason": "COMPLETE",
            "tool_calls": [{"name": "lookup", "parameters": {"email": MAIL}}],
            "citations": [{"start": 0, "end": 3, "text": planted("citation")}],
            "search_queries": [{"text": planted("query"), "generation_id": "gen-11"}],
        },
    ),
}
KEPT_GIVEN = {
    "gemini": {"gemini-2.5-flash", "user", "model", "fc-1", "f", "STOP", "resp-11"},
    "cohere": {"command", "USER", "co-11", "gen-11", "COMPLETE", "lookup"},
}


def strings(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value}
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    return {s for item in items for s in strings(item)}


@pytest.mark.parametrize("name", list(GIVEN))
def test_no_plant_survives_content_off_or_masking_and_the_ids_do(name: str) -> None:
    """Calls as ``log_chat`` sends them: every text goes (content off) or is masked, the
    ids, models, roles, finish reasons and tool names stay."""
    kind, request, response = GIVEN[name]
    given = as_interaction(kind, request, response)
    off = privacy.without_content(given)
    assert strings([off.request, off.response]) == KEPT_GIVEN[name]
    masked = privacy.mask_pii(given)
    sent = strings([masked.request, masked.response])
    assert KEPT_GIVEN[name] <= sent and not any(MAIL in s for s in sent)
