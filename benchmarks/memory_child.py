"""Benchmark 6 in a fresh process: peak RSS while runs are exported during an outage.

``python -m benchmarks.memory_child RUNS`` with ``RECONIFY_ENDPOINT`` pointing at a
closed port. Prints one JSON line: idle, samples during, final and peak RSS (KiB,
from /proc/self/status), timings and the exporter's counters.
"""

from __future__ import annotations

import json
import sys
import time


def _status() -> dict[str, int]:
    values: dict[str, int] = {}
    with open("/proc/self/status") as status:
        for line in status:
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                values[name] = int(rest.split()[0])
    return values


def main(argv: list[str]) -> int:
    runs = int(argv[0])
    samples = int(argv[1]) if len(argv) > 1 else 20
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from benchmarks.common import OWN
    from reconify_otel import ReconifySpanExporter

    exporter = ReconifySpanExporter()  # everything from RECONIFY_* (default settings)
    provider = TracerProvider()
    processor = BatchSpanProcessor(exporter)  # the SDK's defaults: queue 2048, batch 512
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("benchmarks.memory")
    attributes = dict(OWN)
    # Warm up: one export so lazily built pieces (pools, spool) exist before "idle".
    tracer.start_span("invoke_agent Math Tutor", attributes=attributes).end()
    provider.force_flush()
    idle = _status()
    during: list[dict[str, float]] = []
    step = max(1, runs // samples)
    started = time.perf_counter()
    for i in range(1, runs + 1):
        span = tracer.start_span("invoke_agent Math Tutor", attributes=attributes)
        span.set_attribute("openai.assistants.run.id", f"run_{i}")
        span.end()
        if i % step == 0:
            during.append({"runs": i, "rss_kib": _status()["VmRSS"]})
    made = time.perf_counter() - started
    flush_started = time.perf_counter()
    provider.force_flush(60_000)
    flushed = time.perf_counter() - flush_started
    final = _status()
    provider.shutdown()
    print(
        json.dumps(
            {
                "runs": runs,
                "idle_kib": idle["VmRSS"],
                "idle_hwm_kib": idle["VmHWM"],
                "during": during,
                "final_kib": final["VmRSS"],
                "peak_kib": final["VmHWM"],
                "create_seconds": made,
                "flush_seconds": flushed,
                "stats": exporter.stats(),
            }
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
