"""AssistantsInstrumentor never hurts the app: broken hooks, exact restore, flat memory."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from openai import OpenAI
from openai.lib.streaming import AssistantStreamManager
from openai.resources.beta.threads.messages import AsyncMessages, Messages
from openai.resources.beta.threads.runs.runs import AsyncRuns, Runs
from openai.resources.beta.threads.threads import Threads
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from reconify_otel_testing.assistants_api import SimulatedAssistantsAPI

from reconify_otel.core import attributes as A
from reconify_otel.core.assistant import is_assistant_run
from reconify_otel.instrumentation import AssistantsInstrumentor
from reconify_otel.instrumentation.tracker import FinishedRun, Limits, RunTracker

from .helpers import sdk_restored


@pytest.fixture(autouse=True)
def bare_sdk() -> Iterator[None]:
    with sdk_restored():
        yield


WRAPPED = [
    (Runs, "create"),
    (Runs, "retrieve"),
    (Runs, "poll"),
    (Runs, "stream"),
    (AsyncRuns, "create"),
    (Messages, "list"),
    (AsyncMessages, "list"),
    (Threads, "create_and_run"),
    (AssistantStreamManager, "__enter__"),
]


@pytest.fixture
def traced() -> Iterator[tuple[AssistantsInstrumentor, InMemorySpanExporter]]:
    provider = TracerProvider()
    spans = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    instrumentor = AssistantsInstrumentor()
    instrumentor.instrument(tracer_provider=provider, answer_grace=0.05)
    try:
        yield instrumentor, spans
    finally:
        instrumentor.uninstrument()
        provider.shutdown()


def _turn(client: OpenAI, list_answer: bool = True) -> Any:
    assistant = client.beta.assistants.create(name="Bot", model="gpt-4o-mini")
    thread = client.beta.threads.create()
    client.beta.threads.messages.create(thread_id=thread.id, role="user", content="hi")
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    if list_answer:
        client.beta.threads.messages.list(thread_id=thread.id, limit=1, run_id=run.id)
    return run


def test_uninstrument_restores_the_exact_methods() -> None:
    originals = {(cls, name): cls.__dict__[name] for cls, name in WRAPPED}
    instrumentor = AssistantsInstrumentor()
    instrumentor.instrument(tracer_provider=TracerProvider())
    try:
        assert all(cls.__dict__[name] is not originals[cls, name] for cls, name in WRAPPED)
    finally:
        instrumentor.uninstrument()
    assert Runs.create is originals[Runs, "create"]
    assert all(cls.__dict__[name] is originals[cls, name] for cls, name in WRAPPED)


def test_a_broken_hook_never_breaks_the_call(
    traced: tuple[AssistantsInstrumentor, InMemorySpanExporter], monkeypatch: pytest.MonkeyPatch
) -> None:
    instrumentor, spans = traced
    tracker = instrumentor.tracker
    assert tracker is not None

    def boom(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("bug in reconify_otel")

    for name in (
        "created",
        "observe_run",
        "observe_messages",
        "remember_user_message",
        "observe_event",
        "begin",
    ):
        monkeypatch.setattr(tracker, name, boom)
    with SimulatedAssistantsAPI() as api:
        client = OpenAI(base_url=api.base_url, api_key="sk-test", max_retries=0)
        run = _turn(client)
        with client.beta.threads.runs.stream(
            thread_id=run.thread_id, assistant_id=run.assistant_id
        ) as stream:
            events = list(stream)
    assert run.status == "completed" and events[-1].event == "thread.run.completed"
    assert spans.get_finished_spans() == ()


def test_the_app_gets_the_sdk_objects_themselves(
    traced: tuple[AssistantsInstrumentor, InMemorySpanExporter],
) -> None:
    from openai import Stream

    with SimulatedAssistantsAPI() as api:
        client = OpenAI(base_url=api.base_url, api_key="sk-test", max_retries=0)
        run = _turn(client)
        manager = client.beta.threads.runs.stream(
            thread_id=run.thread_id, assistant_id=run.assistant_id
        )
        assert type(manager) is AssistantStreamManager
        with manager as handler:
            handler.until_done()
        stream = client.beta.threads.runs.create(
            thread_id=run.thread_id, assistant_id=run.assistant_id, stream=True
        )
        assert type(stream) is Stream
        assert [e.event for e in stream][-1] == "thread.run.completed"


def test_an_answer_never_listed_still_gives_one_span_after_the_grace(
    traced: tuple[AssistantsInstrumentor, InMemorySpanExporter],
) -> None:
    instrumentor, spans = traced
    with SimulatedAssistantsAPI() as api:
        client = OpenAI(base_url=api.base_url, api_key="sk-test", max_retries=0)
        run = _turn(client, list_answer=False)
    tracker = instrumentor.tracker
    assert tracker is not None
    for _ in range(100):
        if spans.get_finished_spans():
            break
        import time

        time.sleep(0.02)
    (span,) = spans.get_finished_spans()
    assert span.attributes is not None
    assert span.attributes[A.RUN_ID] == run.id and A.RESPONSE_MESSAGES not in span.attributes
    assert A.REQUEST_MESSAGE in span.attributes
    assert tracker.sizes()["runs"] == 0


def test_a_run_whose_answer_is_never_listed_is_explained_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import threading

    from reconify_otel.instrumentation import tracker

    monkeypatch.setattr(tracker, "_unlisted_answer_once", threading.Lock())  # a fresh process
    caplog.set_level(logging.INFO, logger="reconify_otel")
    finished: list[FinishedRun] = []
    runs = RunTracker(finished.append, Limits(answer_grace=0))
    for run_id in ("run_never_listed", "run_also_unlisted"):
        start = runs.begin(thread_id="thread_1")
        runs.created(start, {"id": run_id, "thread_id": "thread_1", "status": "completed"})
        runs.flush_due()
    failed = runs.begin(thread_id="thread_2")  # no answer expected: not this message
    runs.created(failed, {"id": "run_failed", "thread_id": "thread_2", "status": "failed"})
    runs.flush_due()
    assert [f.run["id"] for f in finished] == [
        "run_never_listed",
        "run_also_unlisted",
        "run_failed",
    ]
    (record,) = caplog.records
    assert record.levelname == "INFO"
    assert "run run_never_listed completed, but the app did not list its answer" in record.message
    assert "not sent to Reconify" in record.message


def test_bookkeeping_stays_flat_over_20k_runs() -> None:
    """20 times the largest limit, 10 rounds of 2,000 threads: what is not bounded grows."""
    emitted: list[int] = []
    limits = Limits(max_runs=500, max_threads=500, max_done=1000)
    tracker = RunTracker(lambda f: emitted.append(1), limits)

    def run(i: int, status: str) -> dict[str, Any]:
        return {
            "id": f"run_{i}",
            "thread_id": f"thread_{i % 2000}",
            "assistant_id": "asst",
            "status": status,
            "created_at": 1,
            "model": "m",
        }

    for i in range(20_000):
        thread = f"thread_{i % 2000}"
        tracker.remember_user_message({"id": f"msg_u{i}", "role": "user", "thread_id": thread})
        start = tracker.begin(thread_id=thread)
        tracker.created(start, run(i, "queued"))
        if i % 10 == 0:
            continue  # abandoned mid-way: must not accumulate
        tracker.observe_run(run(i, "completed"))
        answer = {
            "id": f"msg_a{i}",
            "role": "assistant",
            "run_id": f"run_{i}",
            "status": "completed",
            "created_at": 2,
        }
        tracker.observe_messages(thread, [answer, answer])
        tracker.observe_messages(thread, [answer])  # listed again: no second span
    sizes = tracker.sizes()
    assert sizes["runs"] <= 500 and sizes["waiting"] <= 500 and sizes["done"] <= 1000
    assert sizes["threads"] <= 500 and sizes["active"] <= 500
    assert len(emitted) == 18_000


def test_a_run_finished_elsewhere_is_emitted_once() -> None:
    finished: list[FinishedRun] = []
    tracker = RunTracker(finished.append, Limits(answer_grace=0))
    start = tracker.begin(thread_id="t")
    tracker.created(start, {"id": "r", "thread_id": "t", "status": "completed"})
    tracker.flush_due()
    tracker.observe_messages("t", [{"id": "m", "role": "assistant", "run_id": "r"}])
    tracker.observe_run({"id": "r", "thread_id": "t", "status": "completed"})
    assert len(finished) == 1 and finished[0].answers == []


def test_superseded_upstream_spans_are_not_runs() -> None:
    assert is_assistant_run(A.UPSTREAM_RUN, {})
    assert not is_assistant_run(A.UPSTREAM_RUN, {A.SUPERSEDED: True})
    assert not is_assistant_run(A.UPSTREAM_RUN_STREAM, {A.SUPERSEDED: True})


def test_a_failed_poll_does_not_end_a_run_that_later_completes(
    traced: tuple[AssistantsInstrumentor, InMemorySpanExporter],
) -> None:
    import openai

    _, spans = traced
    with SimulatedAssistantsAPI(polls_to_finish=3) as api:
        client = OpenAI(base_url=api.base_url, api_key="sk-test", max_retries=0)
        down = OpenAI(base_url="http://127.0.0.1:9/v1", api_key="sk-test", max_retries=0)
        assistant = client.beta.assistants.create(name="Bot", model="gpt-4o-mini")
        thread = client.beta.threads.create()
        client.beta.threads.messages.create(thread_id=thread.id, role="user", content="hi")
        run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
        with pytest.raises(openai.APIConnectionError):  # one poll fails, the app goes on
            down.beta.threads.runs.retrieve(run.id, thread_id=thread.id)
        while run.status not in ("completed", "failed"):
            run = client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)
        client.beta.threads.messages.list(thread_id=thread.id, limit=1, run_id=run.id)
    (span,) = spans.get_finished_spans()
    attrs = span.attributes or {}
    assert attrs[A.RUN_STATUS] == "completed" and A.ERROR_TYPE not in attrs
    assert A.RESPONSE_MESSAGES in attrs


_PROVIDER_SET_LATE = """
import sys
from openai import OpenAI
from opentelemetry import trace
from opentelemetry.instrumentation.openai import OpenAIInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from reconify_otel_testing.assistants_api import SimulatedAssistantsAPI
from reconify_otel.offline.sink import ReconifySink
from reconify_otel import AssistantsInstrumentor, ReconifySpanExporter

AssistantsInstrumentor().instrument()  # no provider yet: nothing to mark spans with
OpenAIInstrumentor().instrument()
with ReconifySink() as sink, SimulatedAssistantsAPI() as api:
    provider = TracerProvider()
    exporter = ReconifySpanExporter(f"{sink.url}/t", "app-key-1", "api-key-1", spool=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)  # the app sets its provider only now
    client = OpenAI(base_url=api.base_url, api_key="sk-test", max_retries=0)
    assistant = client.beta.assistants.create(name="Bot", model="gpt-4o-mini")
    for _ in range(2):
        thread = client.beta.threads.create()
        client.beta.threads.messages.create(thread_id=thread.id, role="user", content="hi")
        run = client.beta.threads.runs.create_and_poll(
            thread_id=thread.id, assistant_id=assistant.id
        )
        client.beta.threads.messages.list(thread_id=thread.id, limit=1, run_id=run.id)
    provider.shutdown()
    kinds = sorted(
        p["reconify"]["type"] + ":" + str(p["response"]["run_id"]) for p in sink.payloads
    )
    print(len(sink.payloads), len(set(kinds)))
"""


def test_a_provider_set_after_instrument_still_gets_each_run_once() -> None:
    """The exporter knows nothing of the instrumentor: the instrumentor adds its marking
    processor to the global provider on its first hooked call, once one is set."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _PROVIDER_SET_LATE], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["2", "2"], done.stdout + done.stderr
