"""Outage recovery: how soon delivery resumes after the endpoint comes back, and how fast
the backlog drains, beside the real ``OTLPSpanExporter`` measured the same way.

Each scenario: the endpoint answers 503 (``Retry-After: 1``) for N seconds; an app's
single export thread (as the SDK's ``BatchSpanProcessor``) exports 5 batches of 100
interactions spread over the outage; then, 0.5 s after recovery, one more batch of 100.
Measured from the moment the endpoint recovered.

Across a WAN: N interactions spooled while nothing listens (a refused connection), then
a sink 20 ms away (``--hold-ms 20``, its own process) starts on that port; measured from
its start until it holds all N, beside one fresh export of 2,000 to the same sink.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

from benchmarks.common import API_KEY, APP_KEY, PYTHON, child, free_port, sink_stats
from benchmarks.harness import BATCH, QUICK, BenchRun, export_all, log, table
from reconify_otel.offline.sink import ReconifySink
from tests.helpers import CURRENT, make_span

BATCHES = 5
PER_BATCH = 100


def spans(first: int, count: int) -> list[ReadableSpan]:
    return [
        make_span("openai.assistant.run", {**CURRENT, "gen_ai.response.1.id": f"msg_{n:06d}"})
        for n in range(first, first + count)
    ]


class _OtlpHandler(BaseHTTPRequestHandler):
    server: _OtlpEndpoint

    def do_POST(self) -> None:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )

        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if time.monotonic() < self.server.down_until:
            self.send_response(503)
            self.send_header("Retry-After", "1")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        count = sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)
        self.server.note(count)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _OtlpEndpoint(ThreadingHTTPServer):
    """A loopback OTLP/HTTP receiver that answers 503 until ``down_until``."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _OtlpHandler)
        self.down_until = 0.0
        self.arrivals: list[tuple[float, int]] = []
        self._lock = threading.Lock()

    def note(self, count: int) -> None:
        with self._lock:
            self.arrivals.append((time.monotonic(), count))


def _app_thread(
    export: Callable[[Sequence[ReadableSpan]], Any], outage: float, started: float
) -> threading.Thread:
    """One export thread: 5 batches spread over the outage, one more after recovery."""

    def work() -> None:
        for i in range(BATCHES):
            time.sleep(max(0.0, started + i * outage / BATCHES - time.monotonic()))
            export(spans(i * PER_BATCH, PER_BATCH))
        time.sleep(max(0.0, started + outage + 0.5 - time.monotonic()))
        export(spans(BATCHES * PER_BATCH, PER_BATCH))

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


def _figures(arrivals: list[tuple[float, int]], recovered: float, total: int) -> dict[str, Any]:
    """Seconds from recovery to the first arrival and to the backlog's last; lost count."""
    arrivals = sorted(arrivals)
    first = arrivals[0][0] - recovered if arrivals else None
    received, drained = 0, None
    for at, count in arrivals:
        received += count
        if drained is None and received >= BATCHES * PER_BATCH:
            drained = at - recovered
    return {"first": first, "drained": drained, "received": received, "lost": total - received}


def ours(outage: float, spool_dir: Path) -> dict[str, Any]:
    from reconify_otel import ReconifySpanExporter

    with ReconifySink() as sink:
        exporter = ReconifySpanExporter(
            f"{sink.url}/track", APP_KEY, API_KEY, spool_dir=str(spool_dir)
        )
        sink.outage(outage, status=503, retry_after=1)
        started = time.monotonic()
        _app_thread(exporter.export, outage, started).join(outage + 60)
        total = (BATCHES + 1) * PER_BATCH
        sink.wait_for(total, timeout=60)
        figures = _figures([(r.at, 1) for r in sink.received], started + outage, total)
        ids = [p["response"]["id"] for p in sink.payloads]
        figures["twice"] = len(ids) - len(set(ids))
        # The wire speed to compare the drain with: 500 fresh payloads, endpoint up.
        began = time.monotonic()
        exporter.export(spans(10_000, BATCHES * PER_BATCH))
        figures["wire_rate"] = BATCHES * PER_BATCH / (time.monotonic() - began)
        backlog = sorted(r.at for r in sink.received)[: BATCHES * PER_BATCH]
        figures["drain_rate"] = (len(backlog) - 1) / max(1e-6, backlog[-1] - backlog[0])
        exporter.shutdown()
    return figures


def otlp(outage: float) -> dict[str, Any]:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    server = _OtlpEndpoint()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    exporter = OTLPSpanExporter(endpoint=f"http://127.0.0.1:{server.server_port}/v1/traces")
    started = time.monotonic()
    server.down_until = started + outage
    _app_thread(exporter.export, outage, started).join(outage + 60)
    time.sleep(1)
    exporter.shutdown()  # type: ignore[no-untyped-call]
    server.shutdown()
    server.server_close()
    figures = _figures(server.arrivals, started + outage, (BATCHES + 1) * PER_BATCH)
    figures["twice"] = 0  # the receiver counts spans only
    return figures


def wan_backlog(count: int, spool_dir: Path) -> dict[str, Any]:
    """``count`` spooled while the endpoint refuses connections, drained from 20 ms away."""
    from reconify_otel import ReconifySpanExporter

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    exporter = ReconifySpanExporter(f"{base}/track", APP_KEY, API_KEY, spool_dir=str(spool_dir))
    for first in range(0, count, BATCH):
        exporter.export(spans(first, min(BATCH, count - first)))
    figures: dict[str, Any] = {"spooled": exporter.stats()["spooled"]}
    args = [PYTHON, "-m", "reconify_otel.offline.sink", "--port", str(port), "--hold-ms", "20"]
    with child(args):
        started = time.monotonic()
        arrivals: list[tuple[float, int]] = []
        while (not arrivals or arrivals[-1][1] < count) and time.monotonic() < started + 300:
            time.sleep(0.02)
            accepted = sink_stats(base)["accepted"]
            if accepted and (not arrivals or accepted > arrivals[-1][1]):
                arrivals.append((time.monotonic(), accepted))
        time.sleep(1)  # a duplicate would arrive now
        received = sink_stats(base)["accepted"]
        if arrivals:
            figures["first"] = arrivals[0][0] - started
            figures["recovered"] = arrivals[-1][0] - started
            span = arrivals[-1][0] - arrivals[0][0]
            figures["drain_rate"] = (arrivals[-1][1] - arrivals[0][1]) / max(1e-6, span)
        figures["lost"] = max(0, count - received)
        figures["twice"] = max(0, received - count)
        began = time.monotonic()
        export_all(exporter, spans(count, 2_000), "fresh export at 20 ms", [])
        figures["wire_rate"] = 2_000 / (time.monotonic() - began)
    exporter.shutdown()
    return figures


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def bench(run: BenchRun) -> None:
    outages = (2.0, 4.0) if run.sizes is QUICK else (12.0, 30.0)
    rows, verdicts = [], []
    for outage in outages:
        log(f"outage recovery: {outage:.0f} s of 503")
        mine = ours(outage, run.spool_dir / f"recovery-{outage:.0f}")
        theirs = otlp(outage)
        ratio = (
            f"{theirs['first'] / mine['first']:.2f}"
            if mine["first"] and theirs["first"] is not None
            else "-"
        )
        rows.append(
            [
                f"{outage:.0f} s",
                _s(mine["first"]),
                _s(mine["drained"]),
                f"{mine['lost']} / {mine['twice']}",
                _s(theirs["first"]),
                _s(theirs["drained"]),
                str(theirs["lost"]),
                ratio,
            ]
        )
        first_ok = mine["first"] is not None and mine["first"] <= 5.0
        drain_ok = mine["drained"] is not None and mine["drained"] <= 15.0
        verdicts.append(
            run.report.target(
                f"outage {outage:.0f} s: first delivery after recovery",
                _s(mine["first"]),
                "<= 5 s",
                first_ok,
            )
        )
        verdicts.append(
            run.report.target(
                f"outage {outage:.0f} s: 500 waiting interactions drained after recovery",
                _s(mine["drained"]),
                "<= 15 s",
                drain_ok,
            )
        )
        share = mine["drain_rate"] / mine["wire_rate"]
        verdicts.append(
            run.report.target(
                f"outage {outage:.0f} s: backlog drain rate / loopback wire rate",
                f"{mine['drain_rate']:,.0f}/s / {mine['wire_rate']:,.0f}/s = {share:.0%}",
                ">= 80%",
                share >= 0.8,
            )
        )
        verdicts.append(
            run.report.target(
                f"outage {outage:.0f} s: lost / sent twice",
                f"{mine['lost']} / {mine['twice']}",
                "0 / 0",
                mine["lost"] == 0 and mine["twice"] == 0,
            )
        )
    backlog = 300 if run.sizes is QUICK else 10_000
    log(f"outage recovery: {backlog:,} waiting, endpoint 20 ms away")
    wan = wan_backlog(backlog, run.spool_dir / "recovery-wan")
    drained = wan.get("recovered")
    verdicts.append(
        run.report.target(
            f"{backlog:,} waiting, 20 ms away: drained after the endpoint came back",
            f"{_s(drained)} ({wan.get('drain_rate', 0):,.0f}/s; a fresh export "
            f"{wan['wire_rate']:,.0f}/s; first delivery {_s(wan.get('first'))})",
            "<= 60 s",
            drained is not None and drained <= 60,
        )
    )
    verdicts.append(
        run.report.target(
            f"{backlog:,} waiting, 20 ms away: lost / sent twice",
            f"{wan['lost']} / {wan['twice']}",
            "0 / 0",
            wan["lost"] == 0 and wan["twice"] == 0,
        )
    )
    run.report.add(
        "## 9. Outage recovery\n\n"
        f"{(__doc__ or '').split(chr(10) + chr(10), 1)[1].strip()}\n\n"
        + table(
            [
                "outage",
                "ours: first delivery",
                "ours: 500 drained",
                "ours: lost / twice",
                "OTLP: first delivery",
                "OTLP: 500 delivered",
                "OTLP: lost",
                "OTLP first / ours first",
            ],
            rows,
        )
        + "\n\n"
        + "\n".join(f"- {v}" for v in verdicts)
    )
