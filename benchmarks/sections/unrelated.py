"""4. Cost of ``export()`` on spans that are not assistant runs."""

from __future__ import annotations

import gc
import time

from benchmarks.common import make_spans, median
from benchmarks.harness import BenchRun, batches, log, new_exporter, table


def bench(run: BenchRun) -> None:
    sizes, report = run.sizes, run.report
    log("4. unrelated spans")
    spans = make_spans(sizes.unrelated, "other")
    chunks = batches(spans)
    exporter = new_exporter("http://127.0.0.1:9/track")  # never contacted: nothing selected
    reps = max(sizes.reps, 5)
    samples = []
    for _ in range(reps):
        gc.collect()
        started = time.perf_counter()
        for chunk in chunks:
            exporter.export(chunk)
        samples.append((time.perf_counter() - started) / len(spans) * 1e6)
    exporter.shutdown()
    per_span = median(samples)
    verdict = report.target(
        "4. export() per unrelated span", f"{per_span:.3f} us", "<= 1 us", per_span <= 1.0
    )
    report.add(
        "## 4. Cost on unrelated spans\n\n"
        f"`ReconifySpanExporter.export()` over {sizes.unrelated:,} non-assistant spans "
        "(`GET /users`, `POST /orders`, `SELECT users`, `GET /health`, 4 attributes each) "
        f"in 512-span batches; median of {reps} runs.\n\n"
        + table(
            ["runs (us/span)", "median us/span"],
            [[", ".join(f"{s:.3f}" for s in samples), f"{per_span:.3f}"]],
        )
        + f"\n\n- {verdict}"
    )
