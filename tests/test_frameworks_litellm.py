"""LiteLLM (1.110.2) calling OpenAI, recorded two ways, through ``ReconifySpanExporter``:
one payload per model call, selected by the spans' attributes, never by their names.

- LiteLLM's own ``callbacks=["otel"]`` writes on the GLOBAL SDK TracerProvider: under an
  app span it puts a plain call's attributes on the APP's span (which must give the
  payload) and starts a ``litellm_request`` root for a stream; with no parent, each call
  is its own ``litellm_request``; ``raw_gen_ai_request`` children are never sent. It runs
  in a subprocess (one for both setups, ~3 s of imports), each setup with its own
  exporter and sink, so the test session keeps its provider.
- openinference-instrumentation-litellm 0.1.51 (``completion`` spans, no response id)
  runs here on its own provider.

The recorded answers, sinks and bridges run here; expectations come from what LiteLLM
really sent (``replay.received``) and the recordings, never from the exporter's output.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import pytest

from reconify_otel.offline.replay import LlmReplay, recorded_calls
from reconify_otel.offline.sink import ReconifySink

from .bridge_helpers import bridges
from .framework_runs import MESSAGES, PLAIN, STREAMED, routed, run_traced_app
from .helpers import API_KEY, APP_KEY
from .llm_recordings import exchanges
from .llm_replay import BRIDGE_LIMITS

pytestmark = pytest.mark.frameworks  # a group of its own (CONTRIBUTING.md)

OFFLINE = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "HF_HUB_OFFLINE": "1"}
SETUPS = ("app-span", "no-parent")  # LiteLLM's OTel callback: in this order, one process

# ``python -c SCRIPT ARGS_JSON``: per setup, a plain call then a streamed one read to its
# end, the spans routed to that setup's exporter and bridge (a switch on the global
# provider); LiteLLM logs success from worker threads, so each setup waits for its spans.
SCRIPT = r"""
import contextlib, json, os, sys, time

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from reconify_otel import ReconifySpanExporter

args = json.loads(sys.argv[1])


class Switch(SpanProcessor):
    processors = []

    def on_end(self, span):
        for processor in self.processors:
            processor.on_end(span)


switch = Switch()
provider = TracerProvider()
provider.add_span_processor(switch)
trace.set_tracer_provider(provider)  # before LiteLLM's callback looks it up

import litellm

litellm.telemetry = False
litellm.callbacks = ["otel"]


def settle(memory, count, quiet=0.4, timeout=20.0):
    deadline, seen, since = time.monotonic() + timeout, -1, time.monotonic()
    while time.monotonic() < deadline:
        now = len(memory.get_finished_spans())
        if now != seen:
            seen, since = now, time.monotonic()
        elif now >= count and time.monotonic() - since >= quiet:
            return
        time.sleep(0.05)


def plain(value):
    return [plain(v) for v in value] if isinstance(value, (list, tuple)) else value


out = {}
call = dict(
    model="openai/gpt-3.5-turbo", api_base=args["base_url"], api_key="sk-test-litellm",
    messages=args["messages"],
)
for setup, route in args["setups"].items():
    memory = InMemorySpanExporter()
    exporter = ReconifySpanExporter(
        route["sink"] + "/track", args["app_key"], args["api_key"], concurrency=1, spool=False
    )
    otlp = OTLPSpanExporter(
        endpoint=route["bridge"] + "/v1/traces",
        headers={"Authorization": "Bearer " + args["token"]},
    )
    processors = [SimpleSpanProcessor(memory), BatchSpanProcessor(exporter)]
    Switch.processors = processors + [BatchSpanProcessor(otlp)]
    parent = (
        provider.get_tracer("app").start_as_current_span("app request")
        if setup == "app-span" else contextlib.nullcontext()
    )
    with parent:
        litellm.completion(**call)
        settle(memory, 1)  # its attributes are on the app span before that span ends
        for _chunk in litellm.completion(stream=True, **call):
            pass
    settle(memory, 4)
    for processor in Switch.processors:
        assert processor.force_flush(10_000)
    names = {s.context.span_id: s.name for s in memory.get_finished_spans()}
    out[setup] = {
        "stats": {k: v for k, v in exporter.stats().items() if v},
        "spans": [
            {
                "name": s.name,
                "parent": names.get(s.parent.span_id) if s.parent else None,
                "start": s.start_time,
                "end": s.end_time,
                "attributes": {k: plain(v) for k, v in (s.attributes or {}).items()},
            }
            for s in memory.get_finished_spans()
        ],
    }
with open(args["out"], "w") as file:
    json.dump(out, file)
sys.stdout.flush()
os._exit(0)  # everything is flushed; LiteLLM's logging threads need not be joined
"""


@dataclass
class Setup:
    """One setup's record: bodies sent to the replay, the payloads each route delivered,
    the exporter's nonzero counters and the spans (times, attributes)."""

    sent: list[dict[str, Any]]
    payloads: list[dict[str, Any]]
    bridged: list[dict[str, Any]]
    stats: dict[str, int]
    spans: list[dict[str, Any]]


def _check_versions() -> None:
    assert metadata.version("litellm") == "1.110.2"
    assert metadata.version("openinference-instrumentation-litellm") == "0.1.51"


@pytest.fixture(scope="module")
def otel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Setup]]:
    """Both ``callbacks=["otel"]`` setups in one subprocess (once per module)."""
    _check_versions()
    calls = [recorded_calls(PLAIN)[0], recorded_calls(STREAMED)[0]] * len(SETUPS)
    work = tmp_path_factory.mktemp("litellm")
    out = work / "out.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "USE_OTEL"))}
    env.update(OFFLINE)
    with contextlib.ExitStack() as stack:
        replay = stack.enter_context(LlmReplay(calls))
        sinks: dict[str, tuple[ReconifySink, ReconifySink]] = {}
        routes: dict[str, dict[str, str]] = {}
        for setup in SETUPS:  # each setup its own sink, bridge and bridge sink
            sink, bridge_sink = (stack.enter_context(ReconifySink()) for _ in range(2))
            url, _app = stack.enter_context(bridges(bridge_sink))(**BRIDGE_LIMITS)
            sinks[setup] = (sink, bridge_sink)
            routes[setup] = {"sink": sink.url, "bridge": url}
        args = {
            "setups": routes,
            "base_url": replay.base_url,
            "messages": MESSAGES,
            "out": str(out),
        }
        result = run_traced_app(SCRIPT, args, work, env, timeout=120)
        sent = [body for _path, body in replay.received]
        setups = {}
        for n, setup in enumerate(SETUPS):
            sink, bridge_sink = sinks[setup]
            bridge_sink.wait_for(len(sink.payloads), timeout=5)
            bodies = sent[2 * n : 2 * n + 2]
            stats, spans = result[setup]["stats"], result[setup]["spans"]
            setups[setup] = Setup(bodies, sink.payloads, bridge_sink.payloads, stats, spans)
        yield setups


@pytest.fixture(scope="module")
def openinference() -> Iterator[Setup]:
    """OpenInference's LiteLLM instrumentor on a provider of its own, under an app span."""
    _check_versions()
    with pytest.MonkeyPatch.context() as env:
        for name, value in OFFLINE.items():
            env.setenv(name, value)
        import litellm
        from openinference.instrumentation.litellm import LiteLLMInstrumentor

    calls = [recorded_calls(PLAIN)[0], recorded_calls(STREAMED)[0]]
    call = {"model": "openai/gpt-3.5-turbo", "api_key": "sk-test-litellm", "messages": MESSAGES}
    with routed(True) as (sink, bridge_sink, pipeline), LlmReplay(calls) as replay:
        instrumentor = LiteLLMInstrumentor()
        instrumentor.instrument(tracer_provider=pipeline.provider)
        try:
            with pipeline.provider.get_tracer("app").start_as_current_span("app request"):
                litellm.completion(api_base=replay.base_url, **call)
                stream = litellm.completion(api_base=replay.base_url, stream=True, **call)
                for _chunk in stream:
                    pass
        finally:
            instrumentor.uninstrument()
        pipeline.flush()
        stats = {k: v for k, v in pipeline.exporter.stats().items() if v}
        spans = [
            {
                "name": s.name,
                "start": s.start_time,
                "end": s.end_time,
                "attributes": dict(s.attributes or {}),
            }
            for s in pipeline.memory.get_finished_spans()
        ]
        bridge_sink.wait_for(len(sink.payloads), timeout=5)
        sent = [body for _path, body in replay.received]
        yield Setup(sent, sink.payloads, bridge_sink.payloads, stats, spans)


def answer_of(cassette: str) -> dict[str, Any]:
    """The recorded answer of the cassette's first call (a stream accumulated)."""
    return exchanges(cassette)[0]["answer"]


def text_of(answer: dict[str, Any]) -> str:
    return str(answer["choices"][0]["message"]["content"])


def usage_of(answer: dict[str, Any]) -> dict[str, int]:
    keys = ("prompt_tokens", "completion_tokens", "total_tokens")
    return {k: answer["usage"][k] for k in keys if k in answer["usage"]}


def ms(ns: int) -> int:
    return ns // 1_000_000


def by_text(setup: Setup, answer: dict[str, Any]) -> dict[str, Any]:
    """The one payload answering with the recorded text (payloads arrive in any order)."""
    found = [
        p
        for p in setup.payloads
        if ((p.get("response") or {}).get("choices") or [{}])[0].get("message", {}).get("content")
        == text_of(answer)
    ]
    assert len(found) == 1, f"{len(found)} payloads answer {answer['id']}: {setup.payloads}"
    return found[0]


def check_sent(setup: Setup) -> None:
    """LiteLLM sent the routed model without its ``openai/`` prefix, the messages as given."""
    assert setup.sent == [
        {"model": "gpt-3.5-turbo", "messages": MESSAGES},
        {"model": "gpt-3.5-turbo", "messages": MESSAGES, "stream": True},
    ]


def without_stream(sent: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in sent.items() if k != "stream"}


def check_envelope(payload: dict[str, Any], span: dict[str, Any]) -> None:
    assert payload["reconify"]["format"] == "openai"
    assert payload["reconify"]["type"] == "chat"
    assert (payload["reconify"]["appKey"], payload["reconify"]["apiKey"]) == (APP_KEY, API_KEY)
    assert payload["timestamps"] == {"request": ms(span["start"]), "response": ms(span["end"])}


@pytest.mark.parametrize(
    ("setup", "plain_from"),
    [("app-span", "app request"), ("no-parent", "litellm_request")],
)
def test_litellm_otel_sends_one_payload_per_call_from_the_span_holding_it(
    otel: dict[str, Setup], setup: str, plain_from: str
) -> None:
    """Under an app span the plain call's attributes are on the app's span: that span is
    the call; a stream gets its own ``litellm_request`` root; ``raw_gen_ai_request``
    spans (a copy of the provider's answer) never give a payload."""
    record = otel[setup]
    check_sent(record)
    assert len(record.payloads) == 2
    assert record.stats == {"accepted": 2}
    for cassette, name in ((PLAIN, plain_from), (STREAMED, "litellm_request")):
        answer = answer_of(cassette)
        holding = [
            s for s in record.spans if s["attributes"].get("gen_ai.response.id") == answer["id"]
        ]
        (span,) = [s for s in holding if s["name"] != "raw_gen_ai_request"]
        assert span["name"] == name and span["parent"] is None
        check_envelope(by_text(record, answer), span)


@pytest.mark.parametrize("setup", SETUPS)
def test_litellm_otel_payloads_hold_what_was_sent_and_answered(
    otel: dict[str, Setup], setup: str
) -> None:
    """The request as it went over the wire (``stream`` for the stream), the recorded
    answer's id, text, finish reason, usage and model."""
    record = otel[setup]
    for sent, cassette in zip(record.sent, (PLAIN, STREAMED), strict=True):
        answer = answer_of(cassette)
        payload = by_text(record, answer)
        request = payload["request"]
        assert {k: request.get(k) for k in ("model", "messages")} == without_stream(sent)
        response = payload["response"]
        assert response["id"] == answer["id"]
        assert response["model"] == answer["model"]
        choice = response["choices"][0]
        assert choice["message"] == {"role": "assistant", "content": text_of(answer)}
        assert choice["finish_reason"] == "stop"
        assert response["usage"] == usage_of(answer)
        assert request == sent  # a stream says so ("stream": true), as the SDK sent it


def test_openinference_litellm_sends_each_call_without_routing_details(
    openinference: Setup,
) -> None:
    """``completion`` spans (kind LLM): the model as sent (no ``openai/`` routing prefix),
    no ``api_base`` from the invocation parameters, no response id (the span has none)."""
    check_sent(openinference)
    assert len(openinference.payloads) == 2
    assert openinference.stats == {"accepted": 2}
    for sent, cassette in zip(openinference.sent, (PLAIN, STREAMED), strict=True):
        answer = answer_of(cassette)
        payload = by_text(openinference, answer)
        assert payload["request"] == sent
        assert "api_base" not in json.dumps(payload)
        assert payload["response"].get("id") is None
        (span,) = [
            s for s in openinference.spans if s["attributes"].get("output.value") == text_of(answer)
        ]
        assert span["name"] == "completion"
        check_envelope(payload, span)
    plain = by_text(openinference, answer_of(PLAIN))
    assert plain["response"]["usage"] == usage_of(answer_of(PLAIN))
    names = [s["name"] for s in openinference.spans]
    assert "app request" in names  # there, and not sent


@pytest.mark.parametrize("setup", [*SETUPS, "openinference"])
def test_the_bridge_sends_the_same_payloads(
    otel: dict[str, Setup], openinference: Setup, setup: str
) -> None:
    """The same spans through the real OTLP exporter and the bridge: the same payloads."""
    record = openinference if setup == "openinference" else otel[setup]
    assert len(record.payloads) == 2

    def key(payload: dict[str, Any]) -> str:
        return json.dumps(payload, sort_keys=True)

    assert sorted(record.bridged, key=key) == sorted(record.payloads, key=key)
