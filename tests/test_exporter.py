"""The exporter inside a real SDK pipeline: configuration, coexistence, safety."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExportResult,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from reconify_otel import ReconifySpanExporter
from reconify_otel.core import attributes as A
from reconify_otel.offline.sink import Answer, ReconifySink

from .helpers import (
    API_KEY,
    APP_KEY,
    CURRENT,
    OWN,
    UNRELATED_INSTRUMENTATIONS,
    make_span,
    run_attributes,
)


def exporter_for(sink: ReconifySink, **options: Any) -> ReconifySpanExporter:
    return ReconifySpanExporter(f"{sink.url}/track", APP_KEY, API_KEY, **options)


def test_missing_keys_name_argument_and_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RECONIFY_APP_KEY", raising=False)
    monkeypatch.delenv("RECONIFY_API_KEY", raising=False)
    with pytest.raises(ValueError) as error:
        ReconifySpanExporter()
    message = str(error.value)
    for name in ("app_key", "RECONIFY_APP_KEY", "api_key", "RECONIFY_API_KEY"):
        assert name in message
    with pytest.raises(ValueError, match="api_key") as only_api:
        ReconifySpanExporter(app_key="x")
    assert "app_key" not in str(only_api.value)


def test_environment_fallbacks(
    monkeypatch: pytest.MonkeyPatch, keys: tuple[str, str], sink: ReconifySink
) -> None:
    monkeypatch.setenv("RECONIFY_ENDPOINT", f"{sink.url}/env-track")
    monkeypatch.setenv("RECONIFY_COMPRESSION", "gzip")
    monkeypatch.setenv("RECONIFY_SESSION_TIMEOUT", "15")
    exporter = ReconifySpanExporter()
    assert exporter.export([make_span("openai.assistant.run", CURRENT)]) is SpanExportResult.SUCCESS
    (received,) = sink.received
    assert received.path == "/env-track"
    assert received.headers["Content-Encoding"] == "gzip"
    assert received.payload["sessionTimeout"] == 15
    assert received.payload["reconify"]["appKey"] == APP_KEY
    # An explicit argument beats the environment.
    explicit = ReconifySpanExporter(f"{sink.url}/arg-track", session_timeout=5)
    explicit.export([make_span("openai.assistant.run", CURRENT)])
    assert sink.received[1].path == "/arg-track" and sink.payloads[1]["sessionTimeout"] == 5


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("RECONIFY_TIMEOUT", "soon"),
        ("RECONIFY_CONCURRENCY", "0"),
        ("RECONIFY_COMPRESSION", "brotli"),
        ("RECONIFY_DEBUG", "maybe"),
        ("RECONIFY_ENDPOINT", "track.reconify.com/track"),
    ],
)
def test_bad_settings_fail_at_construction(
    monkeypatch: pytest.MonkeyPatch, keys: tuple[str, str], variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError):
        ReconifySpanExporter()


def test_keys_never_show_in_repr() -> None:
    exporter = ReconifySpanExporter("http://127.0.0.1:9/track", APP_KEY, API_KEY)
    assert APP_KEY not in repr(exporter) and API_KEY not in repr(exporter)
    assert APP_KEY not in repr(exporter._settings) and API_KEY not in repr(exporter._settings)


def test_only_interactions_are_sent_and_error_runs_counted(sink: ReconifySink) -> None:
    exporter = exporter_for(sink)
    spans = [
        make_span("GET /health", {"http.method": "GET"}),
        make_span("openai.chat", {"gen_ai.provider.name": "openai"}),
        make_span("openai.assistant.run", CURRENT),
        make_span("invoke_agent Math Tutor", OWN),
        make_span("openai.assistant.run", {"error.type": "APIError"}, error=True),
    ]
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    assert len(sink.payloads) == 2
    assert {p["response"]["id"] for p in sink.payloads} == {"msg_HK3aVWLIOnojFNHPtnCPaIRI", "msg_2"}
    assert {k: v for k, v in exporter.stats().items() if v} == {
        "accepted": 2,
        "skipped_error_run": 1,
        # An LLM-call span holding nothing of a call (no id, model or answer): not sent.
        "skipped_no_answer": 1,
    }


def test_a_rejected_payload_makes_the_export_fail(sink: ReconifySink) -> None:
    sink.script(Answer.status(400))
    exporter = exporter_for(sink)
    assert exporter.export([make_span("openai.assistant.run", CURRENT)]) is SpanExportResult.FAILURE
    assert {k: v for k, v in exporter.stats().items() if v} == {"rejected": 1}


def test_400_is_not_retried_counted_and_logged_once_a_minute(
    sink: ReconifySink, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="reconify_otel")
    sink.set_default(Answer.status(400, b'{"status":"error","message":"bad request"}'))
    exporter = ReconifySpanExporter(f"{sink.url}/track", APP_KEY, API_KEY)
    spans = [make_span("openai.assistant.run", run_attributes(n)) for n in range(50)]
    assert exporter.export(spans[:25]) is SpanExportResult.FAILURE
    assert exporter.export(spans[25:]) is SpanExportResult.FAILURE
    assert sink.attempts == 50  # one each: no retries
    assert {k: v for k, v in exporter.stats().items() if v} == {"rejected": 50}
    lines = [r for r in caplog.records if "answered 400" in r.getMessage()]
    assert len(lines) == 1
    assert exporter._sender.spool is not None and exporter._sender.spool.stats()[0] == 0


def test_shutdown_is_idempotent_and_final(sink: ReconifySink) -> None:
    exporter = exporter_for(sink)
    exporter.shutdown()
    exporter.shutdown()
    assert exporter.export([make_span("openai.assistant.run", CURRENT)]) is SpanExportResult.FAILURE
    assert sink.attempts == 0
    assert exporter.force_flush() is True


def test_shutdown_interrupts_an_export_waiting_to_retry(sink: ReconifySink) -> None:
    sink.outage(60, status=503, retry_after=5)
    exporter = exporter_for(sink, timeout=30, export_timeout=30)
    results: list[SpanExportResult] = []
    worker = threading.Thread(
        target=lambda: results.append(exporter.export([make_span("openai.assistant.run", CURRENT)]))
    )
    worker.start()
    assert sink.wait_for_attempts(1, timeout=5)  # the export now waits 5 s to retry
    started = time.monotonic()
    exporter.shutdown()
    worker.join(timeout=5)
    assert time.monotonic() - started < 3.0  # not the 5 s Retry-After
    assert results == [SpanExportResult.FAILURE]
    stats = {k: v for k, v in exporter.stats().items() if v}
    assert stats == {"retries": 1, "shut_down": 1, "spooled": 1}  # kept on disk


def test_provider_shutdown_is_bounded_by_the_timeout_while_the_endpoint_is_down(
    sink: ReconifySink,
) -> None:
    # The SDK joins its worker before it calls our shutdown(): the export deadline bounds it.
    sink.outage(60, status=503, retry_after=0.2)
    provider = TracerProvider()
    exporter = exporter_for(sink, timeout=1.5)
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=10))
    with provider.get_tracer("t").start_as_current_span("openai.assistant.run", attributes=CURRENT):
        pass
    assert sink.wait_for_attempts(1, timeout=5)
    started = time.monotonic()
    provider.shutdown()
    assert time.monotonic() - started < 3.0
    stats = exporter.stats()
    assert (stats["failed"], stats["spooled"]) == (1, 1)  # not lost: on disk
    assert stats["retries"] >= 2


def test_debug_logs_payload_with_keys_masked(
    sink: ReconifySink, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="reconify_otel")
    exporter = exporter_for(sink, debug=True)
    exporter.export([make_span("invoke_agent Math Tutor", OWN)])
    assert "reconify payload" in caplog.text
    assert "msg_2" in caplog.text  # the payload itself is there
    assert APP_KEY not in caplog.text and API_KEY not in caplog.text
    assert sink.payloads[0]["reconify"]["apiKey"] == API_KEY  # masked only in the log


def test_own_http_calls_are_never_traced(sink: ReconifySink) -> None:
    from opentelemetry.instrumentation.requests import RequestsInstrumentor

    provider = TracerProvider()
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    provider.add_span_processor(BatchSpanProcessor(exporter_for(sink, concurrency=4)))
    RequestsInstrumentor().instrument(tracer_provider=provider)
    try:
        tracer = provider.get_tracer("t")
        for _ in range(6):
            with tracer.start_as_current_span("openai.assistant.run", attributes=CURRENT):
                pass
        provider.force_flush()
        assert sink.wait_for(6, timeout=10)
        provider.force_flush()
    finally:
        RequestsInstrumentor().uninstrument()
        provider.shutdown()
    names = [span.name for span in memory.get_finished_spans()]
    assert names == ["openai.assistant.run"] * 6  # and no "POST" span from our sends


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_sends_with_its_own_session(sink: ReconifySink) -> None:
    exporter = exporter_for(sink, concurrency=2)
    span = make_span("openai.assistant.run", CURRENT)
    assert exporter.export([span, span]) is SpanExportResult.SUCCESS  # pool and sockets exist
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        code = 0 if exporter.export([span, span]) is SpanExportResult.SUCCESS else 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert sink.wait_for(4, timeout=5)
    assert exporter.export([span]) is SpanExportResult.SUCCESS  # the parent still works
    assert len(sink.payloads) == 5


ZERO_CODE_APP = textwrap.dedent(
    """
    import os
    from openai import OpenAI

    client = OpenAI(base_url=os.environ["STANDIN_BASE_URL"], api_key="sk-test-openai-key")
    assistant = client.beta.assistants.create(
        name="Math Tutor", instructions="You are a personal math tutor.",
        tools=[{"type": "code_interpreter"}], model="gpt-4o-mini")
    thread = client.beta.threads.create()
    client.beta.threads.messages.create(
        thread_id=thread.id, role="user",
        content="I need to solve the equation `3x + 11 = 14`. Can you help me?")
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id,
        instructions="Please address the user as Jane Doe.", poll_interval_ms=1)
    client.beta.threads.messages.list(thread_id=thread.id, order="asc")
    print(f"run {run.status}")  # one write: the console exporter prints from its thread
    """
)


def test_zero_code_with_opentelemetry_instrument(
    recordings_dir: Path, sink: ReconifySink, tmp_path: Path
) -> None:
    from reconify_otel.offline.assistants import ReplayAssistantsAPI

    app = tmp_path / "app.py"
    app.write_text(ZERO_CODE_APP)
    instrument = Path(sys.executable).parent / "opentelemetry-instrument"
    with ReplayAssistantsAPI(recordings_dir / "test_new_assistant_with_polling.yaml") as api:
        env = {
            **os.environ,
            "OTEL_TRACES_EXPORTER": "console,reconify",
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_LOGS_EXPORTER": "none",
            "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": UNRELATED_INSTRUMENTATIONS,
            "OTEL_BSP_SCHEDULE_DELAY": "100",
            "RECONIFY_ENDPOINT": f"{sink.url}/track",
            "RECONIFY_APP_KEY": APP_KEY,
            "RECONIFY_API_KEY": API_KEY,
            "STANDIN_BASE_URL": api.base_url,
        }
        done = subprocess.run(
            [str(instrument), sys.executable, str(app)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 0, done.stderr
    assert "run completed" in done.stdout
    assert '"name": "openai.assistant.run"' in done.stdout  # the console exporter ran too
    assert sink.wait_for(1, timeout=5)
    assert len(sink.payloads) == 1
    payload = sink.payloads[0]
    assert payload["response"]["id"] == "msg_HK3aVWLIOnojFNHPtnCPaIRI"
    assert payload["response"]["usage"]["total_tokens"] == 469
    assert payload["reconify"]["appKey"] == APP_KEY
    assert APP_KEY not in done.stderr and API_KEY not in done.stderr
    assert json.dumps(payload)  # the received payload is plain JSON


def test_own_span_attributes_contract_names_are_documented() -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "attributes.md").read_text()
    for name in (A.RUN_ID, A.REQUEST_MESSAGE, A.RESPONSE_MESSAGES, A.CONVERSATION_ID, A.AGENT_ID):
        assert f"`{name}`" in doc
