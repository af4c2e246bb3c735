"""What every benchmark section shares: sizes, the run context, the report, helpers.

A section is a function ``bench(run: BenchRun) -> None`` in ``benchmarks/sections/``,
registered in ``benchmarks/run.py``'s ``STEPS``; it measures, then adds one markdown
section (and its PASS/MISS targets) to ``run.report``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

from benchmarks.common import API_KEY, APP_KEY, wait_accepted

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
    from reconify_otel.core.assistant import is_assistant_run
    from reconify_otel.exporter.sdk_record import from_sdk
    from reconify_otel.prepare import Preparer
    from reconify_otel.runtime.counters import Counters
    from reconify_otel.settings import resolve

    settings = resolve(endpoint="http://127.0.0.1:9/track", app_key=APP_KEY, api_key=API_KEY)
    prep = Preparer(settings, Counters())

    def run(spans: Sequence[ReadableSpan]) -> list[bytes]:
        bodies: list[bytes] = []
        for span in spans:
            if is_assistant_run(span.name, span.attributes or {}):
                result = prep.prepare(from_sdk(span))
                body = result if isinstance(result, bytes) else getattr(result, "body", None)
                if body is not None:
                    bodies.append(body)
        return bodies

    return run


def check_delivery(base: str, expected: int, label: str, problems: list[str]) -> dict[str, int]:
    stats = wait_accepted(base, expected)
    if stats["accepted"] != expected or stats["attempts"] != expected or stats["invalid"]:
        problems.append(f"{label}: expected {expected} accepted once each, sink says {stats}")
    return stats
