"""Shared fixtures: real loopback servers, never mocks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reconify_otel.loopback.sink import ReconifySink

APP_KEY = "app-key-5f3c9e1d7a"
API_KEY = "api-key-8b2e4d6f0c"


@pytest.fixture(scope="session")
def recordings_dir() -> Path:
    """``shared/`` lies beside the repository, on a developer machine and in CI alike."""
    path = Path(__file__).resolve().parents[2] / "shared/recordings/openai-assistants"
    if not path.is_dir():
        pytest.fail(f"recordings not found at {path}")
    return path


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
