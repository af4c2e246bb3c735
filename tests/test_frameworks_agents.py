"""The OpenAI Agents SDK under OpenInference's and traceloop's Agents instrumentations,
alone and beside a provider instrumentation (traceloop or OpenInference OpenAI), end to
end: real ``Runner.run_sync``, real AsyncOpenAI, the loopback replay, a real sink and,
once, the real bridge.

Issue 20: the Agents SDK's model spans are selected by their attributes, each model call
gives exactly one payload, and a provider span (which knows the request) wins over the
framework's (which records the answer's echo of it). Expected values come from what the
SDK sent (``replay.received``) and from the answers served.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider

from reconify_otel.offline.replay import LlmReplay, RecordedCall, recorded_calls
from reconify_otel.runtime.counters import Stats

from .framework_runs import routed
from .helpers import sdk_restored
from .llm_recordings import expected_request
from .llm_replay import (
    CONTENT_SWITCHES,
    OPENAI_KEY,
    envelope_of,
    expected_envelope,
    instrumented,
)

pytestmark = pytest.mark.frameworks  # a group of its own (CONTRIBUTING.md)

RESPONSES = "/v1/responses"
PROVIDERS = {"tlopenai": "traceloop-openai-0.62.4", "oiopenai": "openinference-openai-0.1.66"}
# The instrumentation scope of the span each setup's payload must come from.
SCOPES = {
    "oi": "openinference.instrumentation.openai_agents",
    "tl": "opentelemetry.instrumentation.openai_agents",
    "tlopenai": "opentelemetry.instrumentation.openai.v1",
    "oiopenai": "openinference.instrumentation.openai",
}
AGENTS = ("oi", "tl")
WITH_PROVIDER = ("oi+tlopenai", "oi+oiopenai", "tl+tlopenai", "tl+oiopenai")
RUNS = ("plain", "tuned", "tool")
TUNED = {"temperature": 0.3, "top_p": 0.9}


def served_answers() -> list[RecordedCall]:
    """Answers in the order the calls ask for them (two text runs, then the tool run: a
    function call, then text), each with its own response id: a repeated id would make
    the repeat look like the same call to id-keyed instrumentations and to dedup."""
    text = recorded_calls("openai__test_responses__test_responses")
    tools = recorded_calls("openai__test_responses__test_responses_tool_calls")
    unique = []
    for n, call in enumerate([text[0], text[1], tools[0], text[0]]):
        old = json.loads(call.body)["id"]
        new = f"{old[:-2]}{n:02d}".encode()
        unique.append(dataclasses.replace(call, body=call.body.replace(old.encode(), new)))
    return unique


@dataclass
class Run:
    """One ``Runner.run_sync``: its model calls (sent body, served answer), what it left."""

    name: str
    calls: list[tuple[dict[str, Any], dict[str, Any]]]
    spans: list[ReadableSpan]
    payloads: list[dict[str, Any]]
    bridged: list[dict[str, Any]]


@contextlib.contextmanager
def agents_instrumented(provider: TracerProvider, setup: str) -> Iterator[None]:
    """``setup`` = "oi" | "tl", optionally "+tlopenai" / "+oiopenai". The SDK's own trace
    processors (its exporter to api.openai.com) are set aside first and restored after:
    traceloop's ``uninstrument`` leaves its processor registered."""
    import agents
    from agents.models import _openai_shared

    framework, _, extra = setup.partition("+")
    trace_provider: Any = agents.tracing.get_trace_provider()
    processors = list(trace_provider._multi_processor._processors)
    client, responses = (
        _openai_shared._default_openai_client,
        _openai_shared._use_responses_by_default,
    )
    with pytest.MonkeyPatch.context() as env, sdk_restored(), contextlib.ExitStack() as stack:
        stack.callback(agents.set_trace_processors, processors)
        stack.callback(_openai_shared.set_use_responses_by_default, responses)
        stack.callback(setattr, _openai_shared, "_default_openai_client", client)
        for name in (*CONTENT_SWITCHES, "OPENAI_API_KEY"):
            env.delenv(name, raising=False)
        env.setenv("TRACELOOP_TRACE_CONTENT", "true")
        agents.set_trace_processors([])
        if framework == "oi":
            from openinference.instrumentation.openai_agents import OpenAIAgentsInstrumentor
        else:
            from opentelemetry.instrumentation.openai_agents import (
                OpenAIAgentsInstrumentor,
            )
        instrumentor: Any = OpenAIAgentsInstrumentor()
        instrumentor.instrument(tracer_provider=provider)
        stack.callback(instrumentor.uninstrument)
        if extra:
            stack.enter_context(instrumented(provider, PROVIDERS[extra]))
        yield


def run_agents(setup: str, *, bridge: bool = False) -> tuple[list[Run], Stats]:
    """A plain run, one with ModelSettings(temperature=0.3, top_p=0.9), a tool run; each
    flushed before the next so its payloads are its own."""
    import agents
    from agents import Agent, ModelSettings, Runner, function_tool
    from openai import AsyncOpenAI

    @function_tool
    def get_weather(location: str) -> str:
        """Get the current weather for a location."""
        return f"Sunny in {location}"

    brief, model = "Be brief.", "gpt-4o"
    settings = ModelSettings(temperature=TUNED["temperature"], top_p=TUNED["top_p"])
    plain = Agent(name="Assistant", instructions=brief, model=model)
    tuned = Agent(name="Tuned", instructions=brief, model=model, model_settings=settings)
    tool = Agent(name="WeatherAgent", instructions=brief, model=model, tools=[get_weather])
    starts: list[tuple[str, Callable[[], object]]] = [
        ("plain", lambda: Runner.run_sync(plain, "hello")),
        ("tuned", lambda: Runner.run_sync(tuned, "hello")),
        ("tool", lambda: Runner.run_sync(tool, "What's the weather in London?")),
    ]
    served = served_answers()
    runs: list[Run] = []
    with contextlib.ExitStack() as outer:
        sink, bridge_sink, pipeline = outer.enter_context(routed(bridge))
        outer.enter_context(agents_instrumented(pipeline.provider, setup))
        replay = LlmReplay(served)
        outer.enter_context(replay)
        client = AsyncOpenAI(base_url=replay.base_url, api_key=OPENAI_KEY, max_retries=0)
        agents.set_default_openai_client(client, use_for_tracing=False)
        agents.set_default_openai_api("responses")
        for name, start in starts:
            made = len(replay.received)
            start()
            pipeline.flush()
            sent = [body for _path, body in replay.received[made:]]
            answers = [json.loads(call.body) for call in served[made : len(replay.received)]]
            spans = list(pipeline.memory.get_finished_spans())
            calls = list(zip(sent, answers, strict=True))
            runs.append(Run(name, calls, spans, sink.payloads, bridge_sink.payloads))
            for place in (pipeline.memory, sink, bridge_sink):
                place.clear()
        assert len(replay.received) == len(served)  # no retry, no extra request
        stats = pipeline.exporter.stats()
    return runs, stats


def nonzero(stats: Stats) -> dict[str, object]:
    return {k: v for k, v in stats.items() if v}


def by_call(run: Run) -> list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]:
    """(sent, answer, payload) per model call: exactly one payload each, by response id."""
    ids = sorted(p["response"]["id"] for p in run.payloads)
    assert ids == sorted(answer["id"] for _sent, answer in run.calls)
    payload = {p["response"]["id"]: p for p in run.payloads}
    return [(sent, answer, payload[answer["id"]]) for sent, answer in run.calls]


def span_of(run: Run, scope: str, response_id: str) -> ReadableSpan:
    """The span of ``scope`` that recorded the answer ``response_id``."""
    (span,) = [
        s
        for s in run.spans
        if s.instrumentation_scope is not None
        and s.instrumentation_scope.name == scope
        and any(response_id in str(v) for v in (s.attributes or {}).values())
    ]
    return span


def check_answer(answer: dict[str, Any], response: dict[str, Any]) -> None:
    """The served answer: model, text or tool calls, finish reason, usage."""
    assert response["model"] == answer["model"]
    (choice,) = response["choices"]
    message = choice["message"]
    messages = [item for item in answer["output"] if item["type"] == "message"]
    texts = [part["text"] for item in messages for part in item["content"]]
    calls = [(i["name"], i["arguments"]) for i in answer["output"] if i["type"] == "function_call"]
    if calls:
        got = [(c["function"]["name"], c["function"]["arguments"]) for c in message["tool_calls"]]
        assert got == calls
        assert choice["finish_reason"] == "tool_calls"
    else:
        assert message["content"] == "".join(texts)
        assert choice["finish_reason"] == "stop"
    usage = answer["usage"]
    assert response["usage"] == {
        "prompt_tokens": usage["input_tokens"],
        "completion_tokens": usage["output_tokens"],
        "total_tokens": usage["total_tokens"],
    }


Checked = tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]


def check_runs(runs: list[Run], chosen: str) -> list[Checked]:
    """One payload per call, the envelope of the ``chosen`` component's span and the
    answer; gives (run name, sent body, served answer, payload request) per call."""
    requests = []
    for run in runs:
        for sent, answer, payload in by_call(run):
            span = span_of(run, SCOPES[chosen], answer["id"])
            assert envelope_of(payload) == expected_envelope(span, ("openai", "chat"))
            assert all(type(v) is int for v in payload["timestamps"].values())
            check_answer(answer, payload["response"])
            requests.append((run.name, sent, answer, payload["request"]))
    return requests


def unset(request: dict[str, Any]) -> dict[str, Any]:
    return {k: request[k] for k in TUNED if k in request}


@pytest.mark.parametrize("setup", AGENTS)
def test_agents_alone_give_one_payload_per_model_call(setup: str) -> None:
    """The Agents SDK's own model span (OpenInference ``response``, traceloop
    ``openai.response``): the model it records is the answering one, the input as sent
    without the instructions it does not record, and never the sampling parameters (its
    values are the answer's echoes, 1.0, not the app's 0.3/0.9)."""
    runs, stats = run_agents(setup)
    assert nonzero(stats) == {"accepted": 4}
    assert [len(run.payloads) for run in runs] == [1, 1, 2]
    for name, sent, answer, request in check_runs(runs, setup):
        assert request["model"] == answer["model"] != sent["model"]
        assert unset(request) == {}
        if name != "tool":
            without = {k: v for k, v in sent.items() if k != "instructions"}
            assert request["messages"] == expected_request(RESPONSES, without)["messages"]


@pytest.mark.parametrize("setup", WITH_PROVIDER)
def test_a_provider_instrumentation_gives_the_payload(setup: str) -> None:
    """Beside a provider instrumentation each call is still one payload, the provider
    span's: the requested model, the instructions, and the app's temperature and top_p
    exactly in the run that set them."""
    runs, stats = run_agents(setup)
    assert nonzero(stats) == {"accepted": 4, "skipped_duplicate": 4}
    for name, sent, _answer, request in check_runs(runs, setup.partition("+")[2]):
        assert request["model"] == sent["model"] == "gpt-4o"
        assert unset(request) == (TUNED if name == "tuned" else {}) == unset(sent)
        if name != "tool":
            assert request["messages"] == expected_request(RESPONSES, sent)["messages"]


@pytest.mark.parametrize("setup", ["tl", "oi+tlopenai", "tl+oiopenai"])
def test_the_bridge_sends_the_same_payloads(setup: str) -> None:
    """The same spans through the OTLP exporter and the real bridge: the same payloads,
    one per call, as the in-process exporter's."""
    runs, _stats = run_agents(setup, bridge=True)
    for run in runs:
        assert len(run.payloads) == len(run.calls)
        key = lambda p: p["response"]["id"]  # noqa: E731
        bridged, local = sorted(run.bridged, key=key), sorted(run.payloads, key=key)
        assert [p["request"] for p in bridged] == [p["request"] for p in local]
        assert [p["response"] for p in bridged] == [p["response"] for p in local]
        assert [envelope_of(p) for p in bridged] == [envelope_of(p) for p in local]
