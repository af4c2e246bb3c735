"""LangChain's ChatOpenAI under traceloop's and OpenInference's LangChain instrumentations
(alone and beside a provider instrumentation), end to end: real LangChain, real OpenAI
SDK, the loopback replay, a real sink and, once, the real bridge.

Issue 20: framework spans are selected by their attributes (not by their names), and each
model call gives exactly one payload however many instrumentations record it. Expected
values come from what the SDK sent (``replay.received``) and from the recordings.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import import_module
from typing import Any

import pytest
from langchain_core.runnables import RunnableConfig
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider

from reconify_otel.offline.replay import LlmReplay, recorded_calls
from reconify_otel.runtime.counters import Stats

from .framework_runs import PLAIN, STREAMED, routed
from .helpers import sdk_restored
from .llm_recordings import exchanges
from .llm_replay import (
    CONTENT_SWITCHES,
    OPENAI_KEY,
    envelope_of,
    expected_envelope,
    instrumented,
)

pytestmark = pytest.mark.frameworks  # a group of its own (CONTRIBUTING.md)

# The recorded answers in the order the three calls are made: invoke, stream, chain.
ANSWERS = [exchanges(PLAIN)[0]["answer"], exchanges(STREAMED)[0]["answer"]]
ANSWERS.append(exchanges(PLAIN)[1]["answer"])
CALLS = ("invoke", "stream", "chain")
PROVIDERS = {"tlopenai": "traceloop-openai-0.62.4", "oiopenai": "openinference-openai-0.1.66"}
# The span each setup's payload must come from: (instrumentation scope, attribute, value).
CHOSEN = {
    "tl": ("opentelemetry.instrumentation.langchain", "gen_ai.operation.name", "chat"),
    "oi": ("openinference.instrumentation.langchain", "openinference.span.kind", "LLM"),
    "oiopenai": ("openinference.instrumentation.openai", "openinference.span.kind", "LLM"),
}
SESSION = {"session": "sess-1", "user": {"userId": "u-1"}}
OPENAI_CHAT = ("openai", "chat")


@dataclass
class Call:
    """One model call: what the SDK sent, the recorded answer, what it left behind."""

    name: str
    sent: dict[str, Any]
    answer: dict[str, Any]
    spans: list[ReadableSpan]
    payloads: list[dict[str, Any]]
    bridged: list[dict[str, Any]]


# What traceloop's LangChain instrumentor wraps; its ``uninstrument`` (0.62.4) leaves the
# wrappers on (``unwrap("langchain_core.callbacks", "BaseCallbackManager.__init__")`` never
# resolves), and the next ``instrument`` would keep the first tracer provider's handler.
WRAPPED = (
    ("langchain_core.callbacks", "BaseCallbackManager"),
    ("langchain_openai.chat_models.base", "BaseChatOpenAI"),
    ("langchain_openai.llms.base", "BaseOpenAI"),
)


@contextlib.contextmanager
def langchain_restored() -> Iterator[None]:
    """The LangChain classes instrumentors wrap, as they were before, after."""
    saved = []
    for module, name in WRAPPED:
        cls = getattr(import_module(module), name)
        saved.append((cls, dict(vars(cls))))
    try:
        yield
    finally:
        for cls, before in saved:
            for key, value in before.items():
                if vars(cls).get(key) is not value:
                    setattr(cls, key, value)


@contextlib.contextmanager
def langchain_instrumented(provider: TracerProvider, setup: str) -> Iterator[None]:
    """``setup`` = "tl" | "oi", optionally "+tlopenai" / "+oiopenai"; content on, every
    instrumentor uninstrumented after and the OpenAI SDK left bare."""
    framework, _, extra = setup.partition("+")
    with (
        pytest.MonkeyPatch.context() as env,
        sdk_restored(),
        langchain_restored(),
        contextlib.ExitStack() as stack,
    ):
        for name in CONTENT_SWITCHES:
            env.delenv(name, raising=False)
        env.setenv("TRACELOOP_TRACE_CONTENT", "true")
        env.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
        if extra:
            stack.enter_context(instrumented(provider, PROVIDERS[extra]))
        if framework == "tl":
            from opentelemetry.instrumentation.langchain import LangchainInstrumentor

            instrumentor: Any = LangchainInstrumentor()
        else:
            from openinference.instrumentation.langchain import LangChainInstrumentor

            instrumentor = LangChainInstrumentor()
        instrumentor.instrument(tracer_provider=provider)
        stack.callback(instrumentor.uninstrument)
        yield


@contextlib.contextmanager
def openinference_identity() -> Iterator[None]:
    from openinference.instrumentation import using_session, using_user

    with using_session("sess-1"), using_user("u-1"):
        yield


def chain_identity(setup: str) -> tuple[RunnableConfig, contextlib.AbstractContextManager[Any]]:
    """traceloop reads session and user from the run's metadata, OpenInference from its
    context managers (given alone, so each is the only source)."""
    if setup.startswith("tl"):
        metadata = {"session_id": "sess-1", "user_id": "u-1"}
        return RunnableConfig(metadata=metadata), contextlib.nullcontext()
    return RunnableConfig(), openinference_identity()


def run_langchain(setup: str, *, bridge: bool = False) -> tuple[list[Call], Stats]:
    """invoke, stream (read to its end), then ``prompt | llm`` with temperature, max_tokens,
    session and user; each flushed before the next so its payloads are its own."""
    from langchain_core.messages import HumanMessage, SystemMessage
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_openai import ChatOpenAI

    served = [recorded_calls(PLAIN)[0], recorded_calls(STREAMED)[0], recorded_calls(PLAIN)[1]]
    calls: list[Call] = []
    with contextlib.ExitStack() as outer:
        sink, bridge_sink, pipeline = outer.enter_context(routed(bridge))
        outer.enter_context(langchain_instrumented(pipeline.provider, setup))
        replay = LlmReplay(served)
        outer.enter_context(replay)
        options: dict[str, Any] = {"base_url": replay.base_url, "api_key": OPENAI_KEY}
        llm = ChatOpenAI(model="gpt-3.5-turbo", max_retries=0, **options)
        tuned = ChatOpenAI(
            model="gpt-3.5-turbo",
            max_retries=0,
            temperature=0.2,
            max_tokens=100,  # type: ignore[call-arg]  # the alias of max_completion_tokens
            **options,
        )
        messages = [
            SystemMessage(content="You are a comedian."),
            HumanMessage(content="Tell me a joke about opentelemetry"),
        ]
        prompt = ChatPromptTemplate.from_messages(
            [("system", "You are a comedian."), ("human", "Tell me a joke about {topic}")]
        )

        def chain() -> None:
            config, context = chain_identity(setup)
            with context:
                (prompt | tuned).invoke({"topic": "opentelemetry"}, config=config)

        actions: list[Callable[[], object]] = [
            lambda: llm.invoke(messages),
            lambda: list(llm.stream(messages)),
            chain,
        ]
        for name, action, answer in zip(CALLS, actions, ANSWERS, strict=True):
            action()
            pipeline.flush()
            spans = list(pipeline.memory.get_finished_spans())
            sent = replay.received[len(calls)][1]
            calls.append(Call(name, sent, answer, spans, sink.payloads, bridge_sink.payloads))
            for place in (pipeline.memory, sink, bridge_sink):
                place.clear()
        assert len(replay.received) == 3  # no retry, no extra request
        stats = pipeline.exporter.stats()
    return calls, stats


def nonzero(stats: Stats) -> dict[str, object]:
    return {k: v for k, v in stats.items() if v}


def chosen_span(call: Call, which: str) -> ReadableSpan:
    scope, key, value = CHOSEN[which]
    (span,) = [
        s
        for s in call.spans
        if s.instrumentation_scope is not None
        and s.instrumentation_scope.name == scope
        and (s.attributes or {}).get(key) == value
    ]
    return span


def check_envelope(call: Call, payload: dict[str, Any], which: str) -> None:
    """Format, type, keys and the chosen span's times; session and user on the chain only."""
    expected = expected_envelope(chosen_span(call, which), OPENAI_CHAT)
    if call.name == "chain":
        expected.update(SESSION)
    assert envelope_of(payload) == expected
    assert all(type(v) is int for v in payload["timestamps"].values())


def check_answer(call: Call, response: dict[str, Any], *, with_id: bool) -> None:
    """The recorded answer: id (when the span holds one), model, text, finish, usage."""
    recorded = call.answer
    if with_id:
        assert response["id"] == recorded["id"]
    else:
        assert response.get("id") is None
    assert response["model"] == recorded["model"]
    (choice,) = response["choices"]
    assert choice["message"]["content"] == recorded["choices"][0]["message"]["content"]
    assert choice["finish_reason"] == recorded["choices"][0]["finish_reason"] == "stop"
    usage = {k: recorded["usage"][k] for k in ("prompt_tokens", "completion_tokens")}
    usage["total_tokens"] = recorded["usage"]["total_tokens"]
    assert response["usage"] == usage


def framework_request(call: Call, max_tokens_name: str) -> dict[str, Any]:
    """What a framework span records: model and messages as sent; the chain's two
    parameters, the output limit under the convention's name."""
    request = {"model": call.sent["model"], "messages": call.sent["messages"]}
    if call.name == "chain":
        request["temperature"] = call.sent["temperature"]
        request[max_tokens_name] = call.sent["max_completion_tokens"]
    return request


@pytest.mark.parametrize("setup", ["tl", "tl+tlopenai"])
def test_traceloop_langchain_gives_one_payload_per_call(setup: str) -> None:
    """traceloop's ChatOpenAI.chat span is selected by its attributes (the provider span is
    suppressed under it): the request as sent, with max_tokens by the conventions' name."""
    calls, stats = run_langchain(setup)
    assert nonzero(stats) == {"accepted": 3}
    for call in calls:
        assert not [s for s in call.spans if s.name.startswith("openai.")]  # suppressed
        (payload,) = call.payloads
        check_envelope(call, payload, "tl")
        assert payload["request"] == framework_request(call, "max_tokens")
        check_answer(call, payload["response"], with_id=call.name != "stream")


def test_openinference_langchain_alone_gives_one_payload_per_call() -> None:
    """OpenInference's ChatOpenAI LLM span: model from the invocation parameters, none of
    LangChain's own keys ("_type", "model_name", "stop", "stream"), the id from llm_output."""
    calls, stats = run_langchain("oi")
    assert nonzero(stats) == {"accepted": 3}
    for call in calls:
        (payload,) = call.payloads
        check_envelope(call, payload, "oi")
        assert payload["request"] == framework_request(call, "max_completion_tokens")
        check_answer(call, payload["response"], with_id=call.name != "stream")


def test_openinference_langchain_with_openinference_openai_sends_the_provider_span() -> None:
    """The ChatCompletion spans are roots of their own traces, yet each call is one payload:
    the provider span's (what was sent, stream flag included, and the id for all three)."""
    calls, stats = run_langchain("oi+oiopenai")
    assert nonzero(stats) == {"accepted": 3, "skipped_duplicate": 3}
    for call in calls:
        provider = chosen_span(call, "oiopenai")
        framework = chosen_span(call, "oi")
        assert provider.context.trace_id != framework.context.trace_id
        (payload,) = call.payloads
        check_envelope(call, payload, "oiopenai")
        assert payload["request"] == call.sent
        check_answer(call, payload["response"], with_id=True)
    assert calls[1].payloads[0]["request"]["stream"] is True


@pytest.mark.parametrize("setup", ["tl", "oi", "oi+oiopenai"])
def test_session_and_user_reach_the_chain_payload_only(setup: str) -> None:
    """Run metadata (traceloop) and using_session/using_user (OpenInference) give the
    payload's session and user; the calls made outside them have none."""
    calls, _stats = run_langchain(setup)
    sessions = [(p["session"], p["user"]) for call in calls for p in call.payloads]
    assert sessions == [(None, {}), (None, {}), ("sess-1", {"userId": "u-1"})]


@pytest.mark.parametrize("setup", ["tl+tlopenai", "oi+oiopenai"])
def test_the_bridge_sends_the_same_payloads(setup: str) -> None:
    """The same spans through the OTLP exporter and the real bridge: the same payloads,
    one per call, as the in-process exporter's."""
    calls, _stats = run_langchain(setup, bridge=True)
    for call in calls:
        (payload,) = call.payloads
        assert len(call.bridged) == 1
        assert call.bridged[0]["request"] == payload["request"]
        assert call.bridged[0]["response"] == payload["response"]
        assert envelope_of(call.bridged[0]) == envelope_of(payload)
