"""1. Wire throughput: the exporter vs the bare `requests` floor vs Reconify's module's way."""

from __future__ import annotations

import json
import time

import requests

from benchmarks.common import make_spans, median, sink_process, sink_reset
from benchmarks.harness import (
    BenchRun,
    check_delivery,
    export_all,
    fmt,
    log,
    new_exporter,
    preparer,
    rotated,
    table,
)


def bench(run: BenchRun) -> None:
    sizes, report = run.sizes, run.report
    spans = make_spans(sizes.wire, "own")
    bodies = preparer()(spans)
    objects = [json.loads(body) for body in bodies]
    problems: list[str] = []
    rows = []
    rates: dict[tuple[int, str], float] = {}
    for hold in (0, 20):
        count = {
            "a": sizes.wire,
            "b": sizes.wire if hold == 0 else sizes.slow_small,
            "c": sizes.loop_c if hold == 0 else sizes.slow_small,
        }
        samples: dict[str, list[float]] = {"a": [], "b": [], "c": []}
        log(f"1. wire, sink hold {hold} ms")
        with sink_process(hold) as base:
            url = f"{base}/track"
            for rep in range(sizes.reps):
                for kind in rotated("abc", rep):
                    n = count[kind]
                    sink_reset(base)
                    if kind == "a":
                        exporter = new_exporter(url)
                        started = time.perf_counter()
                        export_all(exporter, spans, f"hold {hold} (a)", problems)
                        elapsed = time.perf_counter() - started
                        exporter.shutdown()
                    elif kind == "b":
                        session = requests.Session()
                        headers = {"Content-Type": "application/json"}
                        started = time.perf_counter()
                        for body in bodies[:n]:
                            session.post(url, data=body, headers=headers).raise_for_status()
                        elapsed = time.perf_counter() - started
                        session.close()
                    else:
                        started = time.perf_counter()
                        for obj in objects[:n]:
                            requests.post(url, json=obj).raise_for_status()
                        elapsed = time.perf_counter() - started
                    check_delivery(base, n, f"hold {hold} ms ({kind}) rep {rep + 1}", problems)
                    samples[kind].append(n / elapsed)
        for kind, label in (
            ("a", "(a) ReconifySpanExporter.export, 512-span batches, default settings"),
            ("b", "(b) floor: one requests.Session().post per pre-encoded payload"),
            ("c", "(c) Reconify module's way: requests.post(url, json=payload), no session"),
        ):
            rates[(hold, kind)] = median(samples[kind])
            rows.append(
                [
                    f"{hold} ms",
                    label,
                    count[kind],
                    fmt(rates[(hold, kind)]),
                    ", ".join(fmt(s, 0) for s in samples[kind]),
                ]
            )
    loop_ratio = rates[(0, "a")] / rates[(0, "b")]
    slow_ratio = rates[(20, "a")] / rates[(20, "c")]
    verdicts = [
        report.target("1. loopback (a) / (b)", f"{loop_ratio:.2f}x", ">= 0.90x", loop_ratio >= 0.9),
        report.target("1. 20 ms sink (a) / (c)", f"{slow_ratio:.1f}x", ">= 10x", slow_ratio >= 10),
    ]
    delivery = (
        "every run: the sink's /stats showed accepted == attempts == interactions sent, "
        "invalid == 0"
        if not problems
        else "DELIVERY PROBLEMS: " + "; ".join(problems)
    )
    report.add(
        "## 1. Wire throughput (interactions/s to a sink in its own process)\n\n"
        "Sink: `python -m reconify_otel.offline.sink --port 0 [--hold-ms 20]`, "
        "its own process. All clients send the same interactions (the payload bytes the "
        "exporter produces; (c) re-serialises the same objects with `json=`); where a "
        "client sends fewer (to keep the command under 5 minutes) they are the first of "
        "the same interactions, and the rate is what compares. "
        f"Median of {sizes.reps} interleaved repetitions.\n\n"
        + table(["sink", "client", "interactions", "median /s", "runs /s"], rows)
        + f"\n\nDelivery check: {delivery}.\n\n"
        + "\n".join(f"- {v}" for v in verdicts)
    )
