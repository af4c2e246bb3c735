"""2. CPU per span, no network: select, map and encode vs the OTLP protobuf encoder."""

from __future__ import annotations

import gc
import time
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

from benchmarks.common import API_KEY, APP_KEY, make_spans, median
from benchmarks.harness import BenchRun, batches, fmt, log, preparer, rotated, table


def bench(run: BenchRun) -> None:
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    from reconify_otel.core import privacy
    from reconify_otel.core.encoding import encode
    from reconify_otel.core.interaction import Interaction
    from reconify_otel.core.mapping import map_span
    from reconify_otel.exporter.sdk_record import from_sdk

    sizes, report = run.sizes, run.report
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
        mapped = [map_span(r) for r in records]
        payloads = [i for i in mapped if isinstance(i, Interaction)]

        def map_only(records: list[Any] = records) -> None:
            for record in records:
                map_span(record)

        def encode_only(payloads: list[Any] = payloads) -> None:
            for payload in payloads:
                encode(payload.to_json(), APP_KEY, API_KEY)

        def content_off(payloads: list[Any] = payloads) -> None:
            for payload in payloads:
                privacy.without_content(payload)

        def masked(payloads: list[Any] = payloads) -> None:
            for payload in payloads:
                privacy.mask_pii(payload)

        candidates = {
            "ours": ours,
            "otlp": otlp,
            "map": map_only,
            "encode": encode_only,
            "content_off": content_off,
            "mask_pii": masked,
        }
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
        "ours": "ours: Preparer.selects + from_sdk + Preparer.prepare (map, shape, encode)",
        "otlp": "OTLP: encode_spans(batch).SerializeToString()",
        "map": "  of which map_span alone",
        "encode": "  of which encode (json.dumps with keys) alone",
        "content_off": "  `capture_content=False`: the allowlist walk alone (not in `ours`)",
        "mask_pii": "  `mask_pii=True`: the masking walk alone (not in `ours`)",
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
        "`invoke_agent` spans (OWN fixture of tests/helpers.py); `upstream`: "
        "`openai.assistant.run` spans of opentelemetry-instrumentation-openai (CURRENT).\n\n"
        + table(["spans", "work", "median us/span"], rows)
        + f"\n\n- {verdict}\n- (upstream spans, for information: {up_ratio:.2f}x)"
    )
