"""Zero code, as README.md tells it: ``opentelemetry-instrument`` with the ``reconify``
exporter, a missing key, and the entry point behind it.

Each test runs what the README shows, literally, against loopback stand-ins.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from reconify_otel_testing.assistants_api import SimulatedAssistantsAPI

from reconify_otel import ReconifySpanExporter
from reconify_otel.exporter.entry_point import ReconifySpanExporterFromEnvironment
from reconify_otel.offline.sink import ReconifySink

from .doc_commands import EXAMPLES, README, VENV_BIN, block_with, run_shell, user_env
from .helpers import UNRELATED_INSTRUMENTATIONS

sys.path.insert(0, str(EXAMPLES))
from _standins import OTLPReceiver, console_span_names

APP = EXAMPLES / "zero_code" / "app.py"  # two runs, each answer listed; no tracing code
RUN_SPAN = "invoke_agent Store Helper"


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    shutil.copy(APP, tmp_path / "app.py")
    return tmp_path


@pytest.mark.slow  # about 10 s: opentelemetry-instrument loads every instrumentor (.ci/run)
def test_the_readme_zero_code_command_sends_each_run_once(app_dir: Path) -> None:
    block = block_with(README, "opentelemetry-instrument python app.py")
    with SimulatedAssistantsAPI() as api, ReconifySink() as sink, OTLPReceiver() as otlp:
        assert isinstance(otlp, OTLPReceiver)
        env = user_env(
            OPENAI_BASE_URL=api.base_url,
            OPENAI_API_KEY="sk-offline",
            RECONIFY_ENDPOINT=f"{sink.url}/track",
            RECONIFY_SPOOL_DIR=str(app_dir / "spool"),
            OTEL_EXPORTER_OTLP_ENDPOINT=otlp.url,  # where Jaeger or a Collector would be
        )
        done = run_shell(block, app_dir, env)
        assert done.returncode == 0, done.stderr
        assert "Failed to auto initialize" not in done.stderr
        answers = [line.split()[1] for line in done.stdout.splitlines() if line[:7] == "answer "]
        assert len(answers) == 2
        assert sink.accepted == 2  # the app has exited: everything was sent before
        assert sorted(p["response"]["id"] for p in sink.payloads) == sorted(answers)
        assert [p["reconify"]["appKey"] for p in sink.payloads] == ["...", "..."]  # the block's
        assert Counter(otlp.span_names)[RUN_SPAN] == 2  # the OTLP exporter got them too


@pytest.mark.slow  # about 5 s each: opentelemetry-instrument's start (.ci/run runs it)
@pytest.mark.parametrize("exporters", ["console,reconify", "reconify,console"])
def test_a_missing_key_under_opentelemetry_instrument_stops_only_reconify(
    app_dir: Path, exporters: str
) -> None:
    with SimulatedAssistantsAPI() as api, ReconifySink() as sink:
        env = user_env(
            OPENAI_BASE_URL=api.base_url,
            OPENAI_API_KEY="sk-offline",
            RECONIFY_ENDPOINT=f"{sink.url}/track",
            OTEL_TRACES_EXPORTER=exporters,
            OTEL_METRICS_EXPORTER="none",
            OTEL_LOGS_EXPORTER="none",
            OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=UNRELATED_INSTRUMENTATIONS,
        )
        done = subprocess.run(
            [str(VENV_BIN / "opentelemetry-instrument"), sys.executable, "app.py"],
            cwd=app_dir,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert sink.attempts == 0
    # The instrumentation ran and the console exporter printed both runs.
    assert Counter(console_span_names(done.stdout))[RUN_SPAN] == 2
    assert "Failed to auto initialize" not in done.stderr
    (error,) = [line for line in done.stderr.splitlines() if "Reconify export is OFF" in line]
    assert "RECONIFY_APP_KEY" in error and "RECONIFY_API_KEY" in error


def test_the_entry_point_is_the_forgiving_factory() -> None:
    from importlib.metadata import entry_points

    (entry,) = entry_points(group="opentelemetry_traces_exporter", name="reconify")
    assert entry.load() is ReconifySpanExporterFromEnvironment


def test_without_keys_code_raises_and_the_entry_point_counts_what_it_drops(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from .helpers import CURRENT, make_span

    monkeypatch.delenv("RECONIFY_APP_KEY", raising=False)
    monkeypatch.delenv("RECONIFY_API_KEY", raising=False)
    with pytest.raises(ValueError, match="RECONIFY_APP_KEY"):
        ReconifySpanExporter()
    caplog.set_level(logging.INFO, logger="reconify_otel")
    exporter = ReconifySpanExporterFromEnvironment()
    assert exporter.exporter is None
    run = make_span("openai.assistant.run", CURRENT)
    unrelated = TracerProvider().get_tracer("t").start_span("GET /health")
    unrelated.end()
    exporter.export([run, unrelated, run])
    stats = exporter.stats()
    assert stats["skipped_not_configured"] == 2
    assert {name: count for name, count in stats.items() if count} == {"skipped_not_configured": 2}
    assert [r.levelname for r in caplog.records] == ["ERROR"]
    exporter.shutdown()


def test_with_keys_the_entry_point_is_the_exporter(
    keys: tuple[str, str], sink: ReconifySink
) -> None:
    from .helpers import CURRENT, make_span

    exporter = ReconifySpanExporterFromEnvironment(endpoint=f"{sink.url}/track")
    assert isinstance(exporter.exporter, ReconifySpanExporter)
    exporter.export([make_span("openai.assistant.run", CURRENT)])
    assert sink.accepted == 1 and exporter.stats()["accepted"] == 1
    exporter.shutdown()
