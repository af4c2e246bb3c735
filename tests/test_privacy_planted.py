"""E-mail addresses and phone numbers planted in every place a text can sit, in the four
LLM call types (chat, completion, Responses, Anthropic) under every instrumentation that
covers them, and in an assistant run: the real openai/anthropic SDK calls a loopback
replay, the real OTel SDK exports to three exporters at once (as is, content off, PII
masked), and the whole text each sink received is searched for every planted string.

With content as is, the plants arrive (so the search means something); with
``capture_content=False`` or ``mask_pii=True`` none does, while ids, model, usage,
finish reasons and tool names arrive exactly as with content.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from reconify_otel_testing.assistants_api import SimulatedAssistantsAPI

from reconify_otel import ReconifySpanExporter
from reconify_otel.instrumentation import AssistantsInstrumentor
from reconify_otel.offline.replay import LlmReplay, RecordedCall
from reconify_otel.offline.sink import ReconifySink

from .assistants_helpers import client_for
from .helpers import API_KEY, APP_KEY, sdk_restored
from .llm_replay import CONVENTIONS, all_calls, instrumented, make_calls
from .privacy_checks import check_content_off, text_of

PLANTS: dict[str, str] = {}  # where -> the planted string
_numbers = itertools.count(1)


def mail(where: str) -> str:
    PLANTS[where] = f"{where.replace('.', '-')}@example.com"
    return PLANTS[where]


def phone(where: str) -> str:
    PLANTS[where] = f"+44 20 7946 {next(_numbers):04d}"
    return PLANTS[where]


def _tool(flat: bool, schema_key: str, prefix: str) -> dict[str, Any]:
    schema = {
        "type": "object",
        "properties": {"to": {"type": "string", "default": phone(f"{prefix}.tool-default")}},
    }
    tool = {"name": "lookup", "description": mail(f"{prefix}.tool-description"), schema_key: schema}
    return tool if flat else {"type": "function", "function": tool}


def _with(call: RecordedCall, request: dict[str, Any], answer: dict[str, Any]) -> RecordedCall:
    body = json.dumps(answer).encode()
    return replace(call, request=request, body=body, content_type="application/json")


def _image(where: str) -> str:
    return f"https://img.example.com/{mail(where)}.png"


def planted_calls() -> list[RecordedCall]:
    base = {c.cassette.rsplit("__", 1)[1]: c for c in all_calls() if c.index == 0}
    chat = {
        "model": "gpt-3.5-turbo",
        "messages": [
            {"role": "system", "content": mail("chat.system")},
            {
                "role": "user",
                "name": mail("chat.participant-name"),
                "content": [
                    {"type": "text", "text": phone("chat.text")},
                    {"type": "image_url", "image_url": {"url": _image("chat.image")}},
                ],
            },
        ],
        "user": mail("chat.user"),
        "metadata": {"contact": phone("chat.metadata"), mail("chat.metadata-key"): "x"},
        "stop": [mail("chat.stop")],
        "response_format": {
            "type": "json_schema",
            "json_schema": {
                "name": "answer",
                "description": mail("chat.format-description"),
                "schema": {"type": "object", "description": phone("chat.schema-description")},
            },
        },
        "tools": [_tool(False, "parameters", "chat")],
    }
    chat_answer = {
        "id": "chatcmpl-pii1",
        "object": "chat.completion",
        "created": 1719875141,
        "model": "gpt-3.5-turbo-0125",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": mail("chat.answer"),
                    "tool_calls": [
                        {
                            "id": "call_pii1",
                            "type": "function",
                            "function": {
                                "name": "lookup",
                                "arguments": json.dumps({"to": phone("chat.answer-arguments")}),
                            },
                        }
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 40, "completion_tokens": 12, "total_tokens": 52},
    }
    completion = {
        "model": "davinci-002",
        "prompt": mail("completion.prompt"),
        "suffix": mail("completion.suffix"),
        "user": phone("completion.user"),
        "stop": [mail("completion.stop")],
    }
    completion_answer = {
        "id": "cmpl-pii1",
        "object": "text_completion",
        "created": 1709033850,
        "model": "davinci-002",
        "choices": [{"text": mail("completion.answer"), "index": 0, "finish_reason": "length"}],
        "usage": {"prompt_tokens": 8, "completion_tokens": 16, "total_tokens": 24},
    }
    responses = {
        "model": "gpt-4.1-nano",
        "instructions": mail("responses.instructions"),
        "user": mail("responses.user"),
        "metadata": {"contact": phone("responses.metadata")},
        "input": [
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": phone("responses.text")},
                    {"type": "input_image", "image_url": _image("responses.image")},
                    {
                        "type": "input_file",
                        "filename": f"{mail('responses.filename')}.pdf",
                        "file_data": "data:application/pdf;base64,JVBERi0=",
                    },
                ],
            }
        ],
        "tools": [dict(_tool(True, "parameters", "responses"), type="function")],
    }
    responses_answer = dict(
        json.loads(base["test_responses_tool_calls"].body),
        id="resp_pii1",
        tools=[],
        output=[
            {
                "id": "msg_pii1",
                "type": "message",
                "status": "completed",
                "role": "assistant",
                "content": [
                    {"type": "output_text", "text": mail("responses.answer"), "annotations": []}
                ],
            },
            {
                "id": "fc_pii1",
                "type": "function_call",
                "status": "completed",
                "arguments": json.dumps({"to": phone("responses.answer-arguments")}),
                "call_id": "call_pii2",
                "name": "lookup",
            },
        ],
    )
    anthropic = {
        "model": "claude-3-5-sonnet-20240620",
        "max_tokens": 1024,
        "system": mail("anthropic.system"),
        "metadata": {"user_id": mail("anthropic.user-id")},
        "stop_sequences": [phone("anthropic.stop")],
        "tools": [_tool(True, "input_schema", "anthropic")],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": phone("anthropic.text")},
                    {
                        "type": "document",
                        "title": phone("anthropic.document-title"),
                        "source": {
                            "type": "text",
                            "media_type": "text/plain",
                            "data": mail("anthropic.document"),
                        },
                    },
                    {"type": "image", "source": {"type": "url", "url": _image("anthropic.image")}},
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "tool_use",
                        "id": "toolu_pii0",
                        "name": "lookup",
                        "input": {"to": mail("anthropic.tool-use-input")},
                    }
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_pii0",
                        "content": phone("anthropic.tool-result"),
                    }
                ],
            },
        ],
    }
    anthropic_answer = {
        "id": "msg_pii1",
        "type": "message",
        "role": "assistant",
        "model": "claude-3-5-sonnet-20240620",
        "content": [
            {"type": "text", "text": mail("anthropic.answer")},
            {
                "type": "tool_use",
                "id": "toolu_pii1",
                "name": "lookup",
                "input": {"to": phone("anthropic.answer-input")},
            },
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 514, "output_tokens": 152},
    }
    return [
        _with(base["test_chat"], chat, chat_answer),
        _with(base["test_completion"], completion, completion_answer),
        _with(base["test_responses"], responses, responses_answer),
        _with(base["test_anthropic_tools_legacy"], anthropic, anthropic_answer),
    ]


CALLS = planted_calls()
SWITCHES = {"as is": {}, "content off": {"capture_content": False}, "masked": {"mask_pii": True}}


def _exporters(
    provider: TracerProvider, sinks: dict[str, ReconifySink]
) -> list[ReconifySpanExporter]:
    exporters = []
    for name, options in SWITCHES.items():
        url = f"{sinks[name].url}/track"
        exporter = ReconifySpanExporter(url, APP_KEY, API_KEY, spool=False, **options)
        provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=50))
        exporters.append(exporter)
    return exporters


@pytest.fixture
def sinks() -> Iterator[dict[str, ReconifySink]]:
    with ReconifySink() as on, ReconifySink() as off, ReconifySink() as masked:
        yield {"as is": on, "content off": off, "masked": masked}


def _arrived(payloads: list[dict[str, Any]]) -> set[str]:
    text = text_of(payloads)
    return {where for where, planted in PLANTS.items() if planted in text}


def _when(payload: dict[str, Any]) -> tuple[int, int]:
    """The span's own times: the same in every sink, whichever exporter sent first."""
    return payload["timestamps"]["request"], payload["timestamps"]["response"]


def _facts(payload: dict[str, Any]) -> dict[str, Any]:
    """What must arrive whatever the switches: ids, model, usage, finish, tool names."""
    request, response = payload["request"], payload["response"]
    choices = response.get("choices") or []
    blocks = response.get("content") if isinstance(response.get("content"), list) else []
    messages = [choice.get("message") or {} for choice in choices]
    calls = [c for message in messages for c in message.get("tool_calls") or []]
    return {
        "id": response["id"],
        "model": (request["model"], response["model"]),
        "usage": response["usage"],
        "finish": [c["finish_reason"] for c in choices] or response.get("stop_reason"),
        "tools": [c["function"]["name"] for c in calls]
        + [b["name"] for b in blocks if b["type"] == "tool_use"],
        "tool ids": [c["id"] for c in calls] + [b["id"] for b in blocks if "id" in b],
    }


@pytest.mark.parametrize("tag", list(CONVENTIONS))
def test_no_planted_string_arrives_in_any_llm_call(
    tag: str, sinks: dict[str, ReconifySink]
) -> None:
    calls = [call for call in CALLS if CONVENTIONS[tag].covers(call)]
    provider = TracerProvider()
    _exporters(provider, sinks)
    with instrumented(provider, tag), LlmReplay(calls) as replay:
        make_calls(calls, replay)
    assert provider.force_flush(10_000)
    provider.shutdown()
    received = {name: sorted(sink.payloads, key=_when) for name, sink in sinks.items()}
    assert [len(payloads) for payloads in received.values()] == [len(calls)] * 3
    assert len(_arrived(received["as is"])) >= 2 * len(calls)  # recorded: the search means it
    assert _arrived(received["content off"]) == set()
    assert _arrived(received["masked"]) == set()
    for on, off, masked in zip(*received.values(), strict=True):
        check_content_off(on, off)
        assert _facts(off) == _facts(masked) == _facts(on)
        assert _facts(on)["usage"] and _facts(on)["model"][0] is not None


def test_planted_calls_reach_every_field_through_some_instrumentation(
    sinks: dict[str, ReconifySink],
) -> None:
    """Across the conventions that record the most, each planted place is recorded with
    content as is: the two tests above search for every one of them."""
    provider = TracerProvider()
    _exporters(provider, sinks)
    tags = ("openinference-openai-0.1.66", "openinference-anthropic-3.1.0")
    with instrumented(provider, *tags), LlmReplay(CALLS) as replay:
        make_calls(CALLS, replay)
    assert provider.force_flush(10_000)
    provider.shutdown()
    assistant_places = {where for where in PLANTS if where.startswith("assistant.")}
    assert _arrived(sinks["as is"].payloads) == set(PLANTS) - assistant_places
    assert _arrived(sinks["content off"].payloads) == set()
    assert _arrived(sinks["masked"].payloads) == set()


def test_no_planted_string_arrives_from_an_assistant_run(
    sim: SimulatedAssistantsAPI, sinks: dict[str, ReconifySink]
) -> None:
    provider = TracerProvider()
    _exporters(provider, sinks)
    question = f"Write to {mail('assistant.text')} or call {phone('assistant.text-phone')}"
    with sdk_restored():
        instrumentor = AssistantsInstrumentor()
        instrumentor.instrument(tracer_provider=provider)
        try:
            client = client_for(sim)
            assistant = client.beta.assistants.create(name="Tutor", model="gpt-4o-mini")
            thread = client.beta.threads.create()
            client.beta.threads.messages.create(
                thread_id=thread.id,
                role="user",
                content=question,
                metadata={"contact": mail("assistant.metadata")},
            )
            run = client.beta.threads.runs.create_and_poll(
                thread_id=thread.id, assistant_id=assistant.id
            )
            client.beta.threads.messages.list(thread_id=thread.id, run_id=run.id)
        finally:
            instrumentor.uninstrument()
    assert provider.force_flush(10_000)
    provider.shutdown()
    (on,), (off,), (masked,) = (sink.payloads for sink in sinks.values())
    assert {"assistant.text", "assistant.text-phone"} <= _arrived([on])
    assert _arrived([off]) == _arrived([masked]) == set()
    check_content_off(on, off)
    for payload in (off, masked):
        response = payload["response"]
        assert (response["run_id"], response["thread_id"]) == (run.id, thread.id)
        assert response["assistant_id"] == assistant.id
        assert response["usage"] == on["response"]["usage"] and response["usage"]
        assert payload["request"]["model"] == "gpt-4o-mini"
