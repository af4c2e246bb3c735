"""What every benchmark section shares: sizes, the run context, the report, helpers.

A section is a function ``bench(run: BenchRun) -> None`` in ``benchmarks/sections/``,
registered in ``benchmarks/run.py``'s ``STEPS``; it measures, then adds one markdown
section (and its PASS/MISS targets) to ``run.report``.
"""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

from benchmarks.common import (
    API_KEY,
    APP_KEY,
    PYTHON,
    env_for_children,
    free_port,
    median,
    stop,
    wait_accepted,
)

BATCH = 512  # what BatchSpanProcessor hands an exporter at most


@dataclass(frozen=True)
class Sizes:
    reps: int
    wire: int  # interactions per wire run, (a) and (b)
    loop_c: int  # (c) on the plain loopback sink (the first of the same interactions)
    slow_small: int  # (b) and (c) against the 20 ms sink
    cpu: int
    app_runs: int  # runs per block in benchmark 3
    app_reps: int
    unrelated: int
    bridge: int
    memory_runs: int


FULL = Sizes(
    reps=3,
    wire=10_000,
    loop_c=5_000,
    slow_small=200,
    cpu=10_000,
    app_runs=10,
    app_reps=30,
    unrelated=100_000,
    bridge=10_000,
    memory_runs=100_000,
)
QUICK = Sizes(
    reps=2,
    wire=100,
    loop_c=50,
    slow_small=10,
    cpu=200,
    app_runs=3,
    app_reps=2,
    unrelated=2_000,
    bridge=200,
    memory_runs=2_000,
)


@dataclass
class Target:
    name: str
    measured: str
    target: str
    ok: bool


@dataclass
class Report:
    sections: list[str] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)

    def add(self, text: str) -> None:
        self.sections.append(text.rstrip() + "\n")

    def target(self, name: str, measured: str, target: str, ok: bool) -> str:
        self.targets.append(Target(name, measured, target, ok))
        return f"**{'PASS' if ok else 'MISS'}** - {name}: {measured} (target {target})"


@dataclass(frozen=True)
class BenchRun:
    """One invocation's sizes, the report being filled, and a private spool directory."""

    sizes: Sizes
    report: Report
    spool_dir: Path


def rotated(items: Sequence[str], rep: int) -> list[str]:
    shift = rep % len(items)
    return [*items[shift:], *items[:shift]]


def batches(spans: Sequence[ReadableSpan]) -> list[Sequence[ReadableSpan]]:
    return [spans[i : i + BATCH] for i in range(0, len(spans), BATCH)]


def export_all(
    exporter: Any, spans: Sequence[ReadableSpan], what: str, problems: list[str]
) -> None:
    """``spans`` through ``exporter.export`` in 512-span batches; a failed batch is a problem."""
    for batch in batches(spans):
        result = exporter.export(batch)
        if result.name != "SUCCESS":
            problems.append(f"{what}: export returned {result}")


def fmt(value: float, digits: int = 1) -> str:
    return f"{value:,.{digits}f}"


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def new_exporter(endpoint: str, **options: Any) -> Any:
    from reconify_otel import ReconifySpanExporter

    return ReconifySpanExporter(endpoint, APP_KEY, API_KEY, **options)


def preparer() -> Callable[[Sequence[ReadableSpan]], list[bytes]]:
    """What the exporter does before sending: select, convert, map, shape, encode."""
    from reconify_otel.exporter.sdk_record import from_sdk
    from reconify_otel.prepare import Prepared, Preparer
    from reconify_otel.runtime.counters import Counters
    from reconify_otel.settings import resolve

    settings = resolve(endpoint="http://127.0.0.1:9/track", app_key=APP_KEY, api_key=API_KEY)
    prep = Preparer(settings, Counters())

    def run(spans: Sequence[ReadableSpan]) -> list[bytes]:
        bodies: list[bytes] = []
        for span in spans:
            if prep.selects(span.name, span.attributes or {}):
                prepared = prep.prepare(from_sdk(span))
                if isinstance(prepared, Prepared):
                    bodies.append(prepared.body)
        return bodies

    return run


def check_delivery(base: str, expected: int, label: str, problems: list[str]) -> dict[str, int]:
    stats = wait_accepted(base, expected)
    if stats["accepted"] != expected or stats["attempts"] != expected or stats["invalid"]:
        problems.append(f"{label}: expected {expected} accepted once each, sink says {stats}")
    return stats


def rates_table(routes: dict[str, list[float]]) -> str:
    """One row per route: the median and every repetition's spans per second."""
    rows = [
        [route, fmt(median(rates)), ", ".join(fmt(rate, 0) for rate in rates)]
        for route, rates in routes.items()
    ]
    return table(["route", "median spans/s", "runs /s"], rows)


def delivery_check(problems: list[str]) -> str:
    if not problems:
        return "every run: accepted == attempts == spans sent"
    return "DELIVERY PROBLEMS: " + "; ".join(problems)


def wait_healthy(
    url: str, proc: subprocess.Popen[bytes], timeout: float = 20.0, what: str = "the bridge"
) -> None:
    """Until ``url`` answers; a process that exits first or never answers is an error."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited at start")
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                answer.read()
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not answer {url}")


@contextmanager
def bridge_process(sink: str, spool: Path, **env: str) -> Iterator[str]:
    """``python -m reconify_otel.cli bridge`` forwarding to the sink at ``sink``, in its own
    process with default settings (``env``: more ``RECONIFY_*`` variables); yields its URL."""
    port = free_port()
    child_env = env_for_children(
        RECONIFY_ENDPOINT=f"{sink}/track",
        RECONIFY_APP_KEY=APP_KEY,
        RECONIFY_API_KEY=API_KEY,
        RECONIFY_SPOOL_DIR=str(spool),
        **env,
    )
    args = [PYTHON, "-m", "reconify_otel.cli", "bridge", "--port", str(port)]
    proc = subprocess.Popen(
        [*args, "--log-level", "warning"], env=child_env, stdout=subprocess.DEVNULL
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}/healthz", proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc, 15)
