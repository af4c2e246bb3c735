"""Adversarial probes of the Bedrock mapping, second part: the dedup rules and the values
sent (tool history, JSON prompts, LiteLLM's spans, a body given as bytes). Each test is a
defect the probes found, fixed since."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reconify_otel.core.dedup import RecentCalls, call_key
from reconify_otel.core.llm.events import GenAiEvent
from reconify_otel.offline.sink import ReconifySink

from .handler_llm_helpers import handler_for
from .test_adversarial_bedrock import (
    BOTOCORE,
    OI_BEDROCK,
    OI_LITELLM,
    TRACE,
    botocore_attributes,
    prepared,
    span,
)

# --- 6. dedup --------------------------------------------------------------------------

BEDROCK_KIND = ("bedrock", "chat")


def _converse(question: str) -> dict[str, Any]:
    return {
        "modelId": "meta.llama3",
        "messages": [{"role": "user", "content": [{"text": question}]}],
    }


def _answer(text: str, request_id: str | None = None) -> dict[str, Any]:
    message = {"role": "assistant", "content": [{"text": text}]}
    return {"requestId": request_id, "body": {"output": {"message": message}}}


def test_two_concurrent_identical_calls_under_two_instrumentations_are_two_calls() -> None:
    recent = RecentCalls()
    question = _converse("Is the store open on Sunday?")

    def first(trace: int, span_id: int, window: tuple[int, int], scope: str, rid: Any) -> bool:
        recorded = (0, *window, scope)
        key = call_key(BEDROCK_KIND, _answer("Yes", rid), None, trace, span_id, recorded, question)
        return recent.first_time(key)

    # Call 1 (0.11 s to 0.89 s) and call 2 (0.51 s to 1.29 s), each in botocore's trace and
    # OpenInference's; botocore's span ends first and is sent, OpenInference's around it
    # is that call.
    assert first(0xB1, 1, (110, 890), BOTOCORE, "r-1")
    assert not first(0xA1, 2, (100, 900), OI_BEDROCK, None)
    assert first(0xB2, 3, (510, 1290), BOTOCORE, "r-2"), "call 2 taken for call 1"


def test_a_parent_with_its_own_response_id_is_another_call() -> None:
    recent = RecentCalls()
    kind = ("openai", "chat")
    empty = {"choices": [{"message": {"content": None}}]}
    child = call_key(kind, empty, "chatcmpl-B", TRACE, 2, (1, 10, 20, "openai_v2"))
    parent = call_key(
        kind, {"id": "chatcmpl-A", **empty}, "chatcmpl-A", TRACE, 1, (0, 0, 90, "litellm")
    )
    assert recent.first_time(child)
    assert recent.first_time(parent)


# --- 7. values -------------------------------------------------------------------------


def test_botocore_tool_history_is_sent_once_in_converse_form() -> None:
    bedrock_utils = pytest.importorskip(
        "opentelemetry.instrumentation.botocore.extensions.bedrock_utils"
    )
    history = [
        {"role": "user", "content": [{"text": "Weather in Paris and Rome?"}]},
        {
            "role": "assistant",
            "content": [
                {"toolUse": {"toolUseId": "tu1", "name": "weather", "input": {"city": "Paris"}}},
                {"toolUse": {"toolUseId": "tu2", "name": "weather", "input": {"city": "Rome"}}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"toolResult": {"toolUseId": "tu1", "content": [{"json": {"t": 20}}]}},
                {"toolResult": {"toolUseId": "tu2", "content": [{"text": "25C"}]}},
            ],
        },
    ]
    events = [
        GenAiEvent(record.event_name, record.body, dict(record.attributes or {}))
        for message in history
        for record in bedrock_utils.message_to_event(message, True)
    ]
    answer = {"output": {"message": {"role": "assistant", "content": [{"text": "20, 25"}]}}}
    choice = bedrock_utils._Choice.from_converse({**answer, "stopReason": "end_turn"}, True)
    choice_record = choice.to_choice_event()
    events.append(GenAiEvent(choice_record.event_name, choice_record.body, {}))
    messages = prepared(span(botocore_attributes()), events).payload["request"]["messages"]
    assert messages == history


def test_a_json_prompt_is_not_taken_for_the_body_sent() -> None:
    attributes = {
        "openinference.span.kind": "LLM",
        "llm.provider": "aws",
        "llm.system": "amazon",
        "llm.model_name": "amazon.titan-text-express-v1",
        "input.value": json.dumps({"task": "classify", "text": "The parcel came late"}),
        "llm.invocation_parameters": json.dumps({"textGenerationConfig": {"maxTokenCount": 9}}),
        "output.value": "negative",
        "llm.token_count.prompt": 12,
        "llm.token_count.completion": 1,
        "llm.finish_reason": "FINISH",
    }
    record = span(attributes, name="bedrock.invoke_model", scope=OI_BEDROCK)
    response = prepared(record).payload["response"]
    assert response["body"] is not None
    assert response["body"]["output"]["message"]["content"] == [{"text": "negative"}]


def test_an_openinference_litellm_bedrock_span_is_not_sent_as_an_invoke_model_body() -> None:
    answer = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "choices": [
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "4"}}
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
    }
    attributes = {
        "openinference.span.kind": "LLM",
        "llm.provider": "aws",
        "llm.model_name": "bedrock/anthropic.claude-3-haiku-20240307-v1:0",
        "input.value": json.dumps({"messages": [{"role": "user", "content": "What is 2+2?"}]}),
        "llm.input_messages.0.message.role": "user",
        "llm.input_messages.0.message.content": "What is 2+2?",
        "output.value": json.dumps(answer),
        "llm.output_messages.0.message.role": "assistant",
        "llm.output_messages.0.message.content": "4",
        "llm.token_count.prompt": 5,
        "llm.token_count.completion": 1,
    }
    payload = prepared(span(attributes, name="completion", scope=OI_LITELLM)).payload
    body = payload["response"]["body"]
    assert body.get("object") != "chat.completion"
    assert payload["request"].get("messages") == [
        {"role": "user", "content": [{"text": "What is 2+2?"}]}
    ]


def test_log_chat_bedrock_keeps_a_body_given_as_bytes(sink: ReconifySink) -> None:
    body = json.dumps({"prompt": "Hi", "max_gen_len": 20})
    request = {"modelId": "meta.llama3-8b-instruct-v1:0", "body": body.encode()}
    response = {"requestId": "req-bytes", "body": {"generation": "Hello", "stop_reason": "stop"}}
    handler = handler_for(None, sink.url)
    assert handler.log_chat(request, response, 1_000, 2_000, format="bedrock")
    assert handler.close(5)
    (payload,) = sink.payloads
    assert payload["request"]["body"] == body
