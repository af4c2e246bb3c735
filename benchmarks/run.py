"""reconify-otel benchmarks: one command, side-by-side comparisons, ``results.md``.

    .venv/bin/python -m benchmarks            # full sizes, ~4-5 minutes on 2 cores
    .venv/bin/python -m benchmarks --quick    # tiny sizes (the smoke test), seconds

Every comparison runs in this one invocation on this machine; helpers that play the
network's far side (Reconify sink, Assistants API, OTLP bridge) run in their own
processes. Each figure is the median of repeated runs; repetitions of the things
compared are interleaved (their order rotates) so drift hits all of them alike.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import requests
from opentelemetry.sdk.trace import ReadableSpan

from benchmarks.common import (
    API_KEY,
    APP_KEY,
    PYTHON,
    ROOT,
    child,
    env_for_children,
    free_port,
    make_spans,
    median,
    sink_process,
    sink_reset,
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


# --- the pieces under test -----------------------------------------------------------


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


# --- 1. wire throughput --------------------------------------------------------------


def bench_wire(sizes: Sizes, report: Report) -> None:
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
                        for batch in batches(spans):
                            result = exporter.export(batch)
                            if result.name != "SUCCESS":
                                problems.append(f"hold {hold} (a): export returned {result}")
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
        "Sink: `python -m reconify_otel_testing.sink --port 0 [--hold-ms 20]`, "
        "its own process. All clients send the same interactions (the payload bytes the "
        "exporter produces; (c) re-serialises the same objects with `json=`); where a "
        "client sends fewer (to keep the command under 5 minutes) they are the first of "
        "the same interactions, and the rate is what compares. "
        f"Median of {sizes.reps} interleaved repetitions.\n\n"
        + table(["sink", "client", "interactions", "median /s", "runs /s"], rows)
        + f"\n\nDelivery check: {delivery}.\n\n"
        + "\n".join(f"- {v}" for v in verdicts)
    )


# --- 2. CPU per span -----------------------------------------------------------------


def bench_cpu(sizes: Sizes, report: Report) -> None:
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    from reconify_otel.core.encoding import encode
    from reconify_otel.core.mapping import map_span
    from reconify_otel.exporter.sdk_record import from_sdk

    log("2. CPU per span")
    prepare = preparer()
    reps = max(sizes.reps, 5)
    results: dict[str, dict[str, list[float]]] = {}
    for kind in ("own", "upstream"):
        spans = make_spans(sizes.cpu, kind)
        chunks = batches(spans)

        def ours(chunks: list[Sequence[ReadableSpan]] = chunks) -> None:
            for chunk in chunks:
                prepare(chunk)

        def otlp(chunks: list[Sequence[ReadableSpan]] = chunks) -> None:
            for chunk in chunks:
                encode_spans(chunk).SerializeToString()

        records = [from_sdk(span) for span in spans]
        payloads = [getattr(map_span(r), "payload", None) for r in records]

        def map_only(records: list[Any] = records) -> None:
            for record in records:
                map_span(record)

        def encode_only(payloads: list[Any] = payloads) -> None:
            for payload in payloads:
                encode(payload, APP_KEY, API_KEY)

        candidates = {"ours": ours, "otlp": otlp, "map": map_only, "encode": encode_only}
        samples: dict[str, list[float]] = {name: [] for name in candidates}
        ours()  # warm-up
        otlp()
        for rep in range(reps):
            for name in rotated(list(candidates), rep):
                gc.collect()
                started = time.perf_counter()
                candidates[name]()
                samples[name].append((time.perf_counter() - started) / len(spans) * 1e6)
        results[kind] = samples
    rows = []
    labels = {
        "ours": "ours: is_assistant_run + from_sdk + Preparer.prepare (map, shape, encode)",
        "otlp": "OTLP: encode_spans(batch).SerializeToString()",
        "map": "  of which map_span alone",
        "encode": "  of which encode (json.dumps with keys) alone",
    }
    for kind, samples in results.items():
        for name, label in labels.items():
            rows.append([kind, label, fmt(median(samples[name]), 2)])
    own = results["own"]
    ratio = median(own["ours"]) / median(own["otlp"])
    up = results["upstream"]
    up_ratio = median(up["ours"]) / median(up["otlp"])
    verdict = report.target(
        "2. CPU per span, ours / OTLP protobuf (AssistantsInstrumentor spans)",
        f"{ratio:.2f}x ({fmt(median(own['ours']), 2)} vs {fmt(median(own['otlp']), 2)} us)",
        "<= 1.0x",
        ratio <= 1.0,
    )
    report.add(
        "## 2. CPU per span, no network\n\n"
        f"{sizes.cpu:,} finished assistant-run spans, in 512-span batches, median of {reps} "
        "interleaved repetitions; microseconds per span. `own`: AssistantsInstrumentor's "
        "`invoke_agent` spans (OWN fixture of tests/test_mapping.py); `upstream`: "
        "`openai.assistant.run` spans of opentelemetry-instrumentation-openai (CURRENT).\n\n"
        + table(["spans", "work", "median us/span"], rows)
        + f"\n\n- {verdict}\n- (upstream spans, for information: {up_ratio:.2f}x)"
    )


# --- 3. application thread -----------------------------------------------------------

QUESTION = "I need to solve the equation `3x + 11 = 14`. Can you help me?"


def bench_app(sizes: Sizes, report: Report) -> None:
    from openai import OpenAI
    from opentelemetry.instrumentation.openai import OpenAIInstrumentor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from reconify_otel.instrumentation import AssistantsInstrumentor

    log("3. application thread")
    configs = ["none", "reconify", "upstream"]
    wall: dict[str, list[float]] = {c: [] for c in configs}
    cpu: dict[str, list[float]] = {c: [] for c in configs}
    sent: dict[str, int] = dict.fromkeys(configs, 0)
    runs_done: dict[str, int] = dict.fromkeys(configs, 0)
    problems: list[str] = []
    api_args = [PYTHON, "-m", "benchmarks.assistants_server"]
    with child(api_args) as (_proc, port), sink_process() as sink_base:
        client = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-bench", max_retries=0)
        assistant = client.beta.assistants.create(
            name="Math Tutor", model="gpt-4o-mini", instructions="You are a math tutor."
        )

        def one_run(thread_id: str) -> None:
            client.beta.threads.messages.create(thread_id=thread_id, role="user", content=QUESTION)
            run = client.beta.threads.runs.create_and_poll(
                thread_id=thread_id,
                assistant_id=assistant.id,
                # Explicit: without it opentelemetry-instrumentation-openai 0.62 fails to
                # json.dumps the SDK's Omit sentinel inside messages.list (an upstream bug).
                instructions="Please address the user as Jane Doe.",
            )
            if run.status != "completed":
                problems.append(f"run ended {run.status}")
            # Keywords: opentelemetry-instrumentation-openai reads thread_id from kwargs only.
            client.beta.threads.messages.list(thread_id=thread_id, limit=1, run_id=run.id)

        for rep in range(sizes.app_reps):
            for config in rotated(configs, rep):
                provider = TracerProvider()
                exporter = new_exporter(f"{sink_base}/track")
                provider.add_span_processor(BatchSpanProcessor(exporter))
                instrumentor: Any = None
                if config == "reconify":
                    instrumentor = AssistantsInstrumentor()
                elif config == "upstream":
                    instrumentor = OpenAIInstrumentor()
                if instrumentor is not None:
                    instrumentor.instrument(tracer_provider=provider)
                thread = client.beta.threads.create()
                one_run(thread.id)  # warm-up, not timed
                block_wall, block_cpu = [], []
                for _ in range(sizes.app_runs):
                    started, cpu_started = time.perf_counter(), time.thread_time()
                    one_run(thread.id)
                    block_cpu.append(time.thread_time() - cpu_started)
                    block_wall.append(time.perf_counter() - started)
                if instrumentor is not None:
                    instrumentor.uninstrument()
                provider.shutdown()
                wall[config].extend(block_wall)
                cpu[config].extend(block_cpu)
                sent[config] += exporter.stats().get("accepted", 0)
                runs_done[config] += sizes.app_runs + 1
    base_wall, base_cpu = median(wall["none"]), median(cpu["none"])
    labels = {
        "none": "(i) no instrumentation",
        "reconify": "(ii) AssistantsInstrumentor + BatchSpanProcessor(ReconifySpanExporter)",
        "upstream": "(iii) OpenAIInstrumentor + BatchSpanProcessor(ReconifySpanExporter)",
    }
    rows = []
    for config in configs:
        w, c = median(wall[config]), median(cpu[config])
        rows.append(
            [
                labels[config],
                fmt(w * 1e3, 2),
                f"{(w / base_wall - 1) * 100:+.1f}%",
                fmt(c * 1e3, 2),
                f"{(c / base_cpu - 1) * 100:+.1f}%",
                f"{sent[config]} / {runs_done[config]}",
            ]
        )
    ours = median(wall["reconify"]) / base_wall - 1
    theirs = median(wall["upstream"]) / base_wall - 1
    verdicts = [
        report.target(
            "3. (ii) over (i), wall per run", f"{ours * 100:+.1f}%", "<= +5%", ours <= 0.05
        ),
        report.target(
            "3. (ii) adds no more than (iii)",
            f"{ours * 100:+.1f}% vs {theirs * 100:+.1f}%",
            "(ii) <= (iii)",
            ours <= theirs,
        ),
    ]
    note = "" if not problems else "\n\nProblems: " + "; ".join(sorted(set(problems)))
    report.add(
        "## 3. Cost on the application thread per run\n\n"
        "The real `openai` SDK against `SimulatedAssistantsAPI` in **its own process** "
        "(`python -m benchmarks.assistants_server`); the documented polling flow per run: "
        "`messages.create`, `runs.create_and_poll`, `messages.list(limit=1, run_id=...)`. "
        "Exporter in (ii) and (iii): the same `ReconifySpanExporter` (default settings) in a "
        "`BatchSpanProcessor`, sending to a sink process. Blocks of "
        f"{sizes.app_runs} runs (after one warm-up run), configurations interleaved "
        f"(order rotating), {sizes.app_reps} blocks each; medians over all "
        f"{sizes.app_runs * sizes.app_reps} timed runs of a configuration. Short blocks, "
        "many of them: the loopback round trip drifts between two levels over seconds "
        "(scheduling of the two processes on 2 cores), and interleaving cancels that. "
        "CPU = `time.thread_time()` of the application thread.\n\n"
        + table(
            [
                "configuration",
                "wall ms/run",
                "vs (i)",
                "app-thread CPU ms/run",
                "vs (i)",
                "interactions accepted / runs",
            ],
            rows,
        )
        + note
        + "\n\n"
        + "\n".join(f"- {v}" for v in verdicts)
    )


# --- 4. unrelated spans --------------------------------------------------------------


def bench_unrelated(sizes: Sizes, report: Report) -> None:
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


# --- 5. the bridge -------------------------------------------------------------------


def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the bridge exited at start")
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                answer.read()
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the bridge did not answer /healthz")


def bench_bridge(sizes: Sizes, report: Report, spool_dir: str) -> None:
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    log("5. bridge")
    problems: list[str] = []
    samples: dict[str, list[float]] = {"bridge": [], "in-process": []}
    with sink_process() as base:
        port = free_port()
        env = env_for_children(
            RECONIFY_ENDPOINT=f"{base}/track",
            RECONIFY_APP_KEY=APP_KEY,
            RECONIFY_API_KEY=API_KEY,
            RECONIFY_SPOOL_DIR=os.path.join(spool_dir, "bridge"),
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
    bridge, local = median(samples["bridge"]), median(samples["in-process"])
    ratio = bridge / local
    rows = [
        [
            "OTLPSpanExporter (gzip, 512-span batches) -> `reconify-otel bridge` -> sink",
            fmt(bridge),
            ", ".join(fmt(s, 0) for s in samples["bridge"]),
        ],
        [
            "in-process ReconifySpanExporter -> sink",
            fmt(local),
            ", ".join(fmt(s, 0) for s in samples["in-process"]),
        ],
    ]
    delivery = (
        "every run: accepted == attempts == spans sent"
        if not problems
        else "DELIVERY PROBLEMS: " + "; ".join(problems)
    )
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
        + table(["route", "median spans/s", "runs /s"], rows)
        + f"\n\nDelivery check: {delivery}.\n\n- {verdict}"
    )


# --- 6. memory during an outage ------------------------------------------------------


def bench_memory(sizes: Sizes, report: Report, spool_dir: str) -> None:
    log("6. memory during an outage")
    closed = free_port()  # bound once and released: nothing listens there
    env = env_for_children(
        RECONIFY_ENDPOINT=f"http://127.0.0.1:{closed}/track",
        RECONIFY_APP_KEY=APP_KEY,
        RECONIFY_API_KEY=API_KEY,
        RECONIFY_TIMEOUT="0.2",
        RECONIFY_SPOOL_DIR=os.path.join(spool_dir, "memory"),
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


# --- the report ----------------------------------------------------------------------


def machine() -> list[list[str]]:
    cpu = "unknown"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = "unknown"
    with open("/proc/meminfo") as info:
        for line in info:
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    os_name = platform.platform()
    release = Path("/etc/os-release")
    if release.exists():
        for line in release.read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = f"{line.split('=', 1)[1].strip(chr(34))} ({platform.platform()})"
    return [
        ["CPU", cpu],
        ["cores", str(os.cpu_count())],
        ["RAM", ram],
        ["OS", os_name],
        ["Python", f"{platform.python_implementation()} {platform.python_version()}"],
    ]


def versions() -> list[list[str]]:
    rows = []
    for name in (
        "reconify-otel",
        "opentelemetry-sdk",
        "opentelemetry-exporter-otlp-proto-http",
        "opentelemetry-instrumentation-openai",
        "requests",
        "openai",
        "uvicorn",
        "protobuf",
    ):
        try:
            rows.append([name, metadata.version(name)])
        except metadata.PackageNotFoundError:
            rows.append([name, "not installed"])
    return rows


def write(path: Path, command: str, sizes_name: str, report: Report, seconds: float) -> None:
    summary = table(
        ["target", "measured", "target", "result"],
        [[t.name, t.measured, t.target, "PASS" if t.ok else "MISS"] for t in report.targets],
    )
    text = (
        "# reconify-otel benchmarks\n\n"
        f"Command: `{command}`\n\n"
        f"Date: {dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}; sizes: "
        f"{sizes_name}; whole run {seconds:.0f} s.\n\n"
        "## Machine\n\n" + table(["", ""], machine()) + "\n\n"
        "## Versions\n\n" + table(["package", "version"], versions()) + "\n\n"
        "## Summary\n\n" + summary + "\n\n" + "\n".join(report.sections)
    )
    path.write_text(text)


BENCHES = ("wire", "cpu", "app", "unrelated", "bridge", "memory")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument(
        "--output", type=Path, default=ROOT / "benchmarks" / "results.md", help="results file"
    )
    parser.add_argument(
        "--only", nargs="+", choices=BENCHES, default=list(BENCHES), help="run these only"
    )
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    command = ".venv/bin/python -m benchmarks" + (
        " " + " ".join(sys.argv[1:]) if argv is None and sys.argv[1:] else ""
    )
    started = time.perf_counter()
    report = Report()
    with tempfile.TemporaryDirectory(prefix="reconify-bench-") as spool_dir:
        # A private spool: nothing left by another run is resent into these counts.
        os.environ["RECONIFY_SPOOL_DIR"] = os.path.join(spool_dir, "main")
        steps: dict[str, Callable[[], None]] = {
            "wire": lambda: bench_wire(sizes, report),
            "cpu": lambda: bench_cpu(sizes, report),
            "app": lambda: bench_app(sizes, report),
            "unrelated": lambda: bench_unrelated(sizes, report),
            "bridge": lambda: bench_bridge(sizes, report, spool_dir),
            "memory": lambda: bench_memory(sizes, report, spool_dir),
        }
        for name in BENCHES:
            if name in args.only:
                steps[name]()
    seconds = time.perf_counter() - started
    write(args.output, command, "quick" if args.quick else "full", report, seconds)
    log(f"wrote {args.output} in {seconds:.0f} s")
    for target in report.targets:
        log(f"{'PASS' if target.ok else 'MISS'} {target.name}: {target.measured}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
