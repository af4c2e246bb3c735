"""After an outage the next export goes straight out and the backlog drains, each payload
once; shutdown racing export loses nothing uncounted; a refused spool gives up quickly.
Fault injection with exact counts: a 30 s outage under load, SIGKILL during an outage, a
shutdown while the endpoint hangs.

The figures in docs/reliability.md come from these tests (the command it shows), and, for
the 30 s outage (the ``slow`` group), ``.venv/bin/python -m pytest -m slow -v``.

The "within N seconds" figures are measured by ``python -m benchmarks`` (outage
recovery), not asserted here: these tests wait, generously, for exact counts.
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

from reconify_otel import ReconifySpanExporter, reconify_openai_handler
from reconify_otel.core.payload import Skip
from reconify_otel.offline.sink import Answer, ReconifySink
from reconify_otel.runtime.counters import STATS_NAMES

from .helpers import API_KEY, APP_KEY, CURRENT, answer_ids, make_span, run_attributes

SPAN = "openai.assistant.run"


def spans(first: int, count: int) -> list[Any]:
    """Runs whose answer id names them, so a duplicate or a loss is visible."""
    return [
        make_span(SPAN, {**CURRENT, "gen_ai.response.1.id": f"msg_{n:06d}"})
        for n in range(first, first + count)
    ]


def ids(sink: ReconifySink) -> list[str]:
    return [p["response"]["id"] for p in sink.payloads]


def expected(count: int) -> list[str]:
    return [f"msg_{n:06d}" for n in range(count)]


def exporter_for(url: str, **options: Any) -> ReconifySpanExporter:
    return ReconifySpanExporter(f"{url}/track", APP_KEY, API_KEY, **options)


def test_every_counter_is_there_from_the_start(sink: ReconifySink) -> None:
    exporter = exporter_for(sink.url)
    handler = reconify_openai_handler(app_key=APP_KEY, api_key=API_KEY, endpoint=sink.url)
    for stats in (exporter.stats(), handler.stats()):
        assert tuple(stats) == STATS_NAMES and set(stats.values()) == {0}
    assert {f"skipped_{reason.value}" for reason in Skip} <= set(STATS_NAMES)
    exporter.shutdown()
    handler.close(1)


@pytest.mark.slow  # about 5 s of real outage and drain (.ci/run runs it)
def test_after_a_503_outage_the_backlog_drains_once_and_the_next_export_goes_out(
    sink: ReconifySink, caplog: pytest.LogCaptureFixture, private_spool: Path
) -> None:
    caplog.set_level(logging.WARNING, logger="reconify_otel")
    sink.outage(4, status=503, retry_after=1)
    exporter = exporter_for(sink.url)
    for first in range(0, 500, 100):
        assert exporter.export(spans(first, 100)) is SpanExportResult.FAILURE
    assert sink.wait_for(500, timeout=60)
    time.sleep(0.5)  # a duplicate would arrive now
    assert sorted(ids(sink)) == expected(500)  # all delivered, none twice
    stats = exporter.stats()
    assert stats["spooled"] == stats["failed"] + stats["deferred"] + stats["shut_down"]
    assert stats["resent_accepted"] == stats["spooled"] == 500 - stats["accepted"]
    assert exporter.export(spans(500, 100)) is SpanExportResult.SUCCESS  # straight out
    assert sorted(ids(sink)) == expected(600)
    assert exporter.stats()["accepted"] == stats["accepted"] + 100
    text = caplog.text
    assert f"{sink.url}/track" in text and str(private_spool) in text  # where, and kept where
    assert APP_KEY not in text and API_KEY not in text
    exporter.shutdown()
    assert list(private_spool.iterdir()) == []  # drained: no folder left behind


@pytest.mark.slow  # about 5 s of refused connections (.ci/run runs it)
def test_500_single_span_exports_through_refused_connections_drain_once(
    private_spool: Path,
) -> None:
    with ReconifySink() as probe:
        port = probe.port
    exporter = exporter_for(f"http://127.0.0.1:{port}")  # nothing listens: refused
    for n in range(500):
        exporter.export(spans(n, 1))
    stats = exporter.stats()
    assert stats["spooled"] == 500 and stats["accepted"] == 0
    with ReconifySink(port=port) as sink:  # the endpoint comes back
        assert sink.wait_for(500, timeout=60)
        time.sleep(0.5)
        assert sorted(ids(sink)) == expected(500)
        assert exporter.stats()["resent_accepted"] == 500
        exporter.shutdown()
    left = {f.name: f.read_text()[:200] for p in private_spool.iterdir() for f in p.iterdir()}
    assert left == {}, exporter.stats()


def test_shutdown_racing_exports_on_three_threads_delivers_or_spools_each(
    sink: ReconifySink,
) -> None:
    sink.set_default(Answer.slow(0.01))
    exporter = exporter_for(sink.url, concurrency=4)
    batches = [spans(first, 40) for first in (0, 40, 80)]
    threads = [threading.Thread(target=exporter.export, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    assert sink.wait_for_attempts(10, timeout=10)
    exporter.shutdown(timeout_millis=10_000)
    for thread in threads:
        thread.join(30)
    stats = exporter.stats()
    assert stats["internal_errors"] == 0
    assert stats["accepted"] + stats["shut_down"] == 120
    assert stats["spooled"] == stats["shut_down"] > 0  # the rest is on disk
    delivered = len(sink.payloads)
    assert delivered == stats["accepted"]
    again = exporter_for(sink.url)  # the next process sends what was spooled
    assert sink.wait_for(120, timeout=30)
    time.sleep(0.3)
    assert sorted(ids(sink)) == expected(120)
    again.shutdown()


def test_shutdown_0_to_10_ms_into_an_export_loses_nothing(sink: ReconifySink) -> None:
    sink.set_default(Answer.slow(0.002))
    for trial in range(40):
        exporter = exporter_for(sink.url)
        worker = threading.Thread(target=exporter.export, args=(spans(trial * 20, 20),))
        worker.start()
        time.sleep((trial % 11) / 1000)
        exporter.shutdown()
        worker.join(30)
        stats = exporter.stats()
        assert stats["internal_errors"] == 0, trial
        counted = sum(stats[name] for name in ("accepted", "shut_down", "resent_accepted"))
        assert counted >= 20 and stats["spooled"] >= stats["shut_down"], (trial, stats)
    again = exporter_for(sink.url)
    assert sink.wait_for(800, timeout=60)
    time.sleep(0.3)
    assert sorted(set(ids(sink))) == expected(800)  # every one arrived
    again.shutdown()


def test_exports_after_shutdown_are_counted_as_lost(sink: ReconifySink) -> None:
    exporter = exporter_for(sink.url)
    exporter.shutdown()
    assert exporter.export(spans(0, 3)) is SpanExportResult.FAILURE
    assert exporter.stats()["dropped_after_shutdown"] == 3


@pytest.mark.parametrize("refusal", ["a file", "another user's directory"])
def test_a_refused_spool_gives_up_quickly_counts_and_says_what_to_fix(
    sink: ReconifySink, tmp_path: Path, caplog: pytest.LogCaptureFixture, refusal: str
) -> None:
    caplog.set_level(logging.WARNING, logger="reconify_otel")
    spool_dir = tmp_path / "spool"
    if refusal == "a file":
        spool_dir.write_text("")
    else:
        if os.geteuid() != 0:
            pytest.skip("needs root to make a directory another user owns")
        spool_dir.mkdir()
        os.chown(spool_dir, 12345, 12345)
    sink.outage(60, status=503)
    exporter = exporter_for(sink.url, spool_dir=str(spool_dir), export_timeout=1)
    assert exporter.export(spans(0, 100)) is SpanExportResult.FAILURE
    assert exporter.export(spans(100, 100)) is SpanExportResult.FAILURE
    stats = exporter.stats()
    assert stats["dropped_undelivered"] == 200 and stats["spooled"] == 0
    assert stats["failed"] + stats["deferred"] == 200
    assert sink.attempts < 50  # not 200 payloads each retried: most were never tried
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len([m for m in errors if "spool refused" in m and str(spool_dir) in m]) == 1
    assert len([m for m in errors if "no spool: lost" in m and "spool_dir" in m]) == 1
    exporter.shutdown()


# --- fault injection -------------------------------------------------------------------


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


def test_the_readme_lists_every_counter() -> None:
    import re

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("\n## Observability\n", 1)[1].split("\n## ", 1)[0]
    first_cells = re.findall(r"^\| ([^|]+) \|", section, re.MULTILINE)
    listed = {name for cell in first_cells for name in re.findall(r"`(\w+)`", cell)}
    assert listed == set(STATS_NAMES)


def test_the_numbers_docs_reliability_states_are_the_codes() -> None:
    from dataclasses import fields

    from reconify_otel.delivery.breaker import FIRST_PAUSE
    from reconify_otel.delivery.durable import RESEND_BATCH
    from reconify_otel.settings import Settings

    doc = (Path(__file__).resolve().parents[1] / "docs" / "reliability.md").read_text()
    defaults = {f.name: f.default for f in fields(Settings)}
    assert f"| payloads sent at once | `concurrency` = {defaults['concurrency']} |" in doc
    assert f"({defaults['export_timeout']:.0f} s by default" in doc
    assert f"`spool_retry_seconds` ({defaults['spool_retry_seconds']:.0f} s)" in doc
    assert f"pause of {FIRST_PAUSE} s" in doc
    assert f"up to {RESEND_BATCH} payloads a round" in doc
