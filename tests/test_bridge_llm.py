"""The bridge route with LLM calls, as a Collector really behaves: it resends a whole batch
after a 503, and it forwards whatever attribute types OTLP allows (a kvlist where a string
belongs). Real uvicorn, real OTLP protobuf, the loopback sink; exact outcomes."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue, KeyValueList

from reconify_otel.bridge import BridgeApp
from reconify_otel.bridge.otlp_spans import selected_spans
from reconify_otel.offline.sink import Answer, ReconifySink

from .bridge_helpers import bridges, post, protobuf
from .helpers import CURRENT, make_span

CHAT: dict[str, Any] = {
    "gen_ai.system": "openai",
    "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.response.model": "gpt-4o-mini",
    "gen_ai.response.id": "chatcmpl-adversarial-1",
    "gen_ai.prompt.0.role": "user",
    "gen_ai.prompt.0.content": "What is 2 + 2?",
    "gen_ai.completion.0.role": "assistant",
    "gen_ai.completion.0.content": "4",
    "gen_ai.completion.0.finish_reason": "stop",
    "gen_ai.usage.prompt_tokens": 9,
    "gen_ai.usage.completion_tokens": 1,
}


def test_a_call_resent_by_the_collector_after_a_503_is_delivered_once(
    sink: ReconifySink, bridge: tuple[str, BridgeApp]
) -> None:
    """The first attempt failed, so nothing was delivered: the Collector's resend of the
    same batch must send the call, not take it for a duplicate of the failed attempt."""
    url, app = bridge
    body = protobuf([make_span("openai.chat", CHAT)])
    sink.script(Answer.status(503, headers={"Retry-After": "3"}))  # beyond the 1 s timeout
    assert post(url, body).status_code == 503
    assert sink.payloads == []
    response = post(url, body)
    assert response.status_code == 200 and response.content == b""
    assert [p["response"]["id"] for p in sink.payloads] == ["chatcmpl-adversarial-1"]
    counted = {
        k: app.stats().get(k, 0) for k in ("accepted", "skipped_duplicate", "rejected_spans")
    }
    assert counted == {"accepted": 1, "skipped_duplicate": 0, "rejected_spans": 0}
    # And a third resend (a Collector that lost our 200) sends nothing more.
    assert post(url, body).status_code == 200
    assert len(sink.payloads) == 1


def test_a_failed_llm_call_is_not_a_rejection_the_collector_hears_about(
    sink: ReconifySink, bridge: tuple[str, BridgeApp]
) -> None:
    """A call that raised is not sent by design, as a failed run is: no partial success."""
    url, app = bridge
    spans = [make_span("openai.chat", CHAT, error=True)]
    response = post(url, protobuf(spans))
    assert response.status_code == 200 and response.content == b""
    assert sink.payloads == []
    assert (app.stats()["skipped_error_call"], app.stats().get("rejected_spans", 0)) == (1, 0)


def test_a_duplicate_span_of_one_call_is_not_a_rejection(
    sink: ReconifySink, bridge: tuple[str, BridgeApp]
) -> None:
    """Two instrumentations recorded the call: one payload, and nothing to report back."""
    url, app = bridge
    spans = [make_span("openai.chat", CHAT), make_span("openai.chat", CHAT)]
    response = post(url, protobuf(spans))
    assert response.status_code == 200 and response.content == b""
    assert len(sink.payloads) == 1
    assert (app.stats()["skipped_duplicate"], app.stats().get("rejected_spans", 0)) == (1, 0)


def _with_kvlist(body: bytes, key: str) -> bytes:
    """The batch with ``key`` set to a kvlist on every span: valid OTLP, odd for a string."""
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    odd = AnyValue(kvlist_value=KeyValueList(values=[KeyValue(key="a", value=AnyValue())]))
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                if span.name.startswith("chat"):
                    span.attributes.append(KeyValue(key=key, value=odd))
    return request.SerializeToString()


@pytest.mark.parametrize(
    "key", ["gen_ai.provider.name", "gen_ai.system", "gen_ai.operation.name", "llm.provider"]
)
def test_a_kvlist_provider_does_not_cost_the_rest_of_the_batch(
    key: str, sink: ReconifySink, bridge: tuple[str, BridgeApp]
) -> None:
    """Spans are selected by their operation and provider; one whose operation or provider
    is a kvlist (which cannot even be looked up) is no OpenAI or Anthropic call, and the
    batch's other call is still sent: a 200, not a 500 that loses the batch."""
    official = {"gen_ai.operation.name": "chat", "gen_ai.response.id": "chatcmpl-official"}
    framework = {"openinference.span.kind": "LLM", "output.value": "an answer"}
    spans = [
        make_span("chat gpt-4o-mini", official),
        make_span("chat_step", framework),  # an OpenInference framework span named so
        make_span("openai.chat", CHAT),
    ]
    response = post(bridge[0], _with_kvlist(protobuf(spans), key))
    assert response.status_code == 200 and response.content == b""
    assert [p["response"]["id"] for p in sink.payloads] == ["chatcmpl-adversarial-1"]


ASSISTANT_RUN = ("openai.assistant.run", CURRENT)


@pytest.mark.parametrize(
    ("interactions", "sent"),
    [
        ("assistant", ["assistant"]),
        ("chat", ["chat"]),
        ("anthropic,completion", []),
    ],
)
def test_the_interactions_option_filters_on_the_bridge_route(
    interactions: str, sent: list[str], monkeypatch: pytest.MonkeyPatch, sink: ReconifySink
) -> None:
    """What is not asked for is not selected: not sent and no rejection reported."""
    monkeypatch.setenv("RECONIFY_INTERACTIONS", interactions)
    spans = [make_span(*ASSISTANT_RUN), make_span("openai.chat", CHAT)]
    with bridges(sink) as start:
        url, app = start()
        response = post(url, protobuf(spans))
    assert response.status_code == 200 and response.content == b""
    assert [p["reconify"]["type"] for p in sink.payloads] == sent
    assert app.stats()["selected_spans"] == len(sent)


def test_a_long_scope_name_is_kept_once_and_capped() -> None:
    """The dedup window keeps each call's scope: a client's megabyte-long scope name must
    cost one short shared string, not a copy per span."""
    spans = [
        make_span("openai.chat", {**CHAT, "gen_ai.response.id": f"chatcmpl-{n}"}) for n in range(3)
    ]
    request = ExportTraceServiceRequest()
    request.ParseFromString(protobuf(spans))
    request.resource_spans[0].scope_spans[0].scope.name = "x" * 1_000_000
    records = list(selected_spans(request))
    assert len(records) == 3
    assert records[0].scope == "x" * 128
    assert all(record.scope is records[0].scope for record in records)
