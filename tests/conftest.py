"""Shared fixtures: real loopback servers, never mocks."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import wrapt
from reconify_otel_testing import ASSISTANTS_RECORDINGS
from reconify_otel_testing.sink import ReconifySink

APP_KEY = "app-key-5f3c9e1d7a"
API_KEY = "api-key-8b2e4d6f0c"


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


_PATCHED_CLASSES = [
    ("openai.resources.beta.threads.runs.runs", ("Runs", "AsyncRuns")),
    ("openai.resources.beta.threads.messages", ("Messages", "AsyncMessages")),
    ("openai.resources.beta.threads.threads", ("Threads", "AsyncThreads")),
    ("openai.resources.beta.assistants", ("Assistants", "AsyncAssistants")),
    ("openai.resources.chat.completions", ("Completions", "AsyncCompletions")),
    ("openai.resources.completions", ("Completions", "AsyncCompletions")),
    ("openai.resources.embeddings", ("Embeddings", "AsyncEmbeddings")),
    ("openai.resources.images", ("Images", "AsyncImages")),
    ("openai.resources.responses", ("Responses", "AsyncResponses")),
]


# wrapt 2 spells the proxy base BaseObjectProxy; wrapt 1 ObjectProxy.
_PROXY = getattr(wrapt, "BaseObjectProxy", wrapt.ObjectProxy)


@contextmanager
def sdk_restored() -> Iterator[None]:
    """Run on the bare SDK and leave it bare.

    ``OpenAIInstrumentor.uninstrument()`` (0.62) leaves its Assistants wrappers on the SDK:
    it calls ``unwrap(module, "Runs.create")``, a dotted attribute that never resolves.
    """
    clean = []
    for module, names in _PATCHED_CLASSES:
        mod = importlib.import_module(module)
        for name in names:
            cls = getattr(mod, name, None)
            for key, value in dict(vars(cls) if cls is not None else {}).items():
                bare = value
                while isinstance(bare, _PROXY):
                    bare = bare.__wrapped__
                if bare is not value:
                    setattr(cls, key, bare)
                clean.append((cls, key, bare))
    try:
        yield
    finally:
        for cls, key, bare in clean:
            if vars(cls).get(key) is not bare:
                setattr(cls, key, bare)


@pytest.fixture(autouse=True)
def private_spool(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Each test its own spool: what one test left undelivered never reaches another's sink."""
    directory = tmp_path_factory.mktemp("spool")
    monkeypatch.setenv("RECONIFY_SPOOL_DIR", str(directory))
    return directory


@pytest.fixture(autouse=True)
def bare_openai_sdk() -> Iterator[None]:
    """No test sees another test's instrumentation."""
    with sdk_restored():
        yield
