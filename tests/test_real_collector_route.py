"""The route through a real OpenTelemetry Collector running ``otel-collector-config.yaml``:
application (``OTLPSpanExporter``) -> Collector -> bridge (uvicorn) -> loopback Reconify
sink, and every span to Jaeger (a second Collector receiving OTLP/gRPC, as Jaeger v2 is).

``filter/genai`` must let through every LLM call of every convention the exporter maps
(traceloop, the official openai-v2, OpenInference, which sets no gen_ai.* attribute) and
the assistant runs, and nothing else. The LLM spans are the real instrumentations' spans
captured in tests/fixtures/llm_spans, emitted again with the real SDK tracer, and
traceloop's Assistants run spans (tests/helpers.py).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from reconify_otel.offline.sink import ReconifySink

from . import collector_bridge, collector_build, collector_process
from .collector_bridge import (
    UNRELATED,
    Bridge,
    in_order,
    in_process_payloads,
    make_spans,
    names_ids,
    settle,
    wait_until,
)
from .collector_process import Collector, Recorded, send
from .helpers import API_KEY, APP_KEY, CURRENT, make_span

# The shared fixtures, bound by name.
otelcol = collector_build.otelcol
start_collector = collector_process.start_collector
jaeger = collector_process.jaeger
start_bridge = collector_bridge.start_bridge

# The first test may pay for a cold build.
pytestmark = [pytest.mark.collector, pytest.mark.timeout(1200)]

LLM_SPANS = Path(__file__).parent / "fixtures" / "llm_spans"
OPENAI_KINDS = ("chat", "completion", "responses")
# The call kinds of each convention's captures (content on), and of OpenInference's with
# content hidden (no response id, no gen_ai.* attribute: the filter must still pass them).
KINDS = {
    "traceloop-openai-0.62.4": OPENAI_KINDS,
    "traceloop-openai-0.54.0": OPENAI_KINDS,
    "openai-v2-2.4b0": ("chat",),
    "openinference-openai-0.1.66": OPENAI_KINDS,
    "traceloop-anthropic-0.62.4": ("anthropic",),
    "traceloop-anthropic-0.53.4": ("anthropic",),
    "openinference-anthropic-3.1.0": ("anthropic",),
    "openinference-openai-0.1.66-nocontent": OPENAI_KINDS,
    "openinference-anthropic-3.1.0-nocontent": ("anthropic",),
}
CALLS = sum(len(kinds) for kinds in KINDS.values())
# Assistants runs as opentelemetry-instrumentation-openai (traceloop) records them.
UPSTREAM_RUNS = ("openai.assistant.run", "openai.assistant.run_stream")
# Spans the filter must drop: embeddings in each convention, another framework's agent
# span, an OpenInference chain, HTTP and DB.
NOT_CALLS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("openai.embeddings", {"gen_ai.system": "openai", "llm.request.type": "embedding"}),
    (
        "embeddings text-embedding-3-small",
        {"gen_ai.operation.name": "embeddings", "gen_ai.provider.name": "openai"},
    ),
    (
        "CreateEmbeddingResponse",
        {"openinference.span.kind": "EMBEDDING", "embedding.model_name": "text-embedding-3"},
    ),
    ("invoke_agent planner", {"gen_ai.operation.name": "invoke_agent"}),
    ("RunnableSequence", {"openinference.span.kind": "CHAIN"}),
    ("POST /v1/chat/completions", {"http.request.method": "POST"}),
    ("SELECT answers", {"db.system.name": "postgresql"}),
)


def call_kind(cassette: str) -> str:
    for kind in ("anthropic", "responses", "completion"):
        if kind in cassette:
            return kind
    return "chat"


def one_call_per_kind() -> list[tuple[str, str, dict[str, Any]]]:
    """For each capture and each call kind it has, one captured span (capture, kind,
    span), no recorded call twice: the same call under two conventions has the same
    response id, and Reconify is sent each call once."""
    used: set[tuple[str, int]] = set()
    picked: dict[tuple[str, str], dict[str, Any]] = {}
    for capture in KINDS:
        for path in sorted((LLM_SPANS / capture).glob("*/*.json")):
            span = json.loads(path.read_text())
            call = (path.parent.name, int(span["call_index"]))
            key = (capture, call_kind(call[0]))
            if key not in picked and call not in used:
                picked[key] = span
                used.add(call)
    return [(capture, kind, span) for (capture, kind), span in picked.items()]


def emit(calls: list[dict[str, Any]]) -> tuple[list[ReadableSpan], list[ReadableSpan]]:
    """The captured spans and NOT_CALLS, made again by the SDK tracer, each its own trace."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("test_real_collector_route")
    begin = 1_774_963_843_123_000_000
    for n, span in enumerate(calls):
        made = tracer.start_span(
            span["name"],
            kind=SpanKind[span["kind"]],
            attributes=span["attributes"],
            start_time=begin + n * 1_000_000,
        )
        made.set_status(Status(StatusCode[span["status"]["code"]]))
        made.end(begin + n * 1_000_000 + 500_000)
    llm = list(memory.get_finished_spans())
    for name, attributes in NOT_CALLS:
        tracer.start_span(name, attributes=attributes, start_time=begin).end(begin + 1000)
    return llm, list(memory.get_finished_spans())[len(llm) :]


def at_jaeger(recorded: Recorded, count: int) -> list[tuple[str, str]]:
    """What reached Jaeger once ``count`` spans have, and 1 s more for a duplicate to show."""
    wait_until(lambda: len(recorded.snapshot()) >= count, 20, "spans at Jaeger")
    time.sleep(1)
    return sorted(recorded.snapshot())


def test_spans_through_the_real_collector_reach_jaeger_and_reconify(
    start_collector: Callable[[str, int], Collector],
    start_bridge: Callable[..., Bridge],
    jaeger: tuple[int, Recorded],
    sink: ReconifySink,
) -> None:
    jaeger_port, jaeger_spans = jaeger
    bridge = start_bridge()
    collector = start_collector(bridge.url, jaeger_port)
    spans = make_spans("e2e", 3)
    send(collector, spans)

    settle(sink, 3)
    # Reconify: one payload per run, the same payloads as the in-process exporter's.
    assert sink.accepted == sink.attempts == 3
    assert in_order(sink.payloads) == in_process_payloads(spans)
    for payload in sink.payloads:
        assert (payload["reconify"]["appKey"], payload["reconify"]["apiKey"]) == (APP_KEY, API_KEY)
    # The bridge got the runs and chat spans only, each once, with the token.
    kept = [span for span in spans if span.name not in UNRELATED]
    assert len(kept) == 6 and len(spans) == 12
    assert bridge.spans() == names_ids(kept)
    assert set(bridge.statuses()) == {200}
    assert collector.errors() == []
    # Jaeger: every span, unrelated ones included, each once.
    assert at_jaeger(jaeger_spans, len(spans)) == names_ids(spans)


def test_the_filter_passes_every_llm_call_convention_and_drops_the_rest(
    start_collector: Callable[[str, int], Collector],
    start_bridge: Callable[..., Bridge],
    jaeger: tuple[int, Recorded],
    sink: ReconifySink,
) -> None:
    calls = one_call_per_kind()
    assert sorted((capture, kind) for capture, kind, _ in calls) == sorted(
        (capture, kind) for capture, kinds in KINDS.items() for kind in kinds
    )
    llm, others = emit([span for _, _, span in calls])
    assert (len(llm), len(others)) == (CALLS, len(NOT_CALLS)) == (17, 7)
    llm += [make_span(name, CURRENT) for name in UPSTREAM_RUNS]
    expected = in_process_payloads(llm)
    assert len(expected) == len(llm) == 19  # one payload per call or run, in process

    jaeger_port, jaeger_spans = jaeger
    bridge = start_bridge()
    collector = start_collector(bridge.url, jaeger_port)
    send(collector, [*others[:3], *llm, *others[3:]])

    settle(sink, len(llm))
    assert sink.accepted == sink.attempts == len(llm)
    assert in_order(sink.payloads) == expected
    # Only the LLM calls and runs reached the bridge, each once; none was rejected.
    assert bridge.spans() == names_ids(llm)
    assert [(e.status, e.rejected_spans()) for e in bridge.recorder.exchanges] == [(200, 0)] * len(
        bridge.recorder.exchanges
    )
    assert collector.errors() == []
    # Jaeger got everything, each once.
    assert at_jaeger(jaeger_spans, len(llm) + len(others)) == names_ids([*llm, *others])
