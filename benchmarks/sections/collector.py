"""8. OTLP -> a real OpenTelemetry Collector -> ``reconify-otel bridge`` -> sink, vs the
in-process exporter, in the same run.

The Collector is the one ``collector/build.sh`` builds (reused when up to date) running
``otel-collector-config.yaml`` minus its Jaeger branch (only the Reconify route is
measured), on 127.0.0.1 with its persistent queue in a temporary directory.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from benchmarks.common import (
    ROOT,
    env_for_children,
    free_port,
    make_spans,
    median,
    sink_process,
    sink_reset,
    stop,
    wait_accepted,
)
from benchmarks.harness import (
    BenchRun,
    bridge_process,
    delivery_check,
    export_all,
    log,
    new_exporter,
    rates_table,
    rotated,
    wait_healthy,
)

BUILD_SCRIPT = ROOT / "collector" / "build.sh"
CONFIG = ROOT / "otel-collector-config.yaml"
TOKEN = "bench-bridge-token-2d7e91"
DELIVERY_TIMEOUT = 120.0


def build() -> tuple[Path, float]:
    """The Collector binary, and the seconds build.sh took (a cold build: minutes)."""
    started = time.perf_counter()
    done = subprocess.run(
        [str(BUILD_SCRIPT)], capture_output=True, text=True, timeout=1800, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"collector/build.sh failed:\n{done.stderr[-4000:]}")
    return Path(done.stdout.strip().splitlines()[-1]), time.perf_counter() - started


def config(workdir: Path, http_port: int, health_port: int) -> Path:
    """The shipped file without the Jaeger branch, listening on 127.0.0.1."""
    data: dict[str, Any] = yaml.safe_load(CONFIG.read_text())
    del data["service"]["pipelines"]["traces"]
    del data["exporters"]["otlp/jaeger"]
    del data["processors"]["batch"]
    data["receivers"]["otlp"]["protocols"] = {"http": {"endpoint": f"127.0.0.1:{http_port}"}}
    data["extensions"]["health_check"]["endpoint"] = f"127.0.0.1:{health_port}"
    storage = data["extensions"]["file_storage/reconify"]
    storage["directory"] = storage["compaction"]["directory"] = str(workdir / "queue")
    data["service"]["telemetry"] = {"metrics": {"level": "none"}}
    path = workdir / "collector.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@contextmanager
def collector(binary: Path, bridge_url: str, workdir: Path) -> Iterator[tuple[str, int]]:
    """The Collector process; yields its OTLP/HTTP traces URL and its pid."""
    http_port, health_port = free_port(), free_port()
    path = config(workdir, http_port, health_port)
    env = env_for_children(RECONIFY_BRIDGE_ENDPOINT=bridge_url, RECONIFY_BRIDGE_TOKEN=TOKEN)
    with (workdir / "collector.log").open("wb") as out:
        proc = subprocess.Popen(
            [str(binary), "--config", str(path)], stdout=out, stderr=subprocess.STDOUT, env=env
        )
    try:
        wait_healthy(f"http://127.0.0.1:{health_port}/", proc, what="the Collector")
        yield f"http://127.0.0.1:{http_port}/v1/traces", proc.pid
    finally:
        stop(proc, 15)


def peak_rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def bench(run: BenchRun) -> None:
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    sizes, report = run.sizes, run.report
    log("8. collector")
    binary, build_seconds = build()
    problems: list[str] = []
    samples: dict[str, list[float]] = {"collector": [], "in-process": []}
    with (
        tempfile.TemporaryDirectory(prefix="reconify-bench-otelcol-") as tmp,
        sink_process() as base,
        bridge_process(
            base, run.spool_dir / "collector-bridge", RECONIFY_BRIDGE_TOKEN=TOKEN
        ) as bridge_url,
        collector(binary, bridge_url, Path(tmp)) as (traces_url, pid),
    ):
        otlp = OTLPSpanExporter(endpoint=traces_url, compression=Compression.Gzip, timeout=60)
        for rep in range(sizes.reps):
            for kind in rotated(list(samples), rep):
                spans = make_spans(sizes.bridge, "own")  # fresh ids: the bridge deduplicates
                sink_reset(base)
                exporter = otlp if kind == "collector" else new_exporter(f"{base}/track")
                started = time.perf_counter()
                export_all(exporter, spans, kind, problems)
                # The Collector answers once the spans are in its queue: wait for the sink.
                stats = wait_accepted(base, len(spans), DELIVERY_TIMEOUT)
                elapsed = time.perf_counter() - started
                if kind != "collector":
                    exporter.shutdown()
                if stats["accepted"] != len(spans) or stats["attempts"] != len(spans):
                    problems.append(f"{kind} rep {rep + 1}: {len(spans)} sent, sink says {stats}")
                samples[kind].append(len(spans) / elapsed)
        otlp.shutdown()
        rss = peak_rss_mib(pid)
    through, local = median(samples["collector"]), median(samples["in-process"])
    routes = {
        "OTLPSpanExporter (gzip, 512-span batches) -> Collector -> bridge -> sink": samples[
            "collector"
        ],
        "in-process ReconifySpanExporter -> sink": samples["in-process"],
    }
    report.add(
        "## 8. Through a real Collector\n\n"
        f"{sizes.bridge:,} assistant-run spans per run (fresh ids each run), timed from the "
        "first export until the sink holds every payload; the Collector (collector/build.sh, "
        "`otel-collector-config.yaml` without its Jaeger branch: memory_limiter, filter/genai, "
        "the persistent queue batching 256-512 spans), the bridge and the sink each in "
        f"their own process; median of {sizes.reps} interleaved repetitions. "
        f"collector/build.sh took {build_seconds:.1f} s.\n\n"
        + rates_table(routes)
        + f"\n\nCollector -> bridge / in-process: {through / local:.2f}x. "
        f"Collector peak resident memory: {rss:.0f} MiB. "
        f"Delivery check: {delivery_check(problems)}."
    )
