"""Fault injection: outages, kills, hangs and rejections, each with exact counts.

The figures in docs/reliability.md come from this file:
``.venv/bin/python -m pytest tests/test_faults.py -v`` and, for the 30 s outage (the
``slow`` group), ``.venv/bin/python -m pytest -m slow -v``.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult

from reconify_otel import ReconifySpanExporter
from reconify_otel.offline.sink import Answer, ReconifySink

from .bridge_helpers import TOKEN
from .helpers import API_KEY, APP_KEY, CURRENT, make_span


def run_attributes(n: int) -> dict[str, Any]:
    """An upstream run span whose answer id names it, so duplicates are visible."""
    return {**CURRENT, "gen_ai.response.1.id": f"msg_{n:06d}"}


def answer_ids(sink: ReconifySink) -> list[str]:
    return [p["response"]["id"] for p in sink.payloads]


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@pytest.mark.slow  # about a minute: the 30 s outage, then 10,000 resent (.ci/run runs it)
def test_10000_interactions_through_a_30_second_outage(sink: ReconifySink) -> None:
    sink.outage(30, status=503)
    exporter = ReconifySpanExporter(
        f"{sink.url}/track", APP_KEY, API_KEY, timeout=1, spool_retry_seconds=1
    )
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=100))
    tracer = provider.get_tracer("faults")
    before = rss_mib()
    started = time.monotonic()
    for n in range(10_000):  # about 1,000 runs a second, for 10 s
        with tracer.start_as_current_span("openai.assistant.run", attributes=run_attributes(n)):
            pass
        if n % 100 == 99:
            time.sleep(max(0.0, (n + 1) / 1000 - (time.monotonic() - started)))
    provider.force_flush()
    grown = rss_mib() - before
    assert sink.accepted == 0  # still down: everything is on disk
    assert sink.wait_for(10_000, timeout=90)
    time.sleep(0.5)
    provider.shutdown()
    ids = answer_ids(sink)
    assert len(ids) == 10_000 and len(set(ids)) == 10_000  # all delivered, none twice
    stats = exporter.stats()
    assert stats["spooled"] == 10_000
    assert stats["resent_accepted"] == 10_000
    assert grown < 100, f"memory grew {grown:.0f} MiB during the outage"
    print(f"FIGURES outage: 10000 delivered once, RSS +{grown:.1f} MiB, stats {stats}")


KILLED_APP = textwrap.dedent(
    """
    import sys, time
    from reconify_otel import ReconifySpanExporter
    from tests.helpers import CURRENT, make_span

    exporter = ReconifySpanExporter(sys.argv[1], timeout=0.3)
    spans = [make_span("openai.assistant.run", {**CURRENT, "gen_ai.response.1.id": f"msg_{n:06d}"})
             for n in range(500)]
    for start in range(0, 500, 100):
        exporter.export(spans[start:start + 100])
    print("spooled", exporter.stats()["spooled"], flush=True)
    time.sleep(60)
    """
)


def test_sigkill_during_an_outage_loses_nothing(
    sink: ReconifySink, tmp_path: Path, keys: tuple[str, str]
) -> None:
    sink.outage(60, status=503)
    script = tmp_path / "app.py"
    script.write_text(KILLED_APP)
    root = Path(__file__).resolve().parents[1]
    process = subprocess.Popen(
        [sys.executable, str(script), f"{sink.url}/track"],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "spooled 500"
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    assert sink.accepted == 0
    sink.end_outage()
    # A new process with the same spool sends what the killed one left, at start-up.
    exporter = ReconifySpanExporter(f"{sink.url}/track", spool_retry_seconds=0.2)
    assert sink.wait_for(500, timeout=30)
    time.sleep(0.3)
    exporter.shutdown()
    ids = answer_ids(sink)
    assert len(ids) == 500 and len(set(ids)) == 500


def test_shutdown_while_the_endpoint_hangs_returns_in_time_and_keeps_the_payload(
    sink: ReconifySink,
) -> None:
    sink.set_default(Answer.hang(30))
    exporter = ReconifySpanExporter(f"{sink.url}/track", APP_KEY, API_KEY, timeout=20)
    results: list[SpanExportResult] = []
    worker = threading.Thread(
        target=lambda: results.append(
            exporter.export([make_span("openai.assistant.run", CURRENT)])
        ),
        daemon=True,
    )
    worker.start()
    assert sink.wait_for_attempts(1, timeout=5)
    started = time.monotonic()
    exporter.shutdown(timeout_millis=1000)
    assert time.monotonic() - started < 5.0  # not the 20 s deadline
    assert exporter.stats()["spooled"] == 1  # the payload in flight is on disk
    # The endpoint recovers; the next process delivers it.
    sink.set_default(Answer.ok())
    sink.stop()  # ends the hanging answer
    with ReconifySink(port=sink.port) as healthy:  # the same endpoint, healthy again
        again = ReconifySpanExporter(
            f"{healthy.url}/track", APP_KEY, API_KEY, spool_retry_seconds=0.2
        )
        assert healthy.wait_for(1, timeout=10)
        again.shutdown()
        assert answer_ids(healthy) == ["msg_HK3aVWLIOnojFNHPtnCPaIRI"]
    worker.join(timeout=25)
    assert results == [SpanExportResult.FAILURE]
    assert exporter.stats()["spooled"] == 1  # not spooled twice by the late thread


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


def test_bridge_behind_an_otlp_client_through_a_reconify_outage(
    sink: ReconifySink,
    start_bridge: Any,
) -> None:
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    url, _ = start_bridge(timeout=0.3)
    spans = [make_span("openai.assistant.run", run_attributes(n)) for n in range(20)]
    sink.outage(2.5, status=503, retry_after=1)
    client = OTLPSpanExporter(
        endpoint=f"{url}/v1/traces",
        compression=Compression.Gzip,
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=20,
    )
    started = time.monotonic()
    assert client.export(spans) is SpanExportResult.SUCCESS  # it retried on 503 + Retry-After
    assert time.monotonic() - started >= 2.0
    client.shutdown()
    ids = answer_ids(sink)
    assert sorted(ids) == sorted(f"msg_{n:06d}" for n in range(20))  # each once
    assert sink.attempts > 20  # the outage was really met
