"""Real parts end to end: the openai SDK replays recorded traffic through the real
upstream instrumentation, the real SDK pipeline and our exporter to a loopback sink."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from openai import OpenAI
from opentelemetry.instrumentation.openai import OpenAIInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from reconify_otel import ReconifySpanExporter
from reconify_otel.offline.assistants import ReplayAssistantsAPI
from reconify_otel.offline.sink import ReconifySink

from .helpers import API_KEY, APP_KEY, QUESTION, run_polling_flow

THREAD = "thread_erGl66dVoAO1EY2Mp3lvn9JB"
ANSWER = "The solution to the equation \\(3x + 11 = 14\\) is \\(x = 1\\)."


@pytest.fixture
def pipeline(sink: ReconifySink) -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    """A provider with our exporter beside an in-memory one standing for Jaeger."""
    provider = TracerProvider()
    jaeger = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(jaeger))
    exporter = ReconifySpanExporter(f"{sink.url}/track", APP_KEY, API_KEY)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        yield provider, jaeger
    finally:
        instrumentor.uninstrument()
        provider.shutdown()


def test_polling_recording_gives_exactly_one_payload(
    recordings_dir: Path,
    sink: ReconifySink,
    pipeline: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, jaeger = pipeline
    with ReplayAssistantsAPI(recordings_dir / "test_new_assistant_with_polling.yaml") as api:
        client = OpenAI(base_url=api.base_url, api_key="sk-test-openai-key")
        messages, run = run_polling_flow(client)
    assert run.status == "completed"
    assert [m.role for m in messages.data] == ["user", "assistant"]  # the app's view is intact
    provider.force_flush()

    assert sink.wait_for(1, timeout=5)
    assert len(sink.payloads) == 1
    payload = sink.payloads[0]
    assert payload["reconify"] == {
        "format": "openai",
        "type": "assistant",
        "version": "3.1.0",
        "appKey": APP_KEY,
        "apiKey": API_KEY,
    }
    request, response = payload["request"], payload["response"]
    assert request["role"] == "user" and request["object"] == "thread.message"
    assert request["content"] == [{"type": "text", "text": {"value": QUESTION, "annotations": []}}]
    assert request["model"] == "gpt-4o-mini"
    assert response["id"] == "msg_HK3aVWLIOnojFNHPtnCPaIRI"
    assert response["role"] == "assistant"
    assert response["content"] == [{"type": "text", "text": {"value": ANSWER, "annotations": []}}]
    assert response["usage"] == {"prompt_tokens": 381, "completion_tokens": 88, "total_tokens": 469}
    stamps = payload["timestamps"]
    assert isinstance(stamps["request"], int) and isinstance(stamps["response"], int)
    assert stamps["request"] <= stamps["response"]
    assert stamps["request"] > 1_700_000_000_000  # milliseconds, not seconds

    # The exporter beside ours saw the same spans: nothing was taken from it.
    names = [span.name for span in jaeger.get_finished_spans()]
    assert names.count("openai.assistant.run") == 1


def test_streaming_recording_gives_exactly_one_payload(
    recordings_dir: Path,
    sink: ReconifySink,
    pipeline: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    from openai import AssistantEventHandler

    provider, _ = pipeline
    with ReplayAssistantsAPI(recordings_dir / "test_streaming_new_assistant.yaml") as api:
        client = OpenAI(base_url=api.base_url, api_key="sk-test-openai-key")
        assistant = client.beta.assistants.create(
            name="Math Tutor",
            instructions="You are a personal math tutor.",
            tools=[{"type": "code_interpreter"}],
            model="gpt-4o-mini",
        )
        thread = client.beta.threads.create()
        client.beta.threads.messages.create(thread_id=thread.id, role="user", content=QUESTION)
        with client.beta.threads.runs.create_and_stream(
            thread_id=thread.id,
            assistant_id=assistant.id,
            instructions="Please address the user as Jane Doe.",
            event_handler=AssistantEventHandler(),
        ) as stream:
            stream.until_done()
    provider.force_flush()
    assert sink.wait_for(1, timeout=5)
    assert len(sink.payloads) == 1
    response = sink.payloads[0]["response"]
    assert response["id"] == "msg_jgiXcjHqUsRCj2RmdC13r5xN"
    assert response["content"] == [{"type": "text", "text": {"value": ANSWER, "annotations": []}}]
    assert response["usage"] == {"prompt_tokens": 381, "completion_tokens": 88, "total_tokens": 469}
    assert sink.payloads[0]["request"]["model"] == "gpt-4o-mini"
    assert sink.payloads[0]["request"]["content"] == []  # upstream's run_stream omits it
