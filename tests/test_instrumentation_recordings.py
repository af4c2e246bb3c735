"""AssistantsInstrumentor against REAL recorded OpenAI traffic (ReplayAssistantsAPI)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openai import AssistantEventHandler, OpenAI
from opentelemetry.instrumentation.openai import OpenAIInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from reconify_otel import ReconifySpanExporter
from reconify_otel.instrumentation import AssistantsInstrumentor
from reconify_otel.offline.assistants import ReplayAssistantsAPI
from reconify_otel.offline.sink import ReconifySink

from .helpers import API_KEY, APP_KEY, sdk_restored

QUESTION = "I need to solve the equation `3x + 11 = 14`. Can you help me?"
ANSWER = "The solution to the equation \\(3x + 11 = 14\\) is \\(x = 1\\)."
USAGE = {"prompt_tokens": 381, "completion_tokens": 88, "total_tokens": 469}


@pytest.fixture(params=[False, True], ids=["alone", "with_upstream"])
def provider(request: pytest.FixtureRequest, sink: ReconifySink) -> Iterator[TracerProvider]:
    provider = TracerProvider()
    exporter = ReconifySpanExporter(f"{sink.url}/track", APP_KEY, API_KEY)
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=50))
    upstream = OpenAIInstrumentor() if request.param else None
    ours = AssistantsInstrumentor()
    with sdk_restored():
        try:
            if upstream is not None:
                upstream.instrument(tracer_provider=provider)
            ours.instrument(tracer_provider=provider)
            yield provider
        finally:
            ours.uninstrument()
            if upstream is not None:
                upstream.uninstrument()
            provider.shutdown()


def _only_payload(provider: TracerProvider, sink: ReconifySink) -> dict[str, Any]:
    provider.force_flush()
    assert sink.wait_for(1, timeout=5)
    assert not sink.wait_for(2, timeout=0.2)
    return sink.payloads[0]


def _setup(client: OpenAI) -> tuple[Any, Any]:
    assistant = client.beta.assistants.create(
        name="Math Tutor",
        instructions="You are a personal math tutor.",
        tools=[{"type": "code_interpreter"}],
        model="gpt-4o-mini",
    )
    thread = client.beta.threads.create()
    client.beta.threads.messages.create(thread_id=thread.id, role="user", content=QUESTION)
    return assistant, thread


@pytest.mark.parametrize("listing", ["reconify_limit_1", "order_asc"])
def test_polling_recording_gives_the_documented_payload(
    recordings_dir: Path, sink: ReconifySink, provider: TracerProvider, listing: str
) -> None:
    with ReplayAssistantsAPI(recordings_dir / "test_new_assistant_with_polling.yaml") as api:
        client = OpenAI(base_url=api.base_url, api_key="sk-test", max_retries=0)
        assistant, thread = _setup(client)
        run = client.beta.threads.runs.create_and_poll(
            thread_id=thread.id,
            assistant_id=assistant.id,
            instructions="Please address the user as Jane Doe.",
            poll_interval_ms=1,
        )
        if listing == "order_asc":
            client.beta.threads.messages.list(thread_id=thread.id, order="asc")
        else:
            client.beta.threads.messages.list(thread_id=thread.id, limit=1, run_id=run.id)
    payload = _only_payload(provider, sink)
    request, response = payload["request"], payload["response"]
    assert payload["session"] == "thread_erGl66dVoAO1EY2Mp3lvn9JB"
    assert request["id"] == "msg_KXmJuJ3n0yNzkof0jQk2iWEj" and request["role"] == "user"
    assert request["thread_id"] == "thread_erGl66dVoAO1EY2Mp3lvn9JB"
    assert request["assistant_id"] == "asst_Leo2sRC1zfL8826tvsgfhKJ4"
    assert request["model"] == "gpt-4o-mini" and request["created_at"] == 1774963843
    assert request["content"] == [{"type": "text", "text": {"value": QUESTION, "annotations": []}}]
    assert response["id"] == "msg_HK3aVWLIOnojFNHPtnCPaIRI" and response["role"] == "assistant"
    assert response["run_id"] == "run_31fgVjfVXHHOJZbQnBWJXhlN"
    assert response["created_at"] == 1774963856
    assert response["content"] == [{"type": "text", "text": {"value": ANSWER, "annotations": []}}]
    assert {k: response["usage"][k] for k in USAGE} == USAGE
    stamps = payload["timestamps"]
    assert stamps["request"] <= stamps["response"] and stamps["request"] > 1_700_000_000_000


@pytest.mark.parametrize("helper", ["stream", "create_and_stream"])
def test_streaming_recording_gives_one_complete_payload(
    recordings_dir: Path, sink: ReconifySink, provider: TracerProvider, helper: str
) -> None:
    with ReplayAssistantsAPI(recordings_dir / "test_streaming_new_assistant.yaml") as api:
        client = OpenAI(base_url=api.base_url, api_key="sk-test", max_retries=0)
        assistant, thread = _setup(client)
        start = getattr(client.beta.threads.runs, helper)
        with start(
            thread_id=thread.id, assistant_id=assistant.id, event_handler=AssistantEventHandler()
        ) as stream:
            stream.until_done()
    payload = _only_payload(provider, sink)
    request, response = payload["request"], payload["response"]
    assert payload["session"] == "thread_1HjgF1qM3kuRK2aviYYaLlxF"
    assert request["id"] == "msg_2FFY2QSijHEY7sEAuwes7Thl"
    assert request["content"] == [{"type": "text", "text": {"value": QUESTION, "annotations": []}}]
    assert request["model"] == "gpt-4o-mini"
    assert response["id"] == "msg_jgiXcjHqUsRCj2RmdC13r5xN"
    assert response["run_id"] == "run_PS0ksndVoX7DxtmdXn66ZMXU"
    assert response["content"] == [{"type": "text", "text": {"value": ANSWER, "annotations": []}}]
    assert {k: response["usage"][k] for k in USAGE} == USAGE
