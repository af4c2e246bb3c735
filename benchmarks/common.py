"""Shared pieces: span fixtures, helper processes (sink, bridge, Assistants API), stats."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the attribute fixtures live in tests/helpers.py
    sys.path.insert(0, str(ROOT))

from tests.helpers import CURRENT, OWN  # noqa: E402

APP_KEY = "bench-app-key-5f3c9e1d7a"
API_KEY = "bench-api-key-8b2e4d6f0c"
PYTHON = sys.executable

__all__ = ["API_KEY", "APP_KEY", "CURRENT", "OWN"]


class _Collect(SpanProcessor):
    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def on_end(self, span: ReadableSpan) -> None:
        self.spans.append(span)


def make_spans(count: int, kind: str = "own") -> list[ReadableSpan]:
    """``count`` finished SDK spans with unique ids.

    ``own``: AssistantsInstrumentor's ``invoke_agent`` spans (OWN), ``upstream``: the
    ``openai.assistant.run`` spans of opentelemetry-instrumentation-openai (CURRENT),
    ``mixed``: alternating, ``other``: unrelated ``GET /users``-style spans.
    """
    collect = _Collect()
    provider = TracerProvider()
    provider.add_span_processor(collect)
    tracer = provider.get_tracer("benchmarks")
    for i in range(count):
        pick = kind if kind != "mixed" else ("own", "upstream")[i % 2]
        if pick == "own":
            name, attrs = "invoke_agent Math Tutor", OWN
        elif pick == "upstream":
            name, attrs = "openai.assistant.run", CURRENT
        else:
            name = ("GET /users", "POST /orders", "SELECT users", "GET /health")[i % 4]
            attrs = {
                "http.request.method": name.split()[0],
                "url.path": "/users/42",
                "http.response.status_code": 200,
                "server.address": "api.internal",
            }
        tracer.start_span(name, attributes=attrs).end()
    provider.shutdown()
    return collect.spans


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def env_for_children(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT / "src"), str(ROOT), env.get("PYTHONPATH", "")) if p
    )
    env.update(extra)
    return env


@contextmanager
def child(args: list[str], env: dict[str, str] | None = None) -> Iterator[tuple[Any, str]]:
    """A helper process that prints ``listening <port>``; yields (process, port)."""
    proc = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env or env_for_children(),
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().split()
        if len(line) != 2 or line[0] != "listening":
            raise RuntimeError(f"helper {args} did not start: {line}")
        yield proc, line[1]
    finally:
        stop(proc, 10)


def stop(proc: subprocess.Popen[Any], timeout: float) -> None:
    """SIGTERM, then SIGKILL if it has not gone within ``timeout`` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def sink_process(hold_ms: float = 0.0) -> Iterator[str]:
    """``python -m reconify_otel.offline.sink`` in its own process; yields its base URL."""
    args = [PYTHON, "-m", "reconify_otel.offline.sink", "--port", "0"]
    if hold_ms:
        args += ["--hold-ms", str(hold_ms)]
    with child(args) as (_proc, port):
        yield f"http://127.0.0.1:{port}"


def sink_stats(base: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{base}/stats", timeout=10) as answer:
        return dict(json.loads(answer.read()))


def sink_reset(base: str) -> None:
    request = urllib.request.Request(f"{base}/reset", data=b"{}", method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        answer.read()


def wait_accepted(base: str, count: int, timeout: float = 30.0) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    stats = sink_stats(base)
    while stats["accepted"] < count and time.monotonic() < deadline:
        time.sleep(0.02)
        stats = sink_stats(base)
    return stats


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
