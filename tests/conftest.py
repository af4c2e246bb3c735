"""Shared fixtures: real loopback servers, never mocks."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from reconify_otel_testing.assistants_api import SimulatedAssistantsAPI

from reconify_otel.offline import ASSISTANTS_RECORDINGS
from reconify_otel.offline.sink import ReconifySink

from .helpers import API_KEY, APP_KEY, sdk_restored


@pytest.fixture(scope="session")
def recordings_dir() -> Path:
    """The Assistants recordings ship inside the test doubles' distribution."""
    return ASSISTANTS_RECORDINGS


@pytest.fixture
def sink() -> Iterator[ReconifySink]:
    with ReconifySink() as server:
        yield server


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """Keys in the environment, as ``opentelemetry-instrument`` users set them."""
    monkeypatch.setenv("RECONIFY_APP_KEY", APP_KEY)
    monkeypatch.setenv("RECONIFY_API_KEY", API_KEY)
    return APP_KEY, API_KEY


@pytest.fixture(autouse=True)
def private_spool(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Each test its own spool: what one test left undelivered never reaches another's sink."""
    directory = tmp_path_factory.mktemp("spool")
    monkeypatch.setenv("RECONIFY_SPOOL_DIR", str(directory))
    return directory


TRACELOOP_RESPONSES = "opentelemetry.instrumentation.openai.v1.responses_wrappers"


@pytest.fixture(autouse=True)
def bare_openai_sdk() -> Iterator[None]:
    """No test sees another test's instrumentation, nor what it remembered: traceloop keeps
    every Responses call it saw by response id, module-wide, and continues the old span
    when a replayed id comes back (so a test after another that replayed it got no span)."""
    traceloop_responses = sys.modules.get(
        "opentelemetry.instrumentation.openai.v1.responses_wrappers"
    )
    if traceloop_responses is not None:
        traceloop_responses.responses.clear()
    with sdk_restored():
        yield


@pytest.fixture
def start_bridge(sink: ReconifySink) -> Iterator[Any]:
    """Start bridges sending to ``sink``: ``start_bridge(**overrides) -> (url, app)``."""
    from .bridge_helpers import bridges  # here, not above: only bridge tests need uvicorn

    with bridges(sink) as start:
        yield start


@pytest.fixture
def bridge(start_bridge: Any) -> Any:
    """One bridge with the test limits, sending to ``sink``: ``(url, app)``."""
    return start_bridge()


@pytest.fixture
def in_process_sink() -> Iterator[ReconifySink]:
    """A second sink, for what the in-process exporter sends beside the bridge."""
    with ReconifySink() as server:
        yield server


@pytest.fixture
def sim() -> Iterator[SimulatedAssistantsAPI]:
    """The simulated Assistants API on loopback, for the real openai SDK."""
    with SimulatedAssistantsAPI() as api:
        yield api


@pytest.fixture(params=[0o777, 0o1777], ids=["0777", "sticky-1777"])
def shared(request: pytest.FixtureRequest) -> Iterator[Path]:
    """A folder everybody can write to (``spool_users.as_user`` plays the other user)."""
    directory = Path(tempfile.mkdtemp(prefix="reconify-shared-"))
    os.chmod(directory, request.param)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)
