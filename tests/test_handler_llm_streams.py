"""Streamed calls through the handler's wrapped client: logged once, when the stream ends,
as the object the unstreamed call returns; an abandoned stream as far as it was received,
with ``finish_reason`` null; a stream that raised, or gave nothing, sends nothing."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import openai
import pytest
from openai import AsyncOpenAI, OpenAI

from reconify_otel.offline.replay import LlmReplay, RecordedCall
from reconify_otel.offline.sink import ReconifySink

from .handler_llm_helpers import (
    calls_of,
    create_method,
    expected_response,
    handler_for,
    joined_chat,
    make_call,
    synthetic_calls,
)

OPENAI_KEY = "sk-handler-test-provider-key"
STREAMED_CHAT = "openai__test_chat__test_chat_streaming"


def sent_once(
    sink: ReconifySink, calls: list[RecordedCall], app: Any, client_class: Any = OpenAI
) -> tuple[dict[str, Any], dict[str, int]]:
    """Run ``app(client)`` against the replayed ``calls``; the one payload and the counts."""
    with LlmReplay(calls) as replay:
        client = client_class(base_url=replay.base_url, api_key=OPENAI_KEY, max_retries=0)
        handler = handler_for(client, sink.url)
        app(client)
        assert handler.close(timeout=5)
    (payload,) = sink.payloads
    return payload, {k: v for k, v in handler.stats().items() if v}


def test_streamed_tool_calls_are_joined_like_the_unstreamed_completion(
    sink: ReconifySink,
) -> None:
    calls = synthetic_calls("synthetic__chat_stream_tool_calls")
    payload, counts = sent_once(sink, calls, lambda client: make_call(client, calls[0]))
    assert counts == {"accepted": 1}
    assert payload["request"] == calls[0].request
    assert payload["response"] == {
        "id": "chatcmpl-synthetic-stream-tools",
        "object": "chat.completion",
        "created": 1774960001,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_s1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'},
                        }
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 70, "completion_tokens": 12, "total_tokens": 82},
    }


def test_a_streamed_legacy_completion_takes_usage_from_the_final_chunk(
    sink: ReconifySink,
) -> None:
    calls = synthetic_calls("synthetic__completion_stream")
    payload, _ = sent_once(sink, calls, lambda client: make_call(client, calls[0]))
    assert payload["reconify"]["type"] == "completion"
    assert payload["response"] == {
        "id": "cmpl-synthetic-stream",
        "object": "text_completion",
        "created": 1774960200,
        "model": "gpt-3.5-turbo-instruct",
        "choices": [{"index": 0, "text": "Hi there", "finish_reason": "length"}],
        "usage": {"prompt_tokens": 2, "completion_tokens": 2, "total_tokens": 4},
    }


def test_a_streamed_responses_call_is_its_completed_response_in_the_chat_shape(
    sink: ReconifySink,
) -> None:
    calls = synthetic_calls("synthetic__responses_stream_history")
    payload, _ = sent_once(sink, calls, lambda client: make_call(client, calls[0]))
    assert payload["request"]["messages"] == [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "What's the weather in London?"},
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "call_w1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"location":"London"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_w1", "content": "Rainy, 12C"},
    ]
    assert payload["response"] == {
        "id": "resp_synthetic_stream_1",
        "object": "chat.completion",
        "created": 1774960100,
        "model": "gpt-4.1-nano-2025-04-14",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Rainy, 12C."},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 40, "completion_tokens": 5, "total_tokens": 45},
    }
    # previous_response_id changes every turn: it is no session.
    assert payload["session"] is None


def _partial_chat(call: RecordedCall, received: int) -> dict[str, Any]:
    joined = joined_chat(call, received)
    return {
        "id": joined["id"],
        "object": "chat.completion",
        "created": joined["created"],
        "model": joined["model"],
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": joined["choices"][0]["message"]["content"],
                },
                "finish_reason": None,
            }
        ],
        "usage": None,
    }


def test_a_stream_left_in_its_with_block_sends_what_was_received(sink: ReconifySink) -> None:
    calls = calls_of(STREAMED_CHAT)

    def app(client: OpenAI) -> None:
        with create_method(client, calls[0])(**calls[0].request) as stream:
            for number, _ in enumerate(stream, 1):
                if number == 5:
                    break

    payload, counts = sent_once(sink, calls, app)
    assert counts == {"accepted": 1}
    assert payload["response"] == _partial_chat(calls[0], 5)
    assert payload["response"]["choices"][0]["message"]["content"] == "In the observability"


def test_a_stream_dropped_half_way_is_sent_when_collected(sink: ReconifySink) -> None:
    calls = calls_of(STREAMED_CHAT)

    def app(client: OpenAI) -> None:
        stream = create_method(client, calls[0])(**calls[0].request)
        for _ in range(3):
            next(stream)
        del stream
        gc.collect()

    payload, _ = sent_once(sink, calls, app)
    assert payload["response"] == _partial_chat(calls[0], 3)


def test_an_async_stream_closed_half_way_sends_what_was_received(sink: ReconifySink) -> None:
    calls = synthetic_calls("synthetic__responses_stream_history")

    async def consume(client: AsyncOpenAI) -> None:
        stream = await client.responses.create(**calls[0].request)
        received = []
        async for event in stream:
            received.append(event.type)
            if len(received) == 3:
                break
        assert received[-1] == "response.output_text.delta"
        await stream.close()

    payload, _ = sent_once(sink, calls, lambda client: asyncio.run(consume(client)), AsyncOpenAI)
    (choice,) = payload["response"]["choices"]
    assert choice == {
        "index": 0,
        "message": {"role": "assistant", "content": "Rainy, "},
        "finish_reason": None,
    }
    assert (payload["response"]["id"], payload["response"]["usage"]) == (
        "resp_synthetic_stream_1",
        None,
    )


def test_a_stream_closed_before_its_first_chunk_sends_nothing_and_is_counted(
    sink: ReconifySink,
) -> None:
    calls = calls_of(STREAMED_CHAT)
    with LlmReplay(calls) as replay:
        client = OpenAI(base_url=replay.base_url, api_key=OPENAI_KEY)
        handler = handler_for(client, sink.url)
        create_method(client, calls[0])(**calls[0].request).close()
        assert handler.close(timeout=5)
    assert sink.attempts == 0
    assert {k: v for k, v in handler.stats().items() if v} == {"skipped_no_answer": 1}


def test_a_stream_that_raised_sends_nothing(sink: ReconifySink) -> None:
    (recorded,) = calls_of(STREAMED_CHAT)
    head = recorded.body.split(b"\n\n")[:4]
    error = b'data: {"error": {"message": "the server had an error", "type": "server_error"}}'
    broken = RecordedCall(**{**vars(recorded), "body": b"\n\n".join([*head, error, b""])})
    with LlmReplay([broken]) as replay:
        client = OpenAI(base_url=replay.base_url, api_key=OPENAI_KEY)
        handler = handler_for(client, sink.url)
        with pytest.raises(openai.APIError, match="the server had an error"):
            make_call(client, broken)
        gc.collect()
        assert handler.close(timeout=5)
    assert sink.attempts == 0
    assert {k: v for k, v in handler.stats().items() if v} == {}


def test_the_sdk_stream_helper_is_logged_once_as_its_completion(sink: ReconifySink) -> None:
    calls = calls_of(STREAMED_CHAT)
    unstreamed = {k: v for k, v in calls[0].request.items() if k != "stream"}

    def app(client: OpenAI) -> None:
        with client.chat.completions.stream(**unstreamed) as stream:
            for _ in stream:
                pass

    payload, counts = sent_once(sink, calls, app)
    assert counts == {"accepted": 1}
    assert payload["request"] == calls[0].request  # the helper asks with stream=True
    assert payload["response"] == expected_response(calls[0])
