"""The pure mapping, fed real SDK spans carrying each attribute generation."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reconify_otel.core import attributes as A
from reconify_otel.core.assistant import is_assistant_run
from reconify_otel.core.conventions import Kind
from reconify_otel.core.interaction import ENVELOPE, Interaction
from reconify_otel.core.mapping import map_span
from reconify_otel.core.payload import Defaults, Payload, Skip, Skipped
from reconify_otel.exporter.sdk_record import from_sdk

from .helpers import CURRENT, OWN, USER_MESSAGE, make_span, parts


def mapped(name: str, attributes: dict[str, Any], defaults: Defaults | None = None) -> Payload:
    span = make_span(name, attributes)
    assert is_assistant_run(span.name, span.attributes or {})
    result = map_span(from_sdk(span), defaults or Defaults())
    assert isinstance(result, Interaction), result
    return result.to_json()


def texts(message: dict[str, Any]) -> list[str]:
    return [block["text"]["value"] for block in message["content"]]


def test_current_upstream_run_takes_last_user_and_last_answer() -> None:
    payload = mapped("openai.assistant.run", CURRENT)
    assert payload["reconify"] == {"format": "openai", "type": "assistant", "version": "3.1.0"}
    assert payload["timestamps"] == {"request": 1_774_963_843_123, "response": 1_774_963_856_987}
    request, response = payload["request"], payload["response"]
    assert texts(request) == ["I need to solve the equation `3x + 11 = 14`. Can you help me?"]
    assert request["role"] == "user" and request["object"] == "thread.message"
    assert request["model"] == "gpt-4o-mini"
    assert request["id"] is None and request["created_at"] is None  # never invented
    assert texts(response) == ["x = 1"]
    assert response["id"] == "msg_HK3aVWLIOnojFNHPtnCPaIRI"
    assert response["role"] == "assistant"
    assert response["usage"] == {"prompt_tokens": 381, "completion_tokens": 88, "total_tokens": 469}
    assert payload["session"] is None and payload["user"] == {}
    assert payload["sessionTimeout"] is None


def test_current_upstream_stream_keeps_every_text_in_order() -> None:
    attrs = {
        "gen_ai.output.messages": json.dumps(
            [parts("assistant", "part one"), parts("assistant", "part two", "part three")]
        ),
        "gen_ai.response.0.id": "msg_a",
        "gen_ai.response.1.id": "msg_b",
        "gen_ai.usage.input_tokens": 10,
        "gen_ai.usage.output_tokens": 5,
    }
    payload = mapped("openai.assistant.run_stream", attrs)
    assert texts(payload["response"]) == ["part one", "part two", "part three"]
    assert payload["response"]["id"] == "msg_b"
    assert payload["request"]["content"] == []  # run_stream never carries the user message
    assert payload["response"]["usage"]["total_tokens"] == 15


@pytest.mark.parametrize(
    ("prefix_in", "prefix_out", "usage"),
    [
        ("gen_ai.prompt", "gen_ai.completion", {}),  # 0.17-0.33
        (
            "gen_ai.prompt",
            "gen_ai.completion",
            {"gen_ai.usage.prompt_tokens": 7, "gen_ai.usage.completion_tokens": 3},
        ),  # 0.34-0.47
        (
            "gen_ai.prompt",
            "gen_ai.completion",
            {"gen_ai.usage.input_tokens": 7, "gen_ai.usage.output_tokens": 3},
        ),  # 0.48-0.54
    ],
)
def test_indexed_generations(prefix_in: str, prefix_out: str, usage: dict[str, int]) -> None:
    attrs: dict[str, Any] = {
        "gen_ai.request.model": "gpt-4o",
        f"{prefix_in}.0.role": "system",
        f"{prefix_in}.0.content": "instructions",
        f"{prefix_in}.1.role": "user",
        f"{prefix_in}.1.content": "old question",
        f"{prefix_in}.2.role": "user",
        f"{prefix_in}.2.content": "new question",
        f"{prefix_out}.0.role": "assistant",
        f"{prefix_out}.0.content": "old answer",
        f"{prefix_out}.1.role": "assistant",
        f"{prefix_out}.1.content": "new answer",
        "gen_ai.response.1.id": "msg_new",
        **usage,
    }
    payload = mapped("openai.assistant.run", attrs)
    assert texts(payload["request"]) == ["new question"]
    assert payload["request"]["model"] == "gpt-4o"
    assert texts(payload["response"]) == ["new answer"]
    assert payload["response"]["id"] == "msg_new"
    expected = {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10} if usage else None
    assert payload["response"]["usage"] == expected


def test_oldest_generation_lists_user_messages_among_completions() -> None:
    # 0.15-0.16: llm.* names, user messages also appear as completions, no usage.
    attrs = {
        "llm.request.type": "chat",
        "llm.request.model": "gpt-3.5-turbo",
        "llm.prompts.0.role": "system",
        "llm.prompts.0.content": "instructions",
        "llm.completions.0.role": "user",
        "llm.completions.0.content": "what is 2+2?",
        "llm.completions.1.role": "assistant",
        "llm.completions.1.content": "4",
    }
    payload = mapped("openai.assistant.run", attrs)
    assert texts(payload["request"]) == ["what is 2+2?"]
    assert texts(payload["response"]) == ["4"]
    assert payload["request"]["model"] == "gpt-3.5-turbo"
    assert payload["response"]["id"] is None and payload["response"]["usage"] is None


def test_content_as_events_still_sends_ids_and_usage() -> None:
    attrs = {
        "gen_ai.response.0.id": "msg_x",
        "gen_ai.usage.input_tokens": 1,
        "gen_ai.usage.output_tokens": 2,
    }
    payload = mapped("openai.assistant.run", attrs)
    assert payload["response"]["id"] == "msg_x" and payload["response"]["content"] == []
    assert payload["response"]["usage"]["total_tokens"] == 3


def test_own_contract_rebuilds_the_messages_exactly() -> None:
    payload = mapped("invoke_agent Math Tutor", OWN)
    assert payload["session"] == "thread_erGl66dVoAO1EY2Mp3lvn9JB"
    assert payload["request"] == {
        **USER_MESSAGE,
        "assistant_id": "asst_Leo2sRC1zfL8826tvsgfhKJ4",  # filled from the run, as Node does
        "model": "gpt-4o-mini",
    }
    response = payload["response"]
    assert response["id"] == "msg_2" and response["created_at"] == 1774963856
    assert texts(response) == ["first", "second"]
    assert response["usage"] == {"prompt_tokens": 381, "completion_tokens": 88, "total_tokens": 469}


def test_defaults_give_the_session_timeout_and_the_thread_stays_the_session() -> None:
    payload = mapped("invoke_agent Math Tutor", OWN, Defaults(session_timeout=15))
    assert payload["session"] == "thread_erGl66dVoAO1EY2Mp3lvn9JB"
    assert payload["sessionTimeout"] == 15
    assert payload["user"] == {}


def test_error_runs_are_skipped() -> None:
    span = make_span("openai.assistant.run", {"error.type": "APIConnectionError"}, error=True)
    result = map_span(from_sdk(span))
    assert result == Skipped(Skip.ERROR_RUN, "APIConnectionError")


def test_no_answer_is_skipped() -> None:
    span = make_span("openai.assistant.run", {"gen_ai.input.messages": "[]"})
    expected = Skipped(Skip.NO_ANSWER, "the span holds no assistant message")
    assert map_span(from_sdk(span)) == expected


def test_bad_json_is_named_and_mapped_around() -> None:
    attrs = dict(OWN, **{A.REQUEST_MESSAGE: "{not json", A.INPUT_MESSAGES: "[1, 2"})
    result = map_span(from_sdk(make_span("invoke_agent x", attrs)))
    assert isinstance(result, Interaction)
    assert result.bad_attributes == (A.REQUEST_MESSAGE, A.INPUT_MESSAGES)
    assert result.to_json()["request"]["content"] == []
    assert texts(result.to_json()["response"]) == ["first", "second"]


@pytest.mark.parametrize(
    ("name", "attributes", "selected"),
    [
        ("openai.assistant.run", {}, True),
        ("openai.assistant.run_stream", {}, True),
        ("invoke_agent Math Tutor", {A.RUN_ID: "run_1"}, True),
        ("invoke_agent Other", {}, False),  # an agent span that is not an Assistants run
        ("openai.chat", {"gen_ai.provider.name": "openai"}, False),
        ("GET /users", {"http.method": "GET"}, False),
    ],
)
def test_selection(name: str, attributes: dict[str, Any], selected: bool) -> None:
    assert is_assistant_run(name, attributes) is selected


def test_the_interaction_is_typed_and_its_json_is_built_in_one_place() -> None:
    result = map_span(from_sdk(make_span("invoke_agent Math Tutor", OWN)))
    assert isinstance(result, Interaction)
    assert (result.kind, result.format, result.type) == (Kind.ASSISTANT, "openai", "assistant")
    payload = result.to_json()
    assert list(payload) == [*ENVELOPE, "request", "response"]
    assert result.with_json(payload) == result  # what a redact hook returns unchanged
    changed = dict(payload, user={"userId": "anonymous"}, note="kept, after the rest")
    read_back = result.with_json(changed)
    assert read_back is not None and read_back.to_json() == changed
    assert (read_back.kind, read_back.call_key) == (result.kind, result.call_key)
    assert result.with_json({"request": {}}) is None  # no ``reconify`` object: no payload
