"""The Gemini and Cohere formats after an adversarial review: system instructions that are
no objects, GenAI parts of every kind, tool-call arguments that are no JSON object, token
counts that are bad or contradict each other (never sent negative, counted once), and one
payload for one call recorded by two instrumentations or logged twice (size caps and the
content switch: ``test_providers_review_privacy``). Spans are built as the
instrumentations record them; the expected values are exact."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconify_otel.core.dedup import RecentCalls, call_key
from reconify_otel.core.interaction import Interaction
from reconify_otel.core.llm import cohere, gemini
from reconify_otel.core.mapping import map_span
from reconify_otel.core.payload import Skip, Skipped
from reconify_otel.handler.openai_handler import ReconifyHandler
from reconify_otel.offline.replay import RecordedCall, recorded_calls
from reconify_otel.offline.sink import ReconifySink
from reconify_otel.prepare import Prepared, Preparer
from reconify_otel.runtime.counters import Counters
from reconify_otel.settings import resolve

from .genai_spans import (
    COHERE_SPAN,
    END_NS,
    GEMINI_SPAN,
    START_NS,
    TRACE,
    mapped,
    messages,
    record,
    text,
)
from .handler_llm_helpers import handler_for

OPENINFERENCE = "openinference.instrumentation.google_genai"
FIXTURES = Path(__file__).parent / "fixtures" / "providers"


def preparer(**options: Any) -> tuple[Preparer, Counters]:
    settings = resolve(endpoint="http://127.0.0.1:9/track", app_key="a", api_key="b", **options)
    counters = Counters()
    return Preparer(settings, counters, resolve_personal=None), counters


# --- 1. system instructions that are no objects -----------------------------------------


def test_gemini_instructions_that_are_no_objects_are_text_or_skipped() -> None:
    instructions = ["Be brief.", 42, None, ["nested"], {}, text("Answer in French.")]
    attrs = {
        **GEMINI_SPAN,
        "gen_ai.system_instructions": json.dumps(instructions),
        "gen_ai.input.messages": messages(("user", [text("What is ai?")])),
        "gen_ai.output.messages": messages(("assistant", [text("L'IA.")])),
        "gen_ai.response.id": "resp-1",
    }
    assert mapped(attrs).request == {
        "model": "gemini-2.5-flash",
        "contents": [{"role": "user", "parts": [{"text": "What is ai?"}]}],
        "systemInstruction": {"parts": [{"text": "Be brief."}, {"text": "Answer in French."}]},
    }
    prepare, counters = preparer()
    assert isinstance(prepare.prepare(record(attrs)), Prepared)
    assert {k: v for k, v in counters.snapshot().items() if v} == {}


# --- 2. parts of every kind ---------------------------------------------------------------

BLOB = {"type": "blob", "modality": "image", "mime_type": "image/png", "content": "iVBORw0KGgo="}
URI = {"type": "uri", "modality": "video", "mime_type": "video/mp4", "uri": "gs://b/clip.mp4"}
FILE = {"type": "file", "modality": "document", "file_id": "files/abc123"}
OWN = {"type": "executable_code", "language": "PYTHON", "code": "print(6 * 7)"}


def test_gemini_parts_of_every_kind_are_kept() -> None:
    """Text, thoughts, calls, inline and file data as Gemini's own parts; a part Gemini
    has none for (a file id, a provider's own kind) as recorded."""
    asked = [text("Describe these."), BLOB, URI, FILE, OWN]
    answered = [
        {"type": "reasoning", "content": "The user wants descriptions."},
        text("An image and a clip."),
        {"type": "tool_call", "id": "c1", "name": "lookup", "arguments": {"q": "clip"}},
    ]
    attrs = {
        **GEMINI_SPAN,
        "gen_ai.input.messages": messages(("user", asked)),
        "gen_ai.output.messages": messages(("assistant", answered)),
        "gen_ai.response.id": "resp-2",
    }
    call = mapped(attrs)
    assert call.request["contents"] == [
        {
            "role": "user",
            "parts": [
                {"text": "Describe these."},
                {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
                {"fileData": {"mimeType": "video/mp4", "fileUri": "gs://b/clip.mp4"}},
                FILE,
                OWN,
            ],
        }
    ]
    assert call.response == {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [
                        {"text": "The user wants descriptions.", "thought": True},
                        {"text": "An image and a clip."},
                        {"functionCall": {"name": "lookup", "args": {"q": "clip"}}},
                    ],
                },
                "finishReason": None,
                "index": 0,
            }
        ],
        "usageMetadata": None,
        "modelVersion": "gemini-2.5-flash",
        "responseId": "resp-2",
    }


# --- 3. tool-call arguments that are no JSON object ---------------------------------------


@pytest.mark.parametrize(
    ("arguments", "args"),
    [
        ('{"city": "Paris"', '{"city": "Paris"'),  # cut short: the text, not null
        ("Paris, please", "Paris, please"),
        ("[1, 2]", "[1, 2]"),  # JSON, but no object
        ('{"city": "Paris"}', {"city": "Paris"}),
        ({"city": "Paris"}, {"city": "Paris"}),
    ],
)
def test_gemini_call_arguments_are_kept_as_recorded_when_no_json_object(
    arguments: Any, args: Any
) -> None:
    call = {"type": "tool_call", "id": "c1", "name": "weather", "arguments": arguments}
    answer = gemini.response("resp-3", "gemini-2.5-flash", [{"parts": [call]}], [], (None,) * 4)
    parts = answer["candidates"][0]["content"]["parts"]
    assert parts == [{"functionCall": {"name": "weather", "args": args}}]


# --- 4. token counts ----------------------------------------------------------------------


def test_gemini_more_thoughts_than_output_sends_no_negative_count() -> None:
    """Output counts the thoughts too; an instrumentation that counts the answer alone
    (or a bad count) contradicts that: the answer's count and a computed total are left
    out, never sent negative; a recorded total is kept."""
    bare = gemini.response(None, "m", [], [], (5, 3, 10, None))
    assert bare["usageMetadata"] == {"promptTokenCount": 5, "thoughtsTokenCount": 10}
    total = gemini.response(None, "m", [], [], (5, 3, 10, 18))["usageMetadata"]
    assert total == {"promptTokenCount": 5, "totalTokenCount": 18, "thoughtsTokenCount": 10}
    usual = gemini.response(None, "m", [], [], (5, 13, 10, None))["usageMetadata"]
    assert usual == {
        "promptTokenCount": 5,
        "candidatesTokenCount": 3,
        "totalTokenCount": 18,
        "thoughtsTokenCount": 10,
    }


def test_the_builders_never_send_a_negative_count() -> None:
    assert gemini.response(None, "m", [], [], (-1, -2, -3, -4))["usageMetadata"] is None
    answer = cohere.response("r1", None, "COMPLETE", (-1, 4))
    assert answer["meta"] == {"billed_units": {"input_tokens": None, "output_tokens": 4}}


ANSWER = messages(("assistant", [text("Arr.")]))
OPENINFERENCE_SPAN = {
    "openinference.span.kind": "LLM",
    "llm.model_name": "a-model",
    "llm.output_messages.0.message.role": "assistant",
    "llm.output_messages.0.message.content": "Arr.",
    "llm.token_count.prompt": -5,
}
COUNTS = {"gen_ai.usage.input_tokens": -5, "gen_ai.usage.output_tokens": 4}
NEGATIVE = [
    pytest.param(
        {
            **GEMINI_SPAN,
            **COUNTS,
            "gen_ai.usage.reasoning.output_tokens": 1,
            "gen_ai.output.messages": ANSWER,
            "gen_ai.response.id": "resp-4",
        },
        {"candidatesTokenCount": 3, "thoughtsTokenCount": 1},
        "gen_ai.usage.input_tokens",
        id="gemini",
    ),
    pytest.param(
        {**COHERE_SPAN, **COUNTS, "gen_ai.output.messages": ANSWER, "gen_ai.response.id": "co-4"},
        {"billed_units": {"input_tokens": None, "output_tokens": 4}},
        "gen_ai.usage.input_tokens",
        id="cohere",
    ),
    pytest.param(
        {**OPENINFERENCE_SPAN, "llm.provider": "google", "llm.token_count.completion": 4},
        {"candidatesTokenCount": 4},
        "llm.token_count.prompt",
        id="openinference-gemini",
    ),
    pytest.param(
        {**OPENINFERENCE_SPAN, "llm.provider": "cohere", "llm.token_count.completion": 4},
        {"tokens": {"input_tokens": None, "output_tokens": 4}},
        "llm.token_count.prompt",
        id="openinference-cohere",
    ),
]


@pytest.mark.parametrize(("attrs", "usage", "bad"), NEGATIVE)
def test_a_negative_count_is_left_out_and_counted_once(
    attrs: dict[str, Any], usage: dict[str, Any], bad: str
) -> None:
    span = record(attrs)
    found = map_span(span)
    assert isinstance(found, Interaction), found
    assert found.bad_attributes == (bad,)
    sent = found.response
    assert isinstance(sent, dict)
    assert sent.get("usageMetadata", sent.get("meta")) == usage
    prepare, counters = preparer()
    assert isinstance(prepare.prepare(span), Prepared)
    assert {k: v for k, v in counters.snapshot().items() if v} == {"bad_attributes": 1}


# --- 5. one payload per call ----------------------------------------------------------------


def openinference_gemini(answer: str) -> dict[str, Any]:
    """OpenInference's span of a streamed call: the messages and counts, no id."""
    return {
        "openinference.span.kind": "LLM",
        "llm.provider": "google",
        "llm.model_name": "gemini-2.5-flash",
        "llm.input_messages.0.message.role": "user",
        "llm.input_messages.0.message.content": "What is ai?",
        "llm.output_messages.0.message.role": "model",
        "llm.output_messages.0.message.content": answer,
        "llm.token_count.prompt": 4,
    }


@pytest.mark.parametrize("official_first", [True, False])
def test_two_instrumentations_of_one_gemini_call_give_one_payload(official_first: bool) -> None:
    """The official span holds the id and the answer in two parts; OpenInference's (no
    id) the answer as one text: the same answer, so one payload."""
    parts = [text("AI is "), text("the study of agents.")]
    official = {
        **GEMINI_SPAN,
        "gen_ai.input.messages": messages(("user", [text("What is ai?")])),
        "gen_ai.output.messages": messages(("assistant", parts)),
        "gen_ai.response.id": "resp-5",
    }
    spans = [
        record(official, span_id=2, parent=1),
        record(openinference_gemini("AI is the study of agents."), 1, scope=OPENINFERENCE),
    ]
    prepare, counters = preparer()
    results = [prepare.prepare(span) for span in (spans if official_first else spans[::-1])]
    assert isinstance(results[0], Prepared)
    assert results[1] == Skipped(Skip.DUPLICATE, "this call was already sent")
    assert counters.snapshot()["skipped_duplicate"] == 1


def test_a_cohere_v2_answer_given_is_the_same_answer_as_its_v1_fields() -> None:
    """``log_chat`` sends a v2 answer as given (``message.content`` parts, ``tool_calls``
    with ``function``); spans give the v1 fields (``text``, ``tool_calls``)."""
    v1 = {"response_id": None, "text": "Arr, matey", "tool_calls": [{"name": "joke"}]}
    content = [{"type": "text", "text": "Arr, "}, {"type": "text", "text": "matey"}]
    calls = [{"id": "t1", "type": "function", "function": {"name": "joke"}}]
    v2 = {"id": None, "message": {"role": "assistant", "content": content, "tool_calls": calls}}
    kind = ("cohere", "chat")
    recent = RecentCalls()
    assert recent.first_time(call_key(kind, v1, None, TRACE, span_id=1))
    assert not recent.first_time(call_key(kind, v2, None, TRACE, span_id=2))
    assert call_key(kind, v1, None, TRACE).answer == call_key(kind, v2, None, TRACE).answer
    other = {"text": "Arr, matey", "tool_calls": [{"name": "riddle"}]}
    assert call_key(kind, other, None, TRACE).answer != call_key(kind, v1, None, TRACE).answer


def texts_key(kind: tuple[str, str], response: dict[str, Any], request: dict[str, Any]) -> Any:
    """The key that joins an answer and its question across traces."""
    return call_key(kind, response, None, TRACE, 3, (0, START_NS, END_NS, "s"), request).texts


def test_the_question_of_a_gemini_or_cohere_call_tells_calls_apart() -> None:
    gemini_kind, answer = (
        ("gemini", "generate"),
        {"candidates": [{"content": {"parts": [{"text": "Yes"}]}}]},
    )
    rest = {"contents": [{"role": "user", "parts": [{"text": "Is it ", "thought": None}]}]}
    rest["contents"][0]["parts"].append({"text": "on?"})
    sdk = {"model": "gemini-2.5-flash", "contents": "Is it on?"}
    turns = {"contents": ["Hi", {"role": "model", "parts": [{"text": "Hello"}]}, "Is it on?"]}
    keys = {texts_key(gemini_kind, answer, asked) for asked in (rest, sdk, turns)}
    assert len(keys) == 1 and None not in keys
    assert texts_key(gemini_kind, answer, {"contents": "Is it off?"}) not in keys
    cohere_kind, said = ("cohere", "chat"), {"text": "Yes"}
    v1 = texts_key(cohere_kind, said, {"message": "Is it on?"})
    v2 = texts_key(cohere_kind, said, {"messages": [{"role": "user", "content": "Is it on?"}]})
    assert v1 == v2 != texts_key(cohere_kind, said, {"message": "Is it off?"})


def recorded(name: str) -> RecordedCall:
    (call,) = recorded_calls(FIXTURES / name)
    return call


@pytest.fixture
def handler(sink: ReconifySink) -> Iterator[ReconifyHandler]:
    made = handler_for(None, sink.url)
    yield made
    made.close(timeout=2)


def test_log_chat_reads_the_gemini_and_cohere_ids(
    sink: ReconifySink, handler: ReconifyHandler
) -> None:
    """Gemini's ``responseId`` (REST) and ``response_id`` (the SDK's dump), Cohere's v1
    ``response_id``: one call logged twice is sent once."""
    from google.genai import types

    call = recorded("google-genai/test_client_spans.yaml")
    rest = call.answer()
    sdk = types.GenerateContentResponse.model_validate(rest)
    asked = {"model": "gemini-2.5-flash", "contents": "What is ai?"}
    assert handler.log_chat(asked, rest, 1_000, 2_000, format="gemini")
    assert handler.log_chat(asked, rest, 1_000, 2_000, format="gemini") is False
    assert handler.log_chat(asked, sdk, 1_000, 2_000, format="gemini") is False
    v1 = recorded("cohere/test_cohere_chat_legacy.yaml")
    assert handler.log_chat(v1.request, v1.answer(), 1_000, 2_000, format="cohere")
    assert handler.log_chat(v1.request, v1.answer(), 1_000, 2_000, format="cohere") is False
    assert handler.flush(5)
    assert [p["reconify"]["format"] for p in sink.payloads] == ["gemini", "cohere"]
    assert handler.stats()["skipped_duplicate"] == 3
