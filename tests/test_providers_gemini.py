"""Google Gemini calls in Reconify's ``gemini`` format (type ``generate``): the request as
Gemini's REST API takes it, the ``GenerateContentResponse`` as it answers. The real
``google-genai`` SDK replays recorded Gemini traffic on loopback under the official
instrumentation (content on the span: ``SPAN_ONLY``), OpenInference's and traceloop's,
and two at once, in process and through the bridge. Expected values from the recording."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconify_otel.offline.replay import LlmReplay, RecordedCall, recorded_calls

from .framework_runs import routed
from .llm_replay import Pipeline

# The real provider SDKs under their instrumentations (.ci/run runs the group).
pytestmark = pytest.mark.providers

FIXTURES = Path(__file__).parent / "fixtures" / "providers" / "google-genai"
INSTRUMENTORS = {
    "official": "opentelemetry.instrumentation.google_genai:GoogleGenAiSdkInstrumentor",
    "oi": "openinference.instrumentation.google_genai:GoogleGenAIInstrumentor",
    "tl": "opentelemetry.instrumentation.google_generativeai:GoogleGenerativeAiInstrumentor",
}


def recorded() -> RecordedCall:
    (call,) = recorded_calls(FIXTURES / "test_client_spans.yaml")
    return call


def expected_response(call: RecordedCall, thoughts: bool) -> dict[str, Any]:
    """The recorded answer as the payload holds it: the text parts, the finish reason,
    the counts (the thoughts' where the span records them), the model and id."""
    answer = call.answer()
    assert answer is not None
    candidate = answer["candidates"][0]
    usage = answer["usageMetadata"]
    counts = {k: usage[k] for k in ("promptTokenCount", "candidatesTokenCount", "totalTokenCount")}
    if thoughts:
        counts["thoughtsTokenCount"] = usage["thoughtsTokenCount"]
    return {
        "candidates": [
            {
                "content": {"role": "model", "parts": candidate["content"]["parts"]},
                "finishReason": candidate["finishReason"],
                "index": 0,
            }
        ],
        "usageMetadata": counts,
        "modelVersion": answer["modelVersion"],
        "responseId": answer["responseId"],
    }


@contextlib.contextmanager
def gemini_traced(pipeline: Pipeline, setup: str) -> Iterator[None]:
    """``setup``: instrumentors joined by "+"; content on each one's own way."""
    from importlib import import_module

    with pytest.MonkeyPatch.context() as env, contextlib.ExitStack() as stack:
        env.setenv("TRACELOOP_TRACE_CONTENT", "true")
        env.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "SPAN_ONLY")
        for tag in setup.split("+"):
            module, name = INSTRUMENTORS[tag].split(":")
            instrumentor = getattr(import_module(module), name)()
            instrumentor.instrument(tracer_provider=pipeline.provider)
            stack.callback(instrumentor.uninstrument)
        yield


@pytest.mark.parametrize("setup", ["official", "oi", "tl", "oi+official"])
def test_one_gemini_payload_per_call(setup: str) -> None:
    from google import genai

    call = recorded()
    with routed(True) as (sink, bridge_sink, pipeline), LlmReplay([call]) as replay:
        with gemini_traced(pipeline, setup):
            options = genai.types.HttpOptions(base_url=replay.url)
            client = genai.Client(api_key="test-google-key", http_options=options)
            client.models.generate_content(model="gemini-2.5-flash", contents="What is ai?")
        pipeline.flush()
        bridge_sink.wait_for(1, timeout=5)
        ((_path, sent),) = replay.received
        stats = {k: v for k, v in pipeline.exporter.stats().items() if v}
    assert stats == {"accepted": 1} | ({"skipped_duplicate": 1} if "+" in setup else {})
    (payload,) = sink.payloads
    assert (payload["reconify"]["format"], payload["reconify"]["type"]) == ("gemini", "generate")
    assert payload["request"] == {"model": "gemini-2.5-flash", "contents": sent["contents"]}
    # traceloop records no thoughts' count (its output count is the answer's alone).
    assert payload["response"] == expected_response(call, thoughts=setup != "tl")
    assert [(p["request"], p["response"]) for p in bridge_sink.payloads] == [
        (payload["request"], payload["response"])
    ]


def test_messages_recorded_only_as_a_log_event_are_joined_to_their_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The official instrumentation in util-genai's ``EVENT_ONLY`` mode: the messages are in
    one ``gen_ai.client.inference.operation.details`` log event, not on the span;
    ``ReconifyLogRecordProcessor`` joins it to the call, which is sent whole."""
    from google import genai
    from opentelemetry.instrumentation.google_genai import GoogleGenAiSdkInstrumentor
    from opentelemetry.sdk._logs import LoggerProvider

    from reconify_otel import ReconifyLogRecordProcessor

    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "EVENT_ONLY")
    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
    call = recorded()
    with routed(False) as (sink, _bridge_sink, pipeline), LlmReplay([call]) as replay:
        logs = LoggerProvider()
        logs.add_log_record_processor(ReconifyLogRecordProcessor(pipeline.exporter))
        instrumentor = GoogleGenAiSdkInstrumentor()
        instrumentor.instrument(tracer_provider=pipeline.provider, logger_provider=logs)
        try:
            options = genai.types.HttpOptions(base_url=replay.url)
            client = genai.Client(api_key="test-google-key", http_options=options)
            client.models.generate_content(model="gemini-2.5-flash", contents="What is ai?")
        finally:
            instrumentor.uninstrument()
        pipeline.flush()
        ((_path, sent),) = replay.received
        (span,) = pipeline.memory.get_finished_spans()
        stats = {k: v for k, v in pipeline.exporter.stats().items() if v}
    assert "gen_ai.input.messages" not in (span.attributes or {})  # on the event only
    assert stats == {"accepted": 1}
    (payload,) = sink.payloads
    assert payload["request"] == {"model": "gemini-2.5-flash", "contents": sent["contents"]}
    assert payload["response"] == expected_response(call, thoughts=True)
