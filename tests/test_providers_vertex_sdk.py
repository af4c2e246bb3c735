"""Gemini through the ``vertexai`` SDK (google-cloud-aiplatform's ``GenerativeModel``):
the spans traceloop's ``opentelemetry-instrumentation-vertexai`` 0.62.4 and OpenInference's
``openinference-instrumentation-vertexai`` 0.1.29 wrote, alone and together, for
``generate_content``, a streamed ``generate_content`` and a chat's ``send_message``
replayed on loopback (tests/fixtures/providers/README.md says how). The SDK is not among
the test dependencies (it is large, and ``vertexai.generative_models`` is deprecated), so
its spans are read from the capture. Exactly one payload in Reconify's ``gemini`` format
(type ``generate``) per call; expected values from the recording alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconify_otel.core.dedup import RecentCalls
from reconify_otel.core.interaction import Interaction
from reconify_otel.core.mapping import Selection, map_span
from reconify_otel.core.record import SpanRecord
from reconify_otel.offline.replay import recorded_calls

PROVIDERS = Path(__file__).parent / "fixtures" / "providers"
CAPTURES = {
    "traceloop": "traceloop-vertexai-0.62.4-spans.json",
    "openinference": "openinference-vertexai-0.1.29-spans.json",
    "both": "traceloop-and-openinference-vertexai-spans.json",
}
CALLS = ["generate_content", "generate_content_stream", "send_message"]
MODEL = "gemini-2.5-flash"


def captured(setup: str) -> dict[str, Any]:
    value = json.loads((PROVIDERS / "vertexai" / CAPTURES[setup]).read_text())
    assert isinstance(value, dict)
    return value


def recorded_answer() -> dict[str, Any]:
    (call,) = recorded_calls(PROVIDERS / "google-genai" / "test_client_spans.yaml")
    answer = call.answer()
    assert answer is not None
    return answer


def record_of(span: dict[str, Any], selection: Selection) -> SpanRecord:
    return SpanRecord(
        span["name"],
        span["attributes"],
        span["start_ns"],
        span["end_ns"],
        is_error=span["status"]["code"] == "ERROR",
        trace_id=int(span["trace_id"], 16),
        span_id=int(span["span_id"], 16),
        parent_span_id=int(span["parent_id"], 16) if span["parent_id"] else 0,
        scope=span["scope"],
        classification=selection.classify(span["name"], span["attributes"], span["scope"]),
    )


def sent(setup: str) -> list[list[tuple[str, dict[str, Any]]]]:
    """Per call, what the pipeline sends, in the order the spans ended: (span id, payload)
    of each span selected, mapped and not a duplicate of one sent before. Call by call:
    the three calls were answered the same recorded answer (one response id), which the
    deduplication rightly takes for one call."""
    selection = Selection()
    capture = captured(setup)
    found = []
    for call in capture["calls"]:
        recent, payloads = RecentCalls(), []
        for span in capture["spans"]:
            if span["span_id"] not in call["span_ids"]:
                continue
            record = record_of(span, selection)
            assert record.classification is not None, span["name"]
            mapped = map_span(record)
            assert isinstance(mapped, Interaction), mapped
            if recent.first_time(mapped.call_key):
                payloads.append((span["span_id"], mapped.to_json()))
        found.append(payloads)
    return found


def expected_response(recorded: dict[str, Any], setup: str) -> dict[str, Any]:
    """The recorded answer as the payload holds it: what each instrumentation records.
    traceloop records no finish reason or response id; neither counts the thoughts
    (their tokens are in the total alone)."""
    candidate = recorded["candidates"][0]
    usage = recorded["usageMetadata"]
    counts = ("promptTokenCount", "candidatesTokenCount", "totalTokenCount")
    traceloop = setup == "traceloop"
    return {
        "candidates": [
            {
                "content": {"role": "model", "parts": candidate["content"]["parts"]},
                "finishReason": None if traceloop else candidate["finishReason"],
                "index": 0,
            }
        ],
        "usageMetadata": {key: usage[key] for key in counts},
        "modelVersion": recorded["modelVersion"],
        "responseId": None if traceloop else recorded["responseId"],
    }


@pytest.mark.parametrize("setup", list(CAPTURES))
def test_one_gemini_payload_per_vertexai_call(setup: str) -> None:
    capture, recorded = captured(setup), recorded_answer()
    assert [call["call"] for call in capture["calls"]] == CALLS
    per_call = sent(setup)
    assert [len(payloads) for payloads in per_call] == [1, 1, 1]
    for call, [(span_id, payload)] in zip(capture["calls"], per_call, strict=True):
        assert span_id in call["span_ids"]
        assert (payload["reconify"]["format"], payload["reconify"]["type"]) == (
            "gemini",
            "generate",
        )
        # Both instrumentations record no request setting: the model and the contents
        # the SDK sent are the request.
        assert payload["request"] == {"model": MODEL} | call["request"]
        assert payload["request"]["contents"] == [
            {"role": "user", "parts": [{"text": "What is ai?"}]}
        ]
        # Together, OpenInference's span (it ends first) is the one sent.
        assert payload["response"] == expected_response(
            recorded, "traceloop" if setup == "traceloop" else "openinference"
        )


def test_the_spans_each_instrumentation_writes() -> None:
    """What the capture holds: traceloop's names per SDK method (``send_message`` for a
    chat), OpenInference's per prediction-service method; two traces per call together
    (traceloop's span is not made current), so the duplicate is found by its texts."""
    names = {setup: [s["name"] for s in captured(setup)["spans"]] for setup in CAPTURES}
    assert names["traceloop"] == [
        "vertexai.generate_content",
        "vertexai.generate_content",
        "vertexai.send_message",
    ]
    assert names["openinference"] == [
        "generate_content",
        "stream_generate_content",
        "generate_content",
    ]
    both = captured("both")
    for call in both["calls"]:
        spans = [s for s in both["spans"] if s["span_id"] in call["span_ids"]]
        assert len({s["trace_id"] for s in spans}) == 2
