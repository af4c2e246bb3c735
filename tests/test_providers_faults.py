"""Gemini, Mistral and Cohere calls beyond what the provider recordings show by themselves:
the SDKs' async clients, message content switched off (by each instrumentation's own
switch, and by the exporter's ``capture_content=False``), and calls that failed. The real
SDKs replay the recordings on loopback under the instrumentations the sync tests use
(``test_providers_gemini``, ``_mistral``, ``_cohere``); expected values from the
recordings, as those modules expect them of the sync calls."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
from collections.abc import Iterator
from dataclasses import replace
from importlib import import_module
from typing import Any

import pytest

from reconify_otel.offline.replay import LlmReplay, RecordedCall
from reconify_otel.offline.sink import ReconifySink

from . import test_providers_cohere as sync_cohere
from . import test_providers_gemini as sync_gemini
from . import test_providers_mistral as sync_mistral
from .framework_runs import routed
from .llm_replay import CONTENT_SWITCHES, Pipeline, selected

# The real provider SDKs under their instrumentations (.ci/run runs the group).
pytestmark = pytest.mark.providers

GEMINI_QUESTION = "What is ai?"
GEMINI_CALL = {"model": "gemini-2.5-flash", "contents": GEMINI_QUESTION}
MISTRAL_ASKED: Any = sync_mistral.QUESTION
MISTRAL_CALL = {"model": "mistral-tiny", "messages": MISTRAL_ASKED}
COHERE_QUESTION = sync_cohere.QUESTION
COHERE_ASKED: Any = [{"role": "user", "content": COHERE_QUESTION}]
INSTRUMENTORS = {
    **{f"gemini-{tag}": path for tag, path in sync_gemini.INSTRUMENTORS.items()},
    "mistral-oi": "openinference.instrumentation.mistralai:MistralAIInstrumentor",
    "cohere-tl": "opentelemetry.instrumentation.cohere:CohereInstrumentor",
    "cohere-oi": "openinference.instrumentation.cohere:CohereInstrumentor",
}
# Each instrumentation alone (mistral-sdk: the SDK's own spans, configure_telemetry).
TAGS = [*INSTRUMENTORS, "mistral-sdk"]
Expected = list[tuple[dict[str, Any], dict[str, Any]]]  # (request, response) per payload


def stats_of(pipeline: Pipeline) -> dict[str, object]:
    return {k: v for k, v in pipeline.exporter.stats().items() if v}


def pairs(payloads: list[dict[str, Any]]) -> Expected:
    return [(p["request"], p["response"]) for p in payloads]


def gemini_client(replay: LlmReplay) -> Any:
    from google import genai

    options = genai.types.HttpOptions(base_url=replay.url)
    return genai.Client(api_key="test-google-key", http_options=options)


@functools.cache  # YAML is slow
def served(provider: str) -> tuple[RecordedCall, ...]:
    """The calls ``ask`` makes, in order (Cohere's v2 first: OpenInference wraps v2 only)."""
    if provider == "gemini":
        return (sync_gemini.recorded(),)
    if provider == "mistral":
        return tuple(map(sync_mistral.recorded, (sync_mistral.PLAIN, sync_mistral.STREAMED)))
    return tuple(map(sync_cohere.recorded, (sync_cohere.V2, sync_cohere.V2_STREAM, sync_cohere.V1)))


# --- 1. the async clients: every instrumentation records them -----------------------------


@pytest.mark.parametrize("setup", ["official", "oi", "tl", "oi+official"])
def test_an_async_gemini_call_is_one_payload(setup: str) -> None:
    (call,) = calls = served("gemini")
    replay = LlmReplay(list(calls))
    with routed(False) as (sink, _bridge_sink, pipeline), replay:
        with sync_gemini.gemini_traced(pipeline, setup):
            client = gemini_client(replay)  # kept: freed, it closes its connections
            asyncio.run(client.aio.models.generate_content(**GEMINI_CALL))
        pipeline.flush()
        ((_path, sent),) = replay.received
        spans = selected(pipeline.memory.get_finished_spans())
        stats = stats_of(pipeline)
    assert len(spans) == setup.count("+") + 1
    assert stats == {"accepted": 1} | ({"skipped_duplicate": 1} if "+" in setup else {})
    (payload,) = sink.payloads
    assert (payload["reconify"]["format"], payload["reconify"]["type"]) == ("gemini", "generate")
    assert payload["request"] == {"model": "gemini-2.5-flash", "contents": sent["contents"]}
    assert payload["response"] == sync_gemini.expected_response(call, thoughts=setup != "tl")


@pytest.mark.parametrize("setup", ["oi", "sdk", "oi+sdk"])
def test_async_mistral_calls_are_one_payload_each(setup: str) -> None:
    plain, streamed = calls = served("mistral")
    replay = LlmReplay(list(calls))
    with routed(False) as (sink, _bridge_sink, pipeline), replay:
        with sync_mistral.mistral_traced(pipeline, setup, replay) as client:

            async def both() -> None:
                await client.chat.complete_async(**MISTRAL_CALL)
                async for _event in await client.chat.stream_async(**MISTRAL_CALL):
                    pass

            asyncio.run(both())
        pipeline.flush()
        sent = [body for _path, body in replay.received]
        spans = selected(pipeline.memory.get_finished_spans())
        stats = stats_of(pipeline)
    assert [body["stream"] for body in sent] == [False, True]
    assert len(spans) == 2 * (setup.count("+") + 1)
    assert stats == {"accepted": 2} | ({"skipped_duplicate": 2} if "+" in setup else {})
    assert len(sink.payloads) == 2
    for payload, call in zip(sink.payloads, calls, strict=True):
        assert (payload["reconify"]["format"], payload["reconify"]["type"]) == ("mistral", "chat")
        # OpenInference records the stream flag. With both, its span of an async stream
        # ends first (of a sync stream, the SDK's: test_providers_mistral), so it is sent.
        stream = {"stream": True} if call is streamed and "oi" in setup else {}
        assert payload["request"] == MISTRAL_CALL | stream
        created = setup == "oi" and call is plain
        assert payload["response"] == sync_mistral.expected_response(call, created)


@pytest.mark.parametrize("setup", ["tl", "oi", "tl+oi"])
def test_async_cohere_calls_are_one_payload_each(setup: str) -> None:
    import cohere

    calls = served("cohere")
    replay = LlmReplay(list(calls))
    with routed(False) as (sink, _bridge_sink, pipeline), replay:
        with sync_cohere.cohere_traced(pipeline, setup):
            v1 = cohere.AsyncClient(api_key="test-cohere-key", base_url=replay.url)
            v2 = cohere.AsyncClientV2(api_key="test-cohere-key", base_url=replay.url)

            async def three() -> None:
                await v2.chat(model="command", messages=COHERE_ASKED)
                async for _event in v2.chat_stream(model="command", messages=COHERE_ASKED):
                    pass
                await v1.chat(message=COHERE_QUESTION, model="command")

            asyncio.run(three())
        pipeline.flush()
        paths = [path for path, _body in replay.received]
        spans = selected(pipeline.memory.get_finished_spans())
        stats = stats_of(pipeline)
    assert paths == ["/v2/chat", "/v2/chat", "/v1/chat"]
    traced = calls if "tl" in setup else calls[:2]  # OpenInference wraps v2 only, async too
    both = setup == "tl+oi"
    assert len(spans) == len(traced) + (2 if both else 0)
    assert stats == {"accepted": len(traced)} | ({"skipped_duplicate": 2} if both else {})
    assert len(sink.payloads) == len(traced)
    for payload, call in zip(sink.payloads, traced, strict=True):
        assert (payload["reconify"]["format"], payload["reconify"]["type"]) == ("cohere", "chat")
        assert payload["request"] == {"model": "command", "message": COHERE_QUESTION}
        by_openinference = "oi" in setup and call.path == "/v2/chat"
        counted = "tokens" if by_openinference else "billed_units"
        with_id = not (by_openinference and call.streamed)
        assert payload["response"] == sync_cohere.expected(call, counted, with_id)


# --- 2. content off, and 3. failed calls: the sync calls, each instrumentation alone -------


@contextlib.contextmanager
def switched(
    pipeline: Pipeline, tag: str, content: bool, genai_switch: str | None = None
) -> Iterator[None]:
    """``tag``'s instrumentation with its own content switch on or off: traceloop's
    ``TRACELOOP_TRACE_CONTENT``, util-genai's ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_
    CONTENT`` (off: ``genai_switch``, None for unset), OpenInference's ``TraceConfig``.
    The Mistral SDK's own spans have no switch (``ask`` turns them on)."""
    from openinference.instrumentation import TraceConfig

    with pytest.MonkeyPatch.context() as env, contextlib.ExitStack() as stack:
        stack.enter_context(sync_cohere.cohere_restored())
        for name in CONTENT_SWITCHES:
            env.delenv(name, raising=False)
        env.setenv("TRACELOOP_TRACE_CONTENT", str(content).lower())
        genai = "SPAN_ONLY" if content else genai_switch
        if genai is not None:
            env.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", genai)
        if tag in INSTRUMENTORS:
            module, name = INSTRUMENTORS[tag].split(":")
            instrumentor = getattr(import_module(module), name)()
            kwargs: dict[str, Any] = {"tracer_provider": pipeline.provider}
            if module.startswith("openinference.") and not content:
                kwargs["config"] = TraceConfig(hide_inputs=True, hide_outputs=True)
            if tag == "cohere-tl":
                kwargs["skip_dep_check"] = True  # see test_providers_cohere
            instrumentor.instrument(**kwargs)
            stack.callback(instrumentor.uninstrument)
        yield


def ask(tag: str, replay: LlmReplay, pipeline: Pipeline) -> None:
    """``served(provider)``'s calls with the real sync client, as the sync tests make them."""
    if tag.startswith("gemini"):
        client = gemini_client(replay)
        client.models.generate_content(**GEMINI_CALL)
    elif tag.startswith("mistral"):
        telemetry = "sdk" if tag == "mistral-sdk" else ""
        with sync_mistral.mistral_traced(pipeline, telemetry, replay) as mistral:
            mistral.chat.complete(**MISTRAL_CALL)
            for _event in mistral.chat.stream(**MISTRAL_CALL):
                pass
    else:
        import cohere

        v2 = cohere.ClientV2(api_key="test-cohere-key", base_url=replay.url)
        v2.chat(model="command", messages=COHERE_ASKED)
        for _event in v2.chat_stream(model="command", messages=COHERE_ASKED):
            pass
        v1 = cohere.Client(api_key="test-cohere-key", base_url=replay.url)
        v1.chat(message=COHERE_QUESTION, model="command")


def with_content(tag: str) -> Expected:
    """Each payload ``ask`` gives with content on, as the sync tests expect it."""
    provider, setup = tag.split("-")
    calls = served(provider)
    if provider == "gemini":
        asked = [{"role": "user", "parts": [{"text": GEMINI_QUESTION}]}]
        request: dict[str, Any] = {"model": "gemini-2.5-flash", "contents": asked}
        return [(request, sync_gemini.expected_response(calls[0], thoughts=setup != "tl"))]
    found: Expected = []
    for call in calls[:2] if tag == "cohere-oi" else calls:  # OpenInference: v2 only
        if provider == "mistral":
            stream = {"stream": True} if call.streamed and setup == "oi" else {}
            created = setup == "oi" and not call.streamed
            found.append((MISTRAL_CALL | stream, sync_mistral.expected_response(call, created)))
        else:
            counted = "tokens" if setup == "oi" else "billed_units"
            response = sync_cohere.expected(call, counted, not (setup == "oi" and call.streamed))
            found.append(({"model": "command", "message": COHERE_QUESTION}, response))
    return found


def without_content(tag: str, by_exporter: bool) -> Expected:
    """``with_content`` with the text gone: the exporter keeps the messages' shape with
    null text; an instrumentation's switch leaves the messages off the span, and with
    them what only they held (OpenInference's ids are in ``output.value`` alone;
    traceloop's Cohere finish reason is recorded with the content)."""
    provider, setup = tag.split("-")
    hidden_by = "" if by_exporter else setup
    found: Expected = []
    for request, response in with_content(tag):
        if provider == "gemini":
            content = response["candidates"][0]["content"]
            content["parts"] = [{"text": None} for _ in content["parts"]] if by_exporter else []
            asked = [{"role": "user", "parts": [{"text": None}]}]
            request["contents"] = asked if by_exporter else None
            if hidden_by == "oi":
                response["responseId"] = None
        elif provider == "mistral":
            response["choices"][0]["message"]["content"] = None
            request["messages"] = [{"role": "user", "content": None}] if by_exporter else None
            if hidden_by == "oi":
                response["id"] = response["created"] = None
        else:
            request["message"] = response["text"] = None
            if hidden_by == "oi":
                response["response_id"] = None
            if hidden_by == "tl":
                response["finish_reason"] = None
        found.append((request, response))
    return found


def leaked(tag: str, payloads: list[dict[str, Any]]) -> list[str]:
    """Which of the question and the answers (their first 40 characters, as recorded)
    the payloads' JSON holds (not ASCII-escaped: a recorded answer has a curly quote)."""
    provider = tag.split("-")[0]
    questions = {"gemini": GEMINI_QUESTION, "mistral": MISTRAL_ASKED[0]["content"]}
    found = [questions.get(provider, COHERE_QUESTION)]
    for _request, response in with_content(tag):
        if provider == "gemini":
            parts = response["candidates"][0]["content"]["parts"]
            found += [part["text"][:40] for part in parts if part.get("text")]
        elif provider == "mistral":
            found.append(response["choices"][0]["message"]["content"][:40])
        else:
            found.append(response["text"][:40])
    sent = json.dumps(payloads, ensure_ascii=False)
    return [text for text in found if text in sent]


def run(tag: str, content: bool, genai_switch: str | None = None) -> tuple[Any, ...]:
    """``ask`` under ``tag`` with its content switch as given: what each exporter sent
    (the second one with ``capture_content=False``) and the first one's counters."""
    replay = LlmReplay(list(served(tag.split("-")[0])))
    with (
        ReconifySink() as sink,
        ReconifySink() as off_sink,
        replay,
        Pipeline(sink, content_off_sink=off_sink) as pipeline,
    ):
        with switched(pipeline, tag, content, genai_switch):
            ask(tag, replay, pipeline)
        pipeline.flush()
        stats = stats_of(pipeline)
    return sink.payloads, off_sink.payloads, stats


@pytest.mark.parametrize(
    ("tag", "genai_switch"),
    [
        ("gemini-official", "NO_CONTENT"),
        ("gemini-official", None),
        ("gemini-oi", None),
        ("gemini-tl", None),
        ("mistral-oi", None),
        # mistral-sdk: the SDK's own spans have no content switch (capture_content below).
        ("cohere-tl", None),
        ("cohere-oi", None),
    ],
)
def test_an_instrumentations_content_switch_off_sends_no_text(
    tag: str, genai_switch: str | None
) -> None:
    payloads, off_payloads, stats = run(tag, content=False, genai_switch=genai_switch)
    expected = without_content(tag, by_exporter=False)
    assert stats == {"accepted": len(expected)}
    assert pairs(off_payloads) == expected  # capture_content=False beside: the same
    assert leaked(tag, payloads + off_payloads) == []
    assert pairs(payloads) == expected


@pytest.mark.parametrize("tag", TAGS)
def test_capture_content_false_sends_no_text_of_spans_that_hold_it(tag: str) -> None:
    payloads, off_payloads, stats = run(tag, content=True)
    assert stats == {"accepted": len(with_content(tag))}
    assert pairs(payloads) == with_content(tag)  # the text is on the spans
    assert len(leaked(tag, payloads)) == 1 + len(payloads)  # the question, each answer
    assert pairs(off_payloads) == without_content(tag, by_exporter=True)
    assert leaked(tag, off_payloads) == []


# Mistral's own error body (``"object": "error"``): only for it does the SDK mark its span
# ERROR; after the replay's generic error body its span says nothing failed, and holds
# no answer (counted as such).
MISTRAL_ERROR = json.dumps(
    {"object": "error", "message": "Unavailable", "type": "internal_error", "code": "3505"}
).encode()


@pytest.mark.parametrize(
    ("tag", "mistral_body", "counted"),
    [
        *[(tag, False, "skipped_error_call") for tag in TAGS if not tag.startswith("mistral")],
        ("mistral-oi", False, "skipped_error_call"),
        ("mistral-sdk", True, "skipped_error_call"),
        ("mistral-sdk", False, "skipped_no_answer"),
    ],
)
def test_a_failed_call_is_counted_not_sent_and_the_next_call_is(
    tag: str, mistral_body: bool, counted: str
) -> None:
    provider = tag.split("-")[0]
    # Cohere's client retries a 5xx (the retry would be answered): a 400 fails it at once.
    status = 400 if provider == "cohere" else 500
    calls = served(provider)
    failing = [replace(calls[0], status=status, body=MISTRAL_ERROR)] if mistral_body else []
    replay = LlmReplay([*failing, *calls])
    with routed(False) as (sink, _bridge_sink, pipeline), replay:
        with switched(pipeline, tag, content=True):
            if not mistral_body:
                replay.fail_next(status)
            with pytest.raises(Exception, match=str(status)):
                ask(tag, replay, pipeline)  # its first call fails
            ask(tag, replay, pipeline)
        pipeline.flush()
        stats = stats_of(pipeline)
        received = len(replay.received)
    assert received == 1 + len(calls)  # no retry
    expected = with_content(tag)
    assert stats == {"accepted": len(expected), counted: 1}
    assert pairs(sink.payloads) == expected  # nothing of the failed call
