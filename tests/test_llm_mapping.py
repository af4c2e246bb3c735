"""The pure LLM-call mapping (``reconify_otel.core.llm``) against spans captured from real
instrumentations (``tests/fixtures/llm_spans``) replaying real recordings
(``reconify_otel.offline.LLM_RECORDINGS``): every mapped value must equal what was sent or
answered.

The expected values are computed from the recordings alone (``llm_recordings``), never
from the mapping; ``llm_expectations.check_call`` compares, and what a convention does not
record (its ``LACKS``) must come out ``None``/absent, never invented.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconify_otel.core.conventions import Kind
from reconify_otel.core.interaction import FORMATS
from reconify_otel.core.llm import LlmCall, is_llm_call, map_llm_call

from .llm_expectations import check_call
from .llm_recordings import SPANS, exchanges, expected_response


def _span_files() -> list[Path]:
    return sorted(SPANS.glob("*/*/*.json"))


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def _ids(path: Path) -> str:
    return f"{path.parts[-3]}/{path.parts[-2]}/{path.stem}"


@pytest.mark.parametrize("path", _span_files(), ids=_ids)
def test_every_captured_span_maps_to_the_recorded_values(path: Path) -> None:
    span = _load(path)
    tag, cassette = path.parts[-3], path.parts[-2]
    exchange = exchanges(cassette)[span["call_index"]]

    assert is_llm_call(span["name"], span["attributes"])
    call = map_llm_call(span["name"], span["attributes"])
    assert isinstance(call, LlmCall), call
    assert call.bad_attributes == ()
    content = not tag.endswith("-nocontent")
    kind = FORMATS[call.kind]
    check_call(call.request, call.response, call.response_id, kind, tag, content, exchange)


# --- exact payloads for representative spans ------------------------------------------------


def _map(tag: str, cassette: str, n: int = 0) -> LlmCall:
    span = _load(SPANS / tag / cassette / f"{n}.json")
    call = map_llm_call(span["name"], span["attributes"])
    assert isinstance(call, LlmCall), call
    return call


def test_traceloop_chat_is_the_recorded_completion_less_created() -> None:
    call = _map("traceloop-openai-0.62.4", "openai__test_chat__test_chat", 1)
    assert call.request == {
        "model": "gpt-3.5-turbo",
        "messages": [{"role": "user", "content": "Tell me a joke about opentelemetry"}],
    }
    assert call.response == {
        "id": "chatcmpl-DPTBnLVEU6gLtntz301fthMFXeE4C",
        "object": "chat.completion",
        "created": None,
        "model": "gpt-3.5-turbo-0125",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Why did the Opentelemetry developer go broke?\n\nBecause every "
                    "time they tried to trace their expenses, they ended up with a 500 Internal "
                    "Server Error!",
                },
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 15, "completion_tokens": 31, "total_tokens": 46},
    }
    assert (call.kind, FORMATS[call.kind], call.response_id) == (
        Kind.CHAT,
        ("openai", "chat"),
        "chatcmpl-DPTBnLVEU6gLtntz301fthMFXeE4C",
    )


def test_openinference_chat_is_the_recorded_request_and_completion() -> None:
    call = _map("openinference-openai-0.1.66", "openai__test_chat__test_chat", 1)
    recorded = exchanges("openai__test_chat__test_chat")[1]
    assert call.request == recorded["request"]
    assert call.response == expected_response("/v1/chat/completions", recorded["answer"])
    assert call.response["created"] == 1774962775


def test_tool_history_keeps_calls_and_results_as_sent() -> None:
    sent = exchanges("openai__test_chat__test_chat_tool_calls")[0]["request"]["messages"]
    for tag in ("traceloop-openai-0.62.4", "traceloop-openai-0.54.0", "openai-v2-2.4b0"):
        messages = _map(tag, "openai__test_chat__test_chat_tool_calls").request["messages"]
        assert messages[1] == sent[1]
        assert messages[0]["role"] == "assistant" and "content" not in messages[0]
        (call,) = messages[0]["tool_calls"]
        assert call["id"] == "1" and call["function"]["name"] == "get_current_weather"
        # 0.54 keeps the arguments text; the others parsed it (same value, compact spacing).
        assert json.loads(call["function"]["arguments"]) == {"location": "San Francisco"}
    old = _map("traceloop-openai-0.54.0", "openai__test_chat__test_chat_tool_calls")
    assert old.request["messages"] == sent


def test_image_parts_and_parameters_are_kept() -> None:
    sent = exchanges("synthetic__chat_params_image_tool_answer")[0]["request"]
    for tag in ("traceloop-openai-0.62.4", "traceloop-openai-0.54.0"):
        call = _map(tag, "synthetic__chat_params_image_tool_answer")
        assert call.request["messages"] == sent["messages"]
        assert call.request["tools"] == sent["tools"]
        assert {k: call.request[k] for k in ("temperature", "top_p", "max_tokens", "user")} == {
            "temperature": 0.2,
            "top_p": 0.9,
            "max_tokens": 100,
            "user": "user-42",
        }
    official = _map("openai-v2-2.4b0", "synthetic__chat_params_image_tool_answer")
    assert official.request["seed"] == 7  # only the official instrumentation records it
    assert official.request["messages"][1] == {"role": "user", "content": None}  # parts dropped


def test_responses_tool_calls_in_the_chat_shape() -> None:
    cassette = "openai__test_responses__test_responses_tool_calls"
    recorded = exchanges(cassette)[1]
    call = _map("openinference-openai-0.1.66", cassette, 1)
    assert call.request == {
        "model": "gpt-4.1-nano",
        "messages": [{"role": "user", "content": "What's the weather in London?"}],
        "tool_choice": "auto",
        "tools": recorded["request"]["tools"],
    }
    args = '{"location":"London"}'
    assert call.response == {
        "id": "resp_0f241063cf6416c80069cbcbe19f8c8199b8295e95a345f359",
        "object": "chat.completion",
        "created": 1774963681,
        "model": "gpt-4.1-nano-2025-04-14",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_grggfsR0ccRoMcXy17gsju6I",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": args},
                        },
                        {
                            "id": "call_jQ4vl5MZL0h55SoqPmlfYYyd",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": args},
                        },
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 59, "completion_tokens": 45, "total_tokens": 104},
    }
    traceloop = _map("traceloop-openai-0.62.4", cassette, 1)
    calls = traceloop.response["choices"][0]["message"]["tool_calls"]
    # traceloop records the output items' own ids (fc_...), not their call_id.
    assert [c["id"] for c in calls] == [
        "fc_0f241063cf6416c80069cbcbe2b80c8199badf459b4b519011",
        "fc_0f241063cf6416c80069cbcbe2b8188199b9f8e8b2bcebef5b",
    ]
    assert traceloop.request["tools"] == recorded["request"]["tools"]
    assert "tool_choice" not in traceloop.request  # not recorded by traceloop


def test_responses_conversation_names_the_session_and_previous_response_does_not() -> None:
    conversation = _map("openinference-openai-0.1.66", "synthetic__responses_conversation_items")
    assert conversation.conversation_id == "conv_synthetic_1"
    hidden = _map(
        "openinference-openai-0.1.66-nocontent", "synthetic__responses_conversation_items"
    )
    assert hidden.conversation_id == "conv_synthetic_1"  # from llm.invocation_parameters
    previous = _map("openinference-openai-0.1.66", "synthetic__responses_stream_history")
    # previous_response_id changes every turn: as a session it would split the conversation.
    assert previous.request.get("previous_response_id") == "resp_previous_0001"
    assert previous.conversation_id is None
    assert (
        _map("traceloop-openai-0.62.4", "synthetic__responses_stream_history").conversation_id
        is None
    )
    assert _map("traceloop-openai-0.62.4", "openai__test_chat__test_chat").conversation_id is None


def test_anthropic_system_tool_result_and_image_as_sent() -> None:
    sent = exchanges("synthetic__anthropic_system_tool_result_image")[0]["request"]
    for tag in (
        "traceloop-anthropic-0.62.4",
        "traceloop-anthropic-0.53.4",
        "openinference-anthropic-3.1.0",
    ):
        call = _map(tag, "synthetic__anthropic_system_tool_result_image")
        assert call.request["system"] == "You are terse."
        assert call.request["messages"] == sent["messages"]
        assert call.request["tools"] == sent["tools"]
        assert call.response["stop_reason"] == "end_turn"
    # traceloop records neither stop_sequences nor metadata; OpenInference sends the body.
    assert (
        "stop_sequences"
        not in _map(
            "traceloop-anthropic-0.62.4", "synthetic__anthropic_system_tool_result_image"
        ).request
    )


def test_anthropic_stop_reasons_read_back_from_the_enum() -> None:
    attrs = {
        "gen_ai.response.id": "msg_1",
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.request.stop_sequences": ("END",),
    }
    call = map_llm_call("anthropic.chat", attrs)
    assert isinstance(call, LlmCall)
    assert call.response["stop_reason"] is None  # end_turn or stop_sequence: not known
    for recorded, stop in (
        ("length", "max_tokens"),
        ("tool_call", "tool_use"),
        ("refusal", "refusal"),
    ):
        attrs = {"gen_ai.response.id": "msg_1", "gen_ai.response.finish_reasons": (recorded,)}
        call = map_llm_call("anthropic.chat", attrs)
        assert isinstance(call, LlmCall) and call.response["stop_reason"] == stop


def test_anthropic_usage_excludes_cache_tokens_the_conventions_add() -> None:
    attrs = {
        "gen_ai.response.id": "msg_1",
        "gen_ai.usage.input_tokens": 1100,
        "gen_ai.usage.cache_read.input_tokens": 1000,
        "gen_ai.usage.cache_creation.input_tokens": 50,
        "gen_ai.usage.output_tokens": 7,
    }
    call = map_llm_call("anthropic.chat", attrs)
    assert isinstance(call, LlmCall)
    assert call.response["usage"] == {"input_tokens": 50, "output_tokens": 7}


def test_streams_look_like_the_unstreamed_object() -> None:
    for tag in ("traceloop-openai-0.62.4", "openai-v2-2.4b0", "openinference-openai-0.1.66"):
        call = _map(tag, "synthetic__chat_stream_tool_calls")
        (choice,) = call.response["choices"]
        assert call.response["object"] == "chat.completion"
        assert choice["message"]["content"] is None  # no empty text left behind
        assert choice["message"]["tool_calls"] == [
            {
                "id": "call_s1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'},
            }
        ]
        assert choice["finish_reason"] == "tool_calls"
