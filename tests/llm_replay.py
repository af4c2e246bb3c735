"""The LLM end-to-end tests' machinery: each instrumentation convention, the real SDK call
of a recorded request against the loopback replay, and a tracer provider whose spans go
to memory, to ``ReconifySpanExporter`` and (optionally) through OTLP to a bridge.

The LLM end-to-end test modules and the benchmark section ``benchmarks/sections/llm.py``
(which captures its spans with it) import this.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib import import_module, metadata
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from reconify_otel import IdentitySpanProcessor, ReconifySpanExporter
from reconify_otel.core.mapping import is_selected
from reconify_otel.offline.replay import LlmReplay, RecordedCall, llm_cassettes, recorded_calls
from reconify_otel.offline.sink import ReconifySink

from .helpers import API_KEY, APP_KEY, sdk_restored

OPENAI_KEY = "sk-test-openai-9d1f3b7a2c"
ANTHROPIC_KEY = "sk-ant-test-4c8e2a6b1d"


@dataclass(frozen=True)
class Convention:
    """One instrumentation package, the SDK methods it records, and how to switch its
    message content on (``content_env``) and off (``no_content_env``, or for
    OpenInference ``no_content_config``: a ``TraceConfig`` given to ``instrument``)."""

    tag: str  # as in tests/fixtures/llm_spans and llm_expectations.LACKS
    package: str
    instrumentor: str  # "module:Class"
    methods: frozenset[str]
    content_env: tuple[tuple[str, str], ...] = ()
    no_content_env: tuple[tuple[str, str], ...] = ()
    no_content_config: bool = False  # OpenInference: TraceConfig(hide_inputs/outputs)

    def covers(self, call: RecordedCall) -> bool:
        return call.method in self.methods

    def new_instrumentor(self) -> Any:
        module, name = self.instrumentor.split(":")
        return getattr(import_module(module), name)()


OPENAI_METHODS = frozenset({"chat.completions.create", "completions.create", "responses.create"})
ANTHROPIC_METHODS = frozenset({"messages.create"})
CONVENTIONS = {
    c.tag: c
    for c in (
        Convention(
            "traceloop-openai-0.62.4",
            "opentelemetry-instrumentation-openai",
            "opentelemetry.instrumentation.openai:OpenAIInstrumentor",
            OPENAI_METHODS,
            no_content_env=(("TRACELOOP_TRACE_CONTENT", "false"),),
        ),
        Convention(
            "traceloop-anthropic-0.62.4",
            "opentelemetry-instrumentation-anthropic",
            "opentelemetry.instrumentation.anthropic:AnthropicInstrumentor",
            ANTHROPIC_METHODS,
            no_content_env=(("TRACELOOP_TRACE_CONTENT", "false"),),
        ),
        Convention(
            "openai-v2-2.4b0",
            "opentelemetry-instrumentation-openai-v2",
            "opentelemetry.instrumentation.openai_v2:OpenAIInstrumentor",
            frozenset({"chat.completions.create"}),
            content_env=(("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "SPAN_ONLY"),),
        ),
        Convention(
            "openinference-openai-0.1.66",
            "openinference-instrumentation-openai",
            "openinference.instrumentation.openai:OpenAIInstrumentor",
            OPENAI_METHODS,
            no_content_config=True,
        ),
        Convention(
            "openinference-anthropic-3.1.0",
            "openinference-instrumentation-anthropic",
            "openinference.instrumentation.anthropic:AnthropicInstrumentor",
            ANTHROPIC_METHODS,
            no_content_config=True,
        ),
    )
}
# Every switch any convention reads, cleared so the host's environment cannot leak in.
CONTENT_SWITCHES = (
    "TRACELOOP_TRACE_CONTENT",
    "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
    "OPENINFERENCE_HIDE_INPUTS",
    "OPENINFERENCE_HIDE_OUTPUTS",
)


@functools.cache
def all_calls() -> tuple[RecordedCall, ...]:
    """Every recorded OpenAI and Anthropic call, cassette by cassette (parsed once: YAML
    is slow); the other providers' recordings (the examples') have tests of their own."""
    return tuple(
        call
        for cassette in llm_cassettes()
        for call in recorded_calls(cassette)
        if call.provider in ("openai", "anthropic")
    )


def call_id(call: RecordedCall) -> str:
    return f"{call.cassette.split('__', 1)[1]}-{call.index}"


@contextlib.contextmanager
def instrumented(
    provider: TracerProvider, *tags: str, content: bool = True
) -> Iterator[list[Convention]]:
    """Conventions ``tags`` on ``provider``, instrumented in that order (versions checked:
    LACKS is per version), with message content on or off by each convention's own
    switch; uninstrumented after, and the SDK left bare (traceloop's ``uninstrument``
    leaves its openai wrappers behind)."""
    conventions = [CONVENTIONS[tag] for tag in tags]
    with pytest.MonkeyPatch.context() as env, sdk_restored(), contextlib.ExitStack() as stack:
        for name in CONTENT_SWITCHES:
            env.delenv(name, raising=False)
        env.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
        for convention in conventions:
            assert metadata.version(convention.package) == convention.tag.rsplit("-", 1)[1]
            for name, value in convention.content_env if content else convention.no_content_env:
                env.setenv(name, value)
            kwargs: dict[str, Any] = {}
            if convention.no_content_config and not content:
                from openinference.instrumentation import TraceConfig

                kwargs["config"] = TraceConfig(hide_inputs=True, hide_outputs=True)
            if convention.tag.startswith("traceloop-openai"):
                # traceloop keeps every Responses call it saw by response id, module-wide,
                # and continues the old span (its start time, its trace) when an id comes
                # back: a recording replayed twice in one process would give no new span.
                from opentelemetry.instrumentation.openai.v1 import responses_wrappers

                responses_wrappers.responses.clear()
            instrumentor = convention.new_instrumentor()
            instrumentor.instrument(tracer_provider=provider, **kwargs)
            stack.callback(instrumentor.uninstrument)
        yield conventions


def client(call: RecordedCall, replay: LlmReplay, *, use_async: bool = False) -> Any:
    """The real SDK client for ``call``'s provider, on the replay, without retries (a
    retry would consume the next recorded answer)."""
    if call.provider == "anthropic":
        import anthropic

        kind = anthropic.AsyncAnthropic if use_async else anthropic.Anthropic
        return kind(base_url=replay.url, api_key=ANTHROPIC_KEY, max_retries=0)
    import openai

    kind = openai.AsyncOpenAI if use_async else openai.OpenAI
    return kind(base_url=replay.base_url, api_key=OPENAI_KEY, max_retries=0)


def make_calls(
    calls: Sequence[RecordedCall],
    replay: LlmReplay,
    after: Callable[[RecordedCall], None] | None = None,
) -> None:
    """``make_call`` for each, in order, ``after(call)`` after each; one client per
    provider (making one costs ~0.1 s)."""
    made = {call.provider: client(call, replay) for call in calls}
    try:
        for call in calls:
            make_call(call, replay, made[call.provider])
            if after is not None:
                after(call)
    finally:
        for sdk_client in made.values():
            sdk_client.close()


def method_of(sdk_client: Any, call: RecordedCall) -> Callable[..., Any]:
    return functools.reduce(getattr, call.method.split("."), sdk_client)


def make_call(call: RecordedCall, replay: LlmReplay, sdk_client: Any = None, **extra: Any) -> None:
    """``create(**recorded_request)`` with the real SDK (``sdk_client``, else a new one for
    this call); a stream is read to its end."""
    own = sdk_client is None
    if own:
        sdk_client = client(call, replay)
    try:
        result = method_of(sdk_client, call)(**call.request, **extra)
        if call.streamed:
            with result:
                for _event in result:
                    pass
    finally:
        if own:
            sdk_client.close()


async def make_async_call(call: RecordedCall, sdk_client: Any) -> None:
    result = await method_of(sdk_client, call)(**call.request)
    if call.streamed:
        async for _event in result:  # the end closes it
            pass


class Pipeline:
    """A tracer provider whose spans go to memory, to ``ReconifySpanExporter`` (sending to
    ``sink``) and, given a bridge URL, through the real OTLP/HTTP exporter to it."""

    def __init__(
        self,
        sink: ReconifySink,
        bridge_url: str | None = None,
        *,
        identity: bool = False,
        content_off_sink: ReconifySink | None = None,
        **exporter_options: Any,
    ) -> None:
        """``identity``: with ``IdentitySpanProcessor`` (users and sessions on the spans);
        ``content_off_sink``: a second exporter beside, with ``capture_content=False``."""
        self.memory = InMemorySpanExporter()
        self.bridge_url = bridge_url
        self.provider = TracerProvider()
        if identity:
            self.provider.add_span_processor(IdentitySpanProcessor())
        self.provider.add_span_processor(SimpleSpanProcessor(self.memory))
        options: dict[str, Any] = {"concurrency": 1, "spool": False, **exporter_options}
        self.exporter = ReconifySpanExporter(f"{sink.url}/track", APP_KEY, API_KEY, **options)
        self.provider.add_span_processor(BatchSpanProcessor(self.exporter))
        if content_off_sink is not None:
            url = f"{content_off_sink.url}/track"
            without = ReconifySpanExporter(url, APP_KEY, API_KEY, capture_content=False, **options)
            self.provider.add_span_processor(BatchSpanProcessor(without))
        if bridge_url is not None:
            from .bridge_helpers import TOKEN  # needs the bridge extra: imported when used

            otlp = OTLPSpanExporter(
                endpoint=f"{bridge_url}/v1/traces", headers={"Authorization": f"Bearer {TOKEN}"}
            )
            self.provider.add_span_processor(BatchSpanProcessor(otlp))

    def flush(self) -> None:
        """Every finished span exported, and so delivered (exports wait for the answers)."""
        assert self.provider.force_flush(10_000)

    def close(self) -> None:
        self.provider.shutdown()

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def selected(spans: list[ReadableSpan] | tuple[ReadableSpan, ...]) -> list[ReadableSpan]:
    return [s for s in spans if is_selected(s.name, s.attributes or {})]


def expected_envelope(span: ReadableSpan, kind: tuple[str, str]) -> dict[str, Any]:
    """A payload's parts beside request and response, with no session or user set."""
    assert span.start_time is not None and span.end_time is not None
    return {
        "reconify": {
            "format": kind[0],
            "type": kind[1],
            "version": "3.1.0",
            "appKey": APP_KEY,
            "apiKey": API_KEY,
        },
        "timestamps": {
            "request": span.start_time // 1_000_000,
            "response": span.end_time // 1_000_000,
        },
        "session": None,
        "sessionTimeout": None,
        "user": {},
    }


def envelope_of(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if k not in ("request", "response")}


# LLM spans with content are larger than the bridge tests' limits.
BRIDGE_LIMITS = {"max_body_bytes": 4 * 1024 * 1024, "max_decompressed_bytes": 16 * 1024 * 1024}


@dataclass
class Outcome:
    """What one call left behind: its spans, and what each route delivered."""

    spans: list[ReadableSpan]
    in_process: list[dict[str, Any]]
    bridged: list[dict[str, Any]]
    content_off: list[dict[str, Any]]  # what an exporter with capture_content=False sent
    sent: list[dict[str, Any]]  # the bodies the SDK sent to the replay


@dataclass
class Replayed:
    outcomes: dict[tuple[str, int], Outcome]
    stats: dict[str, int]
    bridge_stats: dict[str, int]


def replay_all(
    tag: str,
    *,
    use_async: bool = False,
    through_bridge: bool = True,
    content: bool = True,
    **options: Any,
) -> Replayed:
    """Every recorded call ``tag`` covers, one at a time, each flushed before the next;
    ``content``: the convention's own content switch; ``options``: the exporter's."""
    from .bridge_helpers import bridges  # needs the bridge extra: imported when used

    calls = [c for c in all_calls() if CONVENTIONS[tag].covers(c)]
    outcomes: dict[tuple[str, int], Outcome] = {}
    with (
        ReconifySink() as sink,
        ReconifySink() as bridge_sink,
        ReconifySink() as content_off_sink,
        bridges(bridge_sink) as start,
    ):
        url, app = start(**BRIDGE_LIMITS)
        route = url if through_bridge else None
        with (
            Pipeline(sink, route, content_off_sink=content_off_sink, **options) as pipeline,
            instrumented(pipeline.provider, tag, content=content),
            LlmReplay(calls) as replay,
        ):

            def collect(call: RecordedCall) -> None:
                pipeline.flush()
                sent = [body for _path, body in replay.received[len(outcomes) :]]
                spans = list(pipeline.memory.get_finished_spans())
                outcome = Outcome(
                    spans, sink.payloads, bridge_sink.payloads, content_off_sink.payloads, sent
                )
                outcomes[(call.cassette, call.index)] = outcome
                for place in (pipeline.memory, sink, bridge_sink, content_off_sink):
                    place.clear()

            if use_async:
                asyncio.run(_each_async(calls, replay, collect))
            else:
                make_calls(calls, replay, collect)
        stats = pipeline.exporter.stats()
        bridge_stats = app.stats()
    return Replayed(outcomes, stats, bridge_stats)


async def _each_async(
    calls: list[RecordedCall], replay: LlmReplay, collect: Callable[[RecordedCall], None]
) -> None:
    clients = {c.provider: client(c, replay, use_async=True) for c in calls}
    for call in calls:
        await make_async_call(call, clients[call.provider])
        collect(call)
    for sdk_client in clients.values():
        await sdk_client.close()
