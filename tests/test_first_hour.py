"""A new user's first hour, as README.md tells it: zero code, a missing key, the CLI.

Each test runs what the README shows, literally, against loopback stand-ins.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from reconify_otel_testing.assistants_api import SimulatedAssistantsAPI

from reconify_otel import ReconifySpanExporter, __version__
from reconify_otel.cli.main import main
from reconify_otel.exporter.entry_point import ReconifySpanExporterFromEnvironment
from reconify_otel.offline.sink import ReconifySink

from .doc_commands import EXAMPLES, README, VENV_BIN, block_with, run_shell, user_env
from .sink_command import post_once

sys.path.insert(0, str(EXAMPLES))
from _standins import OTLPReceiver, console_span_names

APP = EXAMPLES / "zero_code" / "app.py"  # two runs, each answer listed; no tracing code
RUN_SPAN = "invoke_agent Store Helper"


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    shutil.copy(APP, tmp_path / "app.py")
    return tmp_path


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
            OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="requests,urllib3,httpx",
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
    from .test_mapping import CURRENT, make_span

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
    from .test_mapping import CURRENT, make_span

    exporter = ReconifySpanExporterFromEnvironment(endpoint=f"{sink.url}/track")
    assert isinstance(exporter.exporter, ReconifySpanExporter)
    exporter.export([make_span("openai.assistant.run", CURRENT)])
    assert sink.accepted == 1 and exporter.stats()["accepted"] == 1
    exporter.shutdown()


def test_version_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out == f"reconify-otel {__version__}\n"


def test_demo_help_says_what_it_does(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    words = " ".join(capsys.readouterr().out.split())
    assert "two Assistants runs (Reconify's polling and streaming flows), a chat" in words
    assert "completion and a Responses API call" in words
    assert "sends the four payloads" in words


def test_the_readme_sink_command_prints_payloads_with_keys_masked() -> None:
    (command,) = block_with(README, "reconify-otel sink").split()[:1]
    assert command == ".venv/bin/reconify-otel"
    payload = {"reconify": {"appKey": "app-secret-1", "apiKey": "api-secret-2"}, "n": 1}
    session = post_once(VENV_BIN / "reconify-otel", payload)
    assert session.answer == {"status": "ok"}  # printed before it answered
    assert session.returncode == 0, session.err
    assert session.hint == (
        f"  export RECONIFY_ENDPOINT={session.endpoint} RECONIFY_APP_KEY=any RECONIFY_API_KEY=any"
        "   (Ctrl-C stops the sink)\n"
    )
    out, err = session.out, session.err
    shown = out.splitlines()
    assert shown[0] == "--- payload 1 (/track) ---"
    assert json.loads("\n".join(shown[1:])) == {
        "n": 1,
        "reconify": {"apiKey": "***", "appKey": "***"},
    }
    assert "secret" not in session.banner + out + err


def test_a_run_whose_answer_is_never_listed_is_explained_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import threading

    from reconify_otel.instrumentation import tracker
    from reconify_otel.instrumentation.tracker import FinishedRun, Limits, RunTracker

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
