"""What the framework tests share: the exporter's and the bridge's sinks around a
``Pipeline``, and a traced application run in a fresh interpreter (frameworks that take
the process's global tracer provider: Logfire, LiteLLM's callback)."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from reconify_otel.offline.sink import ReconifySink

from .bridge_helpers import TOKEN, bridges
from .helpers import API_KEY, APP_KEY
from .llm_replay import BRIDGE_LIMITS, Pipeline

# The recorded chat calls the frameworks' calls are answered with, and what they ask.
PLAIN = "openai__test_chat__test_chat"
STREAMED = "openai__test_chat__test_chat_streaming"
MESSAGES = [
    {"role": "system", "content": "You are a comedian."},
    {"role": "user", "content": "Tell me a joke about opentelemetry"},
]


@contextlib.contextmanager
def routed(through_bridge: bool) -> Iterator[tuple[ReconifySink, ReconifySink, Pipeline]]:
    """The exporter's sink, the bridge's sink, and a ``Pipeline`` sending to the first and
    (``through_bridge``) through a real bridge to the second."""
    with ReconifySink() as sink, ReconifySink() as bridge_sink, bridges(bridge_sink) as start:
        url = start(**BRIDGE_LIMITS)[0] if through_bridge else None
        with Pipeline(sink, url) as pipeline:
            yield sink, bridge_sink, pipeline


def run_traced_app(
    script: str, args: dict[str, Any], work: Path, env: dict[str, str], timeout: float
) -> dict[str, Any]:
    """``script`` in a fresh interpreter (frameworks that take the global tracer provider),
    given ``args`` and the keys and bridge token as JSON; what it wrote to ``args["out"]``.
    Run in ``work``: a framework may write files where it runs."""
    given = {**args, "token": TOKEN, "app_key": APP_KEY, "api_key": API_KEY}
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(given)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result: dict[str, Any] = json.loads(Path(args["out"]).read_text())
    return result
