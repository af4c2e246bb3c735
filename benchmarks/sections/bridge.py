"""5. OTLP -> ``reconify-otel bridge`` -> sink, vs the in-process exporter."""

from __future__ import annotations

import subprocess
import time
import urllib.request

from benchmarks.common import (
    API_KEY,
    APP_KEY,
    PYTHON,
    env_for_children,
    free_port,
    make_spans,
    median,
    sink_process,
    sink_reset,
    stop,
)
from benchmarks.harness import (
    BenchRun,
    batches,
    check_delivery,
    fmt,
    log,
    new_exporter,
    rotated,
    table,
)


def wait_healthy(
    url: str, proc: subprocess.Popen[bytes], timeout: float = 20.0, what: str = "the bridge"
) -> None:
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


def bench(run: BenchRun) -> None:
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    sizes, report = run.sizes, run.report
    log("5. bridge")
    problems: list[str] = []
    samples: dict[str, list[float]] = {"bridge": [], "in-process": []}
    with sink_process() as base:
        port = free_port()
        env = env_for_children(
            RECONIFY_ENDPOINT=f"{base}/track",
            RECONIFY_APP_KEY=APP_KEY,
            RECONIFY_API_KEY=API_KEY,
            RECONIFY_SPOOL_DIR=str(run.spool_dir / "bridge"),
        )
        args = [
            PYTHON,
            "-m",
            "reconify_otel.cli",
            "bridge",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ]
        proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL)
        try:
            wait_healthy(f"http://127.0.0.1:{port}/healthz", proc)
            otlp = OTLPSpanExporter(
                endpoint=f"http://127.0.0.1:{port}/v1/traces",
                compression=Compression.Gzip,
                timeout=120,
            )
            for rep in range(sizes.reps):
                for kind in rotated(list(samples), rep):
                    # Fresh span ids each run: the bridge's dedup window drops repeats.
                    spans = make_spans(sizes.bridge, "own")
                    sink_reset(base)
                    exporter = otlp if kind == "bridge" else new_exporter(f"{base}/track")
                    started = time.perf_counter()
                    for batch in batches(spans):
                        result = exporter.export(batch)
                        if result.name != "SUCCESS":
                            problems.append(f"{kind}: export returned {result}")
                    elapsed = time.perf_counter() - started
                    if kind != "bridge":
                        exporter.shutdown()
                    check_delivery(base, len(spans), f"{kind} rep {rep + 1}", problems)
                    samples[kind].append(len(spans) / elapsed)
            otlp.shutdown()
        finally:
            stop(proc, 15)
    ratio = median(samples["bridge"]) / median(samples["in-process"])
    routes = {
        "OTLPSpanExporter (gzip, 512-span batches) -> `reconify-otel bridge` -> sink": samples[
            "bridge"
        ],
        "in-process ReconifySpanExporter -> sink": samples["in-process"],
    }
    verdict = report.target(
        "5. bridge / in-process spans per second", f"{ratio:.2f}x", ">= 0.90x", ratio >= 0.9
    )
    report.add(
        "## 5. The bridge\n\n"
        f"{sizes.bridge:,} assistant-run spans per run (fresh ids each run), bridge and sink "
        "each in their own process (`python -m reconify_otel.cli bridge`, "
        "`RECONIFY_ENDPOINT` = the sink), default bridge settings; "
        f"median of {sizes.reps} interleaved repetitions. An export returns once the bridge "
        "has forwarded the batch, so the rate is end to end.\n\n"
        + rates_table(routes)
        + f"\n\nDelivery check: {delivery_check(problems)}.\n\n- {verdict}"
    )


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
