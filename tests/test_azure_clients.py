"""The Azure clients share the resource classes AssistantsInstrumentor wraps: same payloads."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from openai import AsyncAzureOpenAI, AzureOpenAI
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from reconify_otel_testing.assistants_api import SimulatedAssistantsAPI

from reconify_otel import AssistantsInstrumentor, ReconifySpanExporter
from reconify_otel.offline.sink import ReconifySink

from .helpers import API_KEY, APP_KEY

AZURE = {"api_key": "azure-key", "api_version": "2024-05-01-preview"}


@pytest.fixture
def provider(sink: ReconifySink) -> Iterator[TracerProvider]:
    provider = TracerProvider()
    exporter = ReconifySpanExporter(f"{sink.url}/track", APP_KEY, API_KEY)
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=20))
    instrumentor = AssistantsInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    yield provider
    instrumentor.uninstrument()
    provider.shutdown()


def check(sink: ReconifySink, api: SimulatedAssistantsAPI, run_id: str) -> None:
    assert sink.wait_for(1, timeout=5)
    (payload,) = sink.payloads
    assert payload["response"]["run_id"] == run_id
    assert payload["request"]["content"][0]["text"]["value"] == "What are the store hours?"
    assert payload["response"]["content"][0]["text"]["value"] == (
        "You said: What are the store hours?"
    )
    assert payload["session"] == payload["request"]["thread_id"]
    assert all(r.query.get("api-version") == AZURE["api_version"] for r in api.requests)


def test_azure_openai(sink: ReconifySink, provider: TracerProvider) -> None:
    with SimulatedAssistantsAPI() as api:
        client = AzureOpenAI(base_url=api.base_url, **AZURE)
        assistant = client.beta.assistants.create(model="gpt-4o-mini", name="Store Helper")
        thread = client.beta.threads.create()
        client.beta.threads.messages.create(
            thread.id, role="user", content="What are the store hours?"
        )
        run = client.beta.threads.runs.create_and_poll(
            thread_id=thread.id, assistant_id=assistant.id
        )
        client.beta.threads.messages.list(thread.id, limit=1, run_id=run.id)
        provider.force_flush()
        check(sink, api, run.id)


def test_async_azure_openai(sink: ReconifySink, provider: TracerProvider) -> None:
    with SimulatedAssistantsAPI() as api:
        client = AsyncAzureOpenAI(base_url=api.base_url, **AZURE)

        async def flow() -> str:
            assistant = await client.beta.assistants.create(model="gpt-4o-mini", name="S")
            thread = await client.beta.threads.create()
            await client.beta.threads.messages.create(
                thread.id, role="user", content="What are the store hours?"
            )
            run = await client.beta.threads.runs.create_and_poll(
                thread_id=thread.id, assistant_id=assistant.id
            )
            await client.beta.threads.messages.list(thread.id, limit=1, run_id=run.id)
            return str(run.id)

        run_id = asyncio.run(flow())
        provider.force_flush()
        check(sink, api, run_id)
