"""Providers Reconify has no module of its own for are sent in its ``universal`` format,
Mistral in ``mistral``, both in the OpenAI chat shape: by ``log_chat`` (the default format,
as Reconify's ``logChat``) and from spans (LiteLLM calling DeepSeek through OpenInference's
instrumentation, on loopback, in process and through the bridge). Bedrock has a format
not mapped yet: skipped and counted, never sent as ``universal``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from reconify_otel.core.conventions import Convention, Kind, classify
from reconify_otel.core.conventions.classification import Classification
from reconify_otel.handler.openai_handler import ReconifyHandler
from reconify_otel.offline.replay import LlmReplay, recorded_calls
from reconify_otel.offline.sink import ReconifySink

from .framework_runs import MESSAGES, PLAIN, routed
from .handler_llm_helpers import handler_for
from .llm_recordings import exchanges
from .llm_replay import instrumented

ANSWER = exchanges(PLAIN)[0]["answer"]  # a recorded OpenAI-compatible chat answer
GENAI, FRAMEWORK = Convention.GENAI, Convention.OPENINFERENCE_MESSAGES


@pytest.fixture
def handler(sink: ReconifySink) -> Iterator[ReconifyHandler]:
    made = handler_for(None, sink.url)
    yield made
    made.close(timeout=2)


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ({"gen_ai.provider.name": "groq"}, Classification(Kind.UNIVERSAL, GENAI)),
        ({"gen_ai.system": "deepseek"}, Classification(Kind.UNIVERSAL, GENAI)),
        ({"gen_ai.provider.name": "x_ai"}, Classification(Kind.UNIVERSAL, GENAI)),
        ({"gen_ai.provider.name": "mistral_ai"}, Classification(Kind.MISTRAL, GENAI)),
        ({"gen_ai.system": "mistral"}, Classification(Kind.MISTRAL, GENAI)),  # LiteLLM's
        ({"gen_ai.provider.name": "cohere"}, Classification(Kind.COHERE, GENAI)),
        *(
            ({"gen_ai.provider.name": name}, Classification(Kind.BEDROCK, GENAI))
            for name in ("aws.bedrock", "bedrock", "AWS.Bedrock")
        ),
        ({"gen_ai.system": "MistralAI"}, Classification(Kind.MISTRAL, GENAI)),
        ({"llm.provider": "OpenAI"}, Classification(Kind.CHAT, FRAMEWORK)),
        ({"llm.provider": "groq"}, Classification(Kind.UNIVERSAL, FRAMEWORK)),
        ({"llm.provider": "mistralai"}, Classification(Kind.MISTRAL, FRAMEWORK)),
        ({"gen_ai.provider.name": "gcp.gen_ai"}, Classification(Kind.GEMINI, GENAI)),
        ({"llm.provider": "google"}, Classification(Kind.GEMINI, FRAMEWORK)),
        ({"llm.provider": "aws"}, Classification(Kind.BEDROCK, FRAMEWORK)),
        ({"llm.system": "anthropic"}, Classification(Kind.ANTHROPIC, FRAMEWORK)),
    ],
)
def test_the_provider_picks_the_format(
    attributes: dict[str, Any], expected: Classification
) -> None:
    marker = (
        {"gen_ai.operation.name": "chat"}
        if expected.convention is GENAI
        else {"openinference.span.kind": "LLM"}
    )
    assert classify("a framework's span", {**marker, **attributes}) == expected


def test_log_chat_is_the_universal_log_chat_by_default(
    sink: ReconifySink, handler: ReconifyHandler
) -> None:
    """Reconify's ``logChat``: the request and the answer as given, format ``universal``."""
    request = {"model": "sonar", "messages": MESSAGES, "search_mode": "web"}
    answer = {**ANSWER, "citations": ["https://example.com/otel"]}
    assert handler.log_chat(request, answer, 1_000, 2_000)
    assert handler.flush(5)
    (payload,) = sink.payloads
    assert (payload["reconify"]["format"], payload["reconify"]["type"]) == ("universal", "chat")
    assert payload["request"] == request
    assert payload["response"] == answer  # Perplexity's citations kept: sent as given
    assert payload["timestamps"] == {"request": 1_000, "response": 2_000}


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        (json.dumps(ANSWER), ANSWER),  # JSON text: parsed
        ("Paris.", "Paris."),  # not JSON: the text itself
    ],
)
def test_a_universal_answer_given_as_text(
    given: str, sent: Any, sink: ReconifySink, handler: ReconifyHandler
) -> None:
    assert handler.log_chat({"model": "local", "messages": MESSAGES}, given)
    assert handler.flush(5)
    assert [p["response"] for p in sink.payloads] == [sent]


def test_content_off_hides_a_text_answer(sink: ReconifySink) -> None:
    made = handler_for(None, sink.url, capture_content=False)
    assert made.log_chat({"model": "local", "messages": MESSAGES}, "Paris, of course.")
    assert made.close(5)
    (payload,) = sink.payloads
    assert payload["response"] is None
    assert payload["request"] == {
        "model": "local",
        "messages": [{"role": "system", "content": None}, {"role": "user", "content": None}],
    }


def test_log_chat_mistral_sends_the_call_as_given(
    sink: ReconifySink, handler: ReconifyHandler
) -> None:
    request = {"model": "mistral-small-latest", "messages": MESSAGES}
    answer = {**ANSWER, "model": "mistral-small-latest"}
    assert handler.log_chat(request, answer, format="mistral")
    assert handler.flush(5)
    (payload,) = sink.payloads
    assert payload["reconify"]["format"] == "mistral"
    assert (payload["request"], payload["response"]) == (request, answer)


@pytest.mark.frameworks  # LiteLLM: the frameworks group (CONTRIBUTING.md)
def test_litellm_calling_deepseek_is_one_universal_payload(monkeypatch: pytest.MonkeyPatch) -> None:
    """LiteLLM's OpenInference spans of a DeepSeek call (an OpenAI-compatible API, answered
    on loopback with a recorded chat answer): ``universal``, the model without LiteLLM's
    ``deepseek/`` prefix, in process and through the bridge alike."""
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm
    from openinference.instrumentation.litellm import LiteLLMInstrumentor

    call = {"model": "deepseek/deepseek-chat", "api_key": "sk-test-deepseek", "messages": MESSAGES}
    with routed(True) as (sink, bridge_sink, pipeline), LlmReplay(recorded_calls(PLAIN)) as replay:
        instrumentor = LiteLLMInstrumentor()
        instrumentor.instrument(tracer_provider=pipeline.provider)
        try:
            litellm.completion(api_base=replay.base_url, **call)
        finally:
            instrumentor.uninstrument()
        pipeline.flush()
        bridge_sink.wait_for(1, timeout=5)
        ((_path, sent),) = replay.received
        stats = {k: v for k, v in pipeline.exporter.stats().items() if v}
    assert stats == {"accepted": 1}
    (payload,) = sink.payloads
    assert (payload["reconify"]["format"], payload["reconify"]["type"]) == ("universal", "chat")
    assert sent["model"] == "deepseek-chat"
    assert payload["request"] == {"model": sent["model"], "messages": sent["messages"]}
    assert payload["response"]["choices"][0]["message"] == {
        "role": "assistant",
        "content": ANSWER["choices"][0]["message"]["content"],
    }
    assert payload["response"]["usage"] == {
        k: ANSWER["usage"][k] for k in ("prompt_tokens", "completion_tokens", "total_tokens")
    }
    assert [(p["request"], p["response"]) for p in bridge_sink.payloads] == [
        (payload["request"], payload["response"])
    ]


@pytest.mark.parametrize("fmt", ["universal", "openai", "gemini"])
def test_a_key_passed_along_with_the_request_never_reaches_reconify(
    fmt: str, sink: ReconifySink, handler: ReconifyHandler
) -> None:
    """The request is sent as given, but never a credential or an SDK option in it (top
    level, and a Gemini ``config``'s ``http_options``), however its name is spelt."""
    request = {
        "model": "sonar",
        "messages": MESSAGES,
        "api_key": "pplx-secret-1",
        "apiKey": "pplx-secret-2",
        "extra_headers": {"Authorization": "Bearer pplx-secret-3"},
        "headers": {"x-api-key": "pplx-secret-4"},
        "api-key": "pplx-secret-5",
        "x_api_key": "pplx-secret-6",
        "client_secret": "pplx-secret-7",
        "key": "pplx-secret-8",
        "config": {"temperature": 0.2, "http_options": {"headers": {"k": "pplx-secret-9"}}},
    }
    assert handler.log_chat(request, ANSWER, format=fmt)
    assert handler.flush(5)
    (payload,) = sink.payloads
    assert "pplx-secret" not in json.dumps(payload)
    expected = {"model": "sonar", "messages": MESSAGES, "config": {"temperature": 0.2}}
    assert payload["request"] == expected


@pytest.mark.parametrize("tag", ["traceloop-openai-0.62.4"])
def test_the_openai_sdk_pointed_at_groq_is_one_universal_payload(tag: str) -> None:
    """Groq's OpenAI-compatible API, by its host: the real SDK with ``base_url`` Groq's,
    through a proxy on loopback that answers as recorded (nothing leaves the machine).
    traceloop records the base URL; openai-v2 2.4b0 and OpenInference record no host."""
    import dataclasses

    import openai

    (recorded,) = recorded_calls(PLAIN)[:1]
    groq = dataclasses.replace(recorded, path="/openai/v1/chat/completions")
    with routed(True) as (sink, bridge_sink, pipeline), LlmReplay([groq]) as proxy:
        with instrumented(pipeline.provider, tag):
            client = openai.OpenAI(
                base_url="http://api.groq.com/openai/v1",
                api_key="gsk-test-not-a-key",
                max_retries=0,
                http_client=openai.DefaultHttpxClient(proxy=proxy.url),
            )
            client.chat.completions.create(**groq.request)
            client.close()
        pipeline.flush()
        bridge_sink.wait_for(1, timeout=5)
        stats = {k: v for k, v in pipeline.exporter.stats().items() if v}
    assert stats == {"accepted": 1}
    (payload,) = sink.payloads
    assert (payload["reconify"]["format"], payload["reconify"]["type"]) == ("universal", "chat")
    assert payload["request"]["messages"] == groq.request["messages"]
    answer = groq.answer()
    assert answer is not None
    choice = payload["response"]["choices"][0]
    assert choice["message"]["content"] == answer["choices"][0]["message"]["content"]
    assert payload["response"]["id"] == answer["id"]
    assert [(p["request"], p["response"]) for p in bridge_sink.payloads] == [
        (payload["request"], payload["response"])
    ]


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ({"server.address": "api.groq.com"}, Kind.UNIVERSAL),
        ({"server.address": "api.deepseek.com", "server.port": 443}, Kind.UNIVERSAL),
        ({"gen_ai.openai.api_base": "https://api.x.ai/v1/"}, Kind.UNIVERSAL),
        ({"gen_ai.openai.api_base": "https://api.mistral.ai/v1"}, Kind.MISTRAL),
        ({"server.address": "localhost", "server.port": 11434}, Kind.UNIVERSAL),  # Ollama
        ({"gen_ai.openai.api_base": "http://127.0.0.1:8000/v1"}, Kind.UNIVERSAL),  # vLLM
        ({"gen_ai.provider.name": "openrouter"}, Kind.UNIVERSAL),  # traceloop's, from the URL
        # OpenAI's own, a gateway in front of it, a test's server on loopback: OpenAI's.
        ({"server.address": "api.openai.com"}, Kind.CHAT),
        ({"server.address": "llm-gateway.example.com"}, Kind.CHAT),
        ({"server.address": "127.0.0.1", "server.port": 53117}, Kind.CHAT),
        ({"gen_ai.openai.api_base": "http://[::1"}, Kind.CHAT),  # no URL at all
        ({"server.address": "evilgroq.com"}, Kind.CHAT),  # a suffix, not a host's end
    ],
)
def test_the_host_of_an_openai_sdk_call_picks_the_format(
    attributes: dict[str, Any], expected: Kind
) -> None:
    base = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai"}
    assert classify("chat llama-3.1-8b", {**base, **attributes}).kind is expected  # type: ignore[union-attr]
    assert classify("openai.chat", {**base, **attributes}).kind is expected  # type: ignore[union-attr]
