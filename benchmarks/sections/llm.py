"""7. LLM-call spans (issue #10): selection cost per span, and CPU to select, map and
encode a span of each instrumentation convention vs the OTLP exporter's protobuf encoding.

The spans are real: captured during this run from each instrumentation while the real
``openai``/``anthropic`` SDKs replay every recording of ``LLM_RECORDINGS`` on loopback
(the end-to-end tests' machinery, ``tests/llm_replay.py``).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

from benchmarks.common import API_KEY, APP_KEY, make_spans, median
from benchmarks.harness import BenchRun, batches, fmt, log, rotated, table


def captured_spans() -> dict[str, list[ReadableSpan]]:
    """Each convention's selected spans for every recorded call it covers."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from reconify_otel.core.mapping import is_selected
    from reconify_otel.offline.replay import LlmReplay
    from tests.llm_replay import CONVENTIONS, all_calls, instrumented, make_calls

    found: dict[str, list[ReadableSpan]] = {}
    for tag, convention in CONVENTIONS.items():
        memory = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(memory))
        calls = [call for call in all_calls() if convention.covers(call)]
        with instrumented(provider, tag), LlmReplay(calls) as replay:
            make_calls(calls, replay)
        provider.shutdown()
        spans = memory.get_finished_spans()
        found[tag] = [s for s in spans if is_selected(s.name, s.attributes or {})]
        assert len(found[tag]) == len(calls), (tag, len(found[tag]), len(calls))
    return found


def _per_span(work: Callable[[], Any], count: int, reps: int) -> list[float]:
    samples = []
    for _ in range(reps):
        gc.collect()
        started = time.thread_time()
        work()
        samples.append((time.thread_time() - started) / count * 1e6)
    return samples


def bench(run: BenchRun) -> None:
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    from reconify_otel.core.encoding import encode
    from reconify_otel.core.interaction import Interaction
    from reconify_otel.core.mapping import is_selected, map_span
    from reconify_otel.exporter.sdk_record import from_sdk

    sizes, report = run.sizes, run.report
    log("7. LLM-call spans")
    reps = max(sizes.reps, 5)
    captured = captured_spans()

    unrelated = [(s.name, s.attributes or {}) for s in make_spans(sizes.unrelated, "other")]

    def select_unrelated() -> None:
        for name, attributes in unrelated:
            is_selected(name, attributes)

    select_unrelated()
    unrelated_us = median(_per_span(select_unrelated, len(unrelated), reps))

    rows = []
    ratios: dict[str, float] = {}
    for tag, originals in captured.items():
        spans = (originals * (sizes.cpu // len(originals) + 1))[: sizes.cpu]
        named = [(s.name, s.attributes or {}) for s in spans]
        chunks = batches(spans)

        def select(named: list[tuple[str, Any]] = named) -> None:
            for name, attributes in named:
                is_selected(name, attributes)

        def ours(spans: Sequence[ReadableSpan] = spans) -> None:
            # What the exporter does per span: select, convert, map, encode with the keys.
            for span in spans:
                if is_selected(span.name, span.attributes or {}):
                    mapped = map_span(from_sdk(span))
                    if isinstance(mapped, Interaction):
                        encode(mapped.to_json(), APP_KEY, API_KEY)

        def otlp(chunks: list[Sequence[ReadableSpan]] = chunks) -> None:
            for chunk in chunks:
                encode_spans(chunk).SerializeToString()

        candidates = {"select": select, "ours": ours, "otlp": otlp}
        samples: dict[str, list[float]] = {name: [] for name in candidates}
        for work in candidates.values():
            work()  # warm-up
        for rep in range(reps):
            for name in rotated(list(candidates), rep):
                samples[name] += _per_span(candidates[name], len(spans), 1)
        select_us, ours_us, otlp_us = (median(samples[n]) for n in ("select", "ours", "otlp"))
        ratios[tag] = ours_us / otlp_us
        ratio = f"{ratios[tag]:.2f}x"
        rows.append(
            [tag, len(originals), fmt(select_us, 3), fmt(ours_us, 2), fmt(otlp_us, 2), ratio]
        )

    selection = report.target(
        "7. selection per unrelated span (is_selected)",
        f"{unrelated_us:.3f} us",
        "<= 1 us",
        unrelated_us <= 1.0,
    )
    worst = max(ratios, key=ratios.__getitem__)
    cpu = report.target(
        "7. CPU per LLM span, ours / OTLP protobuf (worst convention)",
        f"{ratios[worst]:.2f}x ({worst})",
        "<= 1.0x",
        ratios[worst] <= 1.0,
    )
    report.add(
        "## 7. LLM-call spans\n\n"
        "Real spans captured in this run from each instrumentation replaying every recorded "
        "call it covers (chat, streamed chat, tool calls, legacy completions, Responses, "
        f"Anthropic messages), repeated to {sizes.cpu:,} spans per convention; median of "
        f"{reps} interleaved repetitions; CPU microseconds per span (`time.thread_time`, so "
        "other processes on a loaded machine do not count). `select`: "
        "`is_selected(name, attributes)`; `ours`: select + `from_sdk` + `map_span` + "
        "`encode` (JSON with the keys); `OTLP`: `encode_spans(batch).SerializeToString()` "
        "in 512-span batches. Unrelated spans: "
        f"{len(unrelated):,} `GET /users`-style spans, selection only.\n\n"
        + table(
            ["convention", "recorded calls", "select us", "ours us", "OTLP us", "ours / OTLP"],
            rows,
        )
        + f"\n\n- {selection}\n- {cpu}"
    )
