"""5. OTLP -> ``reconify-otel bridge`` -> sink, vs the in-process exporter."""

from __future__ import annotations

import time

from benchmarks.common import make_spans, median, sink_process, sink_reset
from benchmarks.harness import (
    BenchRun,
    bridge_process,
    check_delivery,
    delivery_check,
    export_all,
    log,
    new_exporter,
    rates_table,
    rotated,
)


def bench(run: BenchRun) -> None:
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    sizes, report = run.sizes, run.report
    log("5. bridge")
    problems: list[str] = []
    samples: dict[str, list[float]] = {"bridge": [], "in-process": []}
    with (
        sink_process() as base,
        bridge_process(base, run.spool_dir / "bridge") as bridge_url,
    ):
        otlp = OTLPSpanExporter(
            endpoint=f"{bridge_url}/v1/traces", compression=Compression.Gzip, timeout=120
        )
        for rep in range(sizes.reps):
            for kind in rotated(list(samples), rep):
                # Fresh span ids each run: the bridge's dedup window drops repeats.
                spans = make_spans(sizes.bridge, "own")
                sink_reset(base)
                exporter = otlp if kind == "bridge" else new_exporter(f"{base}/track")
                started = time.perf_counter()
                export_all(exporter, spans, kind, problems)
                elapsed = time.perf_counter() - started
                if kind != "bridge":
                    exporter.shutdown()
                check_delivery(base, len(spans), f"{kind} rep {rep + 1}", problems)
                samples[kind].append(len(spans) / elapsed)
        otlp.shutdown()
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
