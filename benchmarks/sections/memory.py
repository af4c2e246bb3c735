"""6. Peak RSS while 100,000 runs meet a total outage (in a fresh subprocess)."""

from __future__ import annotations

import json
import subprocess
import time

from benchmarks.common import API_KEY, APP_KEY, PYTHON, env_for_children, free_port
from benchmarks.harness import BenchRun, fmt, log, table


def bench(run: BenchRun) -> None:
    sizes, report = run.sizes, run.report
    log("6. memory during an outage")
    closed = free_port()  # bound once and released: nothing listens there
    env = env_for_children(
        RECONIFY_ENDPOINT=f"http://127.0.0.1:{closed}/track",
        RECONIFY_APP_KEY=APP_KEY,
        RECONIFY_API_KEY=API_KEY,
        RECONIFY_TIMEOUT="0.2",
        RECONIFY_SPOOL_DIR=str(run.spool_dir / "memory"),
    )
    started = time.perf_counter()
    out = subprocess.run(
        [PYTHON, "-m", "benchmarks.memory_child", str(sizes.memory_runs)],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=True,
    )
    elapsed = time.perf_counter() - started
    data = json.loads(out.stdout.strip().splitlines()[-1])
    mib = 1024.0
    idle = data["idle_kib"] / mib
    peak = data["peak_kib"] / mib
    during = data["during"]
    half = [s["rss_kib"] / mib for s in during[len(during) // 2 :]]
    drift = (max(half) - min(half)) if half else 0.0
    growth = peak - idle
    flat = drift <= 10.0
    samples = ", ".join(f"{s['runs']:,}: {s['rss_kib'] / mib:.1f}" for s in during)
    rows = [
        ["idle (exporter built, one span exported)", fmt(idle)],
        ["peak (VmHWM) after all runs", fmt(peak)],
        ["final VmRSS", fmt(data["final_kib"] / mib)],
        ["peak above idle", fmt(growth)],
        ["spread of VmRSS over the second half of the samples", fmt(drift)],
    ]
    verdict = report.target(
        "6. peak RSS above idle during an outage, and flat",
        f"{growth:.1f} MiB, second-half spread {drift:.1f} MiB",
        "<= 100 MiB, flat (spread <= 10 MiB)",
        growth <= 100 and flat,
    )
    report.add(
        "## 6. Memory during a total outage\n\n"
        f"{sizes.memory_runs:,} assistant runs (`invoke_agent` spans, OWN attributes) created by "
        "a tracer in a fresh subprocess (`python -m benchmarks.memory_child`), "
        "`BatchSpanProcessor(ReconifySpanExporter())` with the SDK's defaults (queue 2048, "
        "batch 512) and the exporter's defaults except `RECONIFY_TIMEOUT=0.2`; "
        "`RECONIFY_ENDPOINT` is a closed port on 127.0.0.1 (connection refused), the spool "
        "in a temporary directory. RSS from /proc/self/status. "
        f"Span creation took {data['create_seconds']:.1f} s, the final flush "
        f"{data['flush_seconds']:.1f} s, the whole subprocess {elapsed:.1f} s.\n\n"
        + table(["measure", "MiB"], rows)
        + f"\n\nVmRSS samples (runs: MiB): {samples}\n\n"
        + f"Exporter counters: `{json.dumps(data['stats'], sort_keys=True)}`\n\n- {verdict}"
    )
