"""The bridge served for real by uvicorn on 127.0.0.1, a loopback sink as Reconify.

The central check: the same spans sent in-process (``ReconifySpanExporter``) and
through OTLP/HTTP to the bridge reach Reconify as identical payloads.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from openai import OpenAI
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.instrumentation.openai import OpenAIInstrumentor
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList
from opentelemetry.proto.trace.v1 import trace_pb2
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from reconify_otel.bridge import BridgeApp, check_bind, create_app, resolve_config, serve
from reconify_otel.bridge.otlp_spans import from_otlp, selected_spans
from reconify_otel.core.mapping import Selection
from reconify_otel.exporter.sdk_record import from_sdk
from reconify_otel.offline.assistants import ReplayAssistantsAPI
from reconify_otel.offline.sink import Answer, ReconifySink
from reconify_otel.settings import resolve

from .bridge_helpers import (
    JSON,
    MAX_BODY,
    MAX_DECOMPRESSED,
    PROTOBUF,
    TOKEN,
    BridgeFactory,
    answer,
    otlp_json,
    own_spans,
    post,
    protobuf,
    running,
    send_in_process,
    send_otlp,
)
from .helpers import (
    API_KEY,
    APP_KEY,
    CURRENT,
    OWN,
    answer_ids,
    make_span,
    run_attributes,
    run_polling_flow,
)

# --- the same payloads by both routes ------------------------------------------------


def test_upstream_instrumentation_spans_give_identical_payloads(
    recordings_dir: Path,
    sink: ReconifySink,
    in_process_sink: ReconifySink,
    bridge: tuple[str, BridgeApp],
) -> None:
    provider = TracerProvider()
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        with ReplayAssistantsAPI(recordings_dir / "test_new_assistant_with_polling.yaml") as api:
            run_polling_flow(OpenAI(base_url=api.base_url, api_key="sk-test-openai-key"))
    finally:
        instrumentor.uninstrument()
        provider.shutdown()
    spans = memory.get_finished_spans()
    assert [span.name for span in spans] == ["openai.assistant.run"]

    send_in_process(in_process_sink, spans)
    send_otlp(bridge[0], spans)

    assert len(in_process_sink.payloads) == 1
    assert sink.payloads == in_process_sink.payloads
    assert sink.payloads[0]["response"]["id"] == "msg_HK3aVWLIOnojFNHPtnCPaIRI"
    assert sink.received[0].path == "/track"


def test_own_contract_spans_give_identical_payloads(
    sink: ReconifySink, in_process_sink: ReconifySink, bridge: tuple[str, BridgeApp]
) -> None:
    spans = own_spans()
    send_in_process(in_process_sink, spans)
    send_otlp(bridge[0], spans)
    assert len(in_process_sink.payloads) == 3
    assert sink.payloads == in_process_sink.payloads
    assert [p["session"] for p in sink.payloads] == [
        "thread_erGl66dVoAO1EY2Mp3lvn9JB",
        "thread_2",
        None,
    ]


def test_json_encoding_gives_the_same_payload(
    sink: ReconifySink, in_process_sink: ReconifySink, bridge: tuple[str, BridgeApp]
) -> None:
    spans = own_spans()
    send_in_process(in_process_sink, spans)
    response = post(bridge[0], otlp_json(spans), JSON)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == JSON
    assert response.json() == {}  # full success: no partial_success
    assert sink.payloads == in_process_sink.payloads


def test_from_otlp_reads_every_value_kind_as_the_sdk_holds_it() -> None:
    attributes = {"s": "x", "b": True, "i": 7, "d": 0.5, "a": ("p", "q"), "n": (1, 2)}
    span = make_span("openai.assistant.run", attributes, error=True)
    (record,) = selected_spans(encode_spans([span]))
    assert record == from_sdk(span)
    assert record.is_error is True
    assert record.trace_id == span.context.trace_id and record.span_id == span.context.span_id

    kvlist = KeyValueList(values=[KeyValue(key="k", value=AnyValue(int_value=1))])
    proto = trace_pb2.Span(
        name="x",
        attributes=[
            KeyValue(key="raw", value=AnyValue(bytes_value=b"\x00\x01")),
            KeyValue(key="map", value=AnyValue(kvlist_value=kvlist)),
            KeyValue(key="empty", value=AnyValue()),
            KeyValue(
                key="nested",
                value=AnyValue(array_value=ArrayValue(values=[AnyValue(string_value="v")])),
            ),
        ],
    )
    assert dict(from_otlp(proto).attributes) == {
        "raw": b"\x00\x01",
        "map": {"k": 1},
        "nested": ("v",),
    }


def test_selection_on_protobuf_needs_the_run_id_for_agent_spans() -> None:
    spans = [
        make_span("invoke_agent Other", {"gen_ai.operation.name": "invoke_agent"}),
        make_span("invoke_agent Math Tutor", OWN),
        make_span("GET /health", {"http.method": "GET"}),
        make_span("openai.chat", {"gen_ai.provider.name": "openai"}),
        make_span("openai.assistant.run", dict(CURRENT, **{"reconify.superseded": True})),
    ]
    selected = [r.name for r in selected_spans(encode_spans(spans))]
    assert selected == ["invoke_agent Math Tutor", "openai.chat"]
    assistant_only = Selection({"assistant"})
    chosen = [r.name for r in selected_spans(encode_spans(spans), assistant_only)]
    assert chosen == ["invoke_agent Math Tutor"]


# --- answers ---------------------------------------------------------------------------


def bomb() -> bytes:
    return gzip.compress(b"\0" * (MAX_DECOMPRESSED * 4))


@pytest.mark.parametrize(
    ("body", "content_type", "extra", "status"),
    [
        (b"not a protobuf \xff\xff", PROTOBUF, {}, 400),
        (b'{"resourceSpans": [', JSON, {}, 400),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}', JSON, {}, 400),
        (b"\x1f\x8b not gzip", PROTOBUF, {"encoding": "gzip"}, 400),
        (b"\0" * (MAX_BODY + 1), PROTOBUF, {}, 413),
        (None, PROTOBUF, {"encoding": "gzip"}, 413),  # the gzip bomb
        (b"hello", "text/plain", {}, 415),
        (b"", PROTOBUF, {"encoding": "br"}, 415),
        (b"", PROTOBUF, {"token": None}, 401),
        (b"", PROTOBUF, {"token": TOKEN + "x"}, 401),
        (b"", PROTOBUF, {"path": "/v1/metrics"}, 404),
    ],
)
def test_error_answers(
    sink: ReconifySink,
    bridge: tuple[str, BridgeApp],
    body: bytes | None,
    content_type: str,
    extra: dict[str, Any],
    status: int,
) -> None:
    response = post(bridge[0], bomb() if body is None else body, content_type, **extra)
    assert response.status_code == status
    assert "Retry-After" not in response.headers
    assert sink.attempts == 0
    assert bridge[1].stats()[f"http_{status}"] == 1


def test_error_body_is_a_status_message_in_the_request_encoding(
    bridge: tuple[str, BridgeApp],
) -> None:
    response = post(bridge[0], b"{", JSON)
    assert response.status_code == 400
    assert response.json() == {
        "code": 3,
        "message": "body is not an OTLP application/json ExportTraceServiceRequest",
    }
    message = b"body is not an OTLP application/x-protobuf ExportTraceServiceRequest"
    response = post(bridge[0], b"\xff")
    assert response.content == b"\x08\x03\x12" + bytes([len(message)]) + message


def test_wrong_method_and_health(bridge: tuple[str, BridgeApp]) -> None:
    url, _ = bridge
    assert requests.get(f"{url}/v1/traces", timeout=5).status_code == 405
    health = requests.get(f"{url}/healthz", timeout=5)
    assert health.status_code == 200
    assert health.json() == {
        "status": "ok",
        "http_405": 1,
        "in_flight": 0,
        "dedup_entries": 0,
        "request_memory": 0,
        "events_unjoined": 0,
        "events_held": 0,
    }
    assert TOKEN not in health.text and APP_KEY not in health.text


def test_unmappable_span_is_a_partial_success(
    sink: ReconifySink, bridge: tuple[str, BridgeApp]
) -> None:
    spans = [
        make_span("invoke_agent Math Tutor", OWN),
        make_span("openai.assistant.run", {"gen_ai.input.messages": "[]"}),  # no answer
        make_span("openai.assistant.run", CURRENT, error=True),  # failed run: not a rejection
    ]
    response = post(bridge[0], protobuf(spans))
    assert response.status_code == 200
    assert response.headers["Content-Type"] == PROTOBUF
    partial = answer(response).partial_success
    assert partial.rejected_spans == 1
    assert partial.error_message == (
        "not sent to Reconify: 1 no_answer (the span holds no assistant message)"
    )
    assert len(sink.payloads) == 1
    assert sink.payloads[0]["response"]["run_id"] == "run_31fgVjfVXHHOJZbQnBWJXhlN"


def test_reconify_rejection_is_a_partial_success_and_not_resent(
    sink: ReconifySink, bridge: tuple[str, BridgeApp]
) -> None:
    body = protobuf(own_spans())
    sink.script(Answer.status(400, b'{"status":"error"}'))
    first = answer(post(bridge[0], body)).partial_success
    assert (first.rejected_spans, first.error_message) == (
        1,
        "not sent to Reconify: 1 rejected by Reconify (HTTP 400)",
    )
    again = answer(post(bridge[0], body)).partial_success
    assert (again.rejected_spans, again.error_message) == (
        1,
        "not sent to Reconify: 1 rejected earlier",
    )
    assert sink.attempts == 3 and len(sink.payloads) == 2


def test_a_retried_batch_sends_nothing_twice(
    sink: ReconifySink, bridge: tuple[str, BridgeApp]
) -> None:
    body = protobuf(own_spans())
    for _ in range(3):
        response = post(bridge[0], body)
        assert response.status_code == 200 and response.content == b""
    assert sink.attempts == 3 and len(sink.payloads) == 3
    assert len({json.dumps(p, sort_keys=True) for p in sink.payloads}) == 3
    stats = bridge[1].stats()
    assert (stats["accepted"], stats["duplicates"], stats["dedup_entries"]) == (3, 6, 3)


def test_outage_answers_503_then_a_resend_delivers_each_payload_once(
    sink: ReconifySink, bridge: tuple[str, BridgeApp]
) -> None:
    body = protobuf(own_spans())
    sink.outage(1.0, 503, retry_after=2)
    started = time.monotonic()
    response = post(bridge[0], body)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "2"
    assert sink.payloads == []
    time.sleep(max(0.0, 1.05 - (time.monotonic() - started)))
    assert post(bridge[0], body).status_code == 200
    assert len(sink.payloads) == 3
    assert len({json.dumps(p, sort_keys=True) for p in sink.payloads}) == 3


def test_a_partly_delivered_batch_resends_only_the_rest(
    sink: ReconifySink, bridge: tuple[str, BridgeApp]
) -> None:
    body = protobuf(own_spans())
    sink.script(Answer.ok(), Answer.status(503, headers={"Retry-After": "3"}))
    response = post(bridge[0], body)
    assert (response.status_code, response.headers["Retry-After"]) == (503, "3")
    # The 503 was given up on within the 1 s deadline; the run after it was not tried.
    assert len(sink.payloads) == 1
    assert post(bridge[0], body).status_code == 200
    assert sink.attempts == 4  # ok, 503; then only the two not delivered
    assert len({json.dumps(p, sort_keys=True) for p in sink.payloads}) == 3


def test_overload_answers_429(sink: ReconifySink, start_bridge: BridgeFactory) -> None:
    url, _ = start_bridge(max_in_flight=1)
    sink.script(Answer.slow(0.5))
    first: list[requests.Response] = []
    holder = threading.Thread(target=lambda: first.append(post(url, protobuf(own_spans()[:1]))))
    holder.start()
    assert sink.wait_for_attempts(1)
    busy = post(url, protobuf(own_spans()))
    assert (busy.status_code, busy.headers["Retry-After"]) == (429, "1")
    holder.join(5)
    assert first[0].status_code == 200


def test_bridge_behind_an_otlp_client_through_a_reconify_outage(
    sink: ReconifySink,
    start_bridge: Any,
) -> None:
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    url, _ = start_bridge(timeout=0.3)
    spans = [make_span("openai.assistant.run", run_attributes(n)) for n in range(20)]
    sink.outage(2.5, status=503, retry_after=1)
    client = OTLPSpanExporter(
        endpoint=f"{url}/v1/traces",
        compression=Compression.Gzip,
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=20,
    )
    started = time.monotonic()
    assert client.export(spans) is SpanExportResult.SUCCESS  # it retried on 503 + Retry-After
    assert time.monotonic() - started >= 2.0
    client.shutdown()
    ids = answer_ids(sink)
    assert sorted(ids) == sorted(f"msg_{n:06d}" for n in range(20))  # each once
    assert sink.attempts > 20  # the outage was really met


def test_shutdown_drains_the_request_in_flight_then_closes_the_transport(
    sink: ReconifySink,
) -> None:
    settings = resolve(endpoint=f"{sink.url}/track", app_key=APP_KEY, api_key=API_KEY)
    app = create_app(settings, TOKEN)
    sink.script(Answer.slow(0.5))
    answers: list[requests.Response] = []
    with running(app) as url:
        sender = threading.Thread(target=lambda: answers.append(post(url, protobuf(own_spans()))))
        sender.start()
        assert sink.wait_for_attempts(1)
    # running() has returned: uvicorn stopped after the slow send was answered.
    sender.join(5)
    assert answers[0].status_code == 200 and len(sink.payloads) == 3
    assert app.stats()["accepted"] == 3
    assert app.closed


# --- start-up ---------------------------------------------------------------------------


def test_refuses_to_listen_beyond_loopback_without_a_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("RECONIFY_BRIDGE_TOKEN", raising=False)
    with pytest.raises(ValueError, match=r"refusing to listen on '0\.0\.0\.0' without a token"):
        serve("0.0.0.0", 4318)
    for host in ("127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"):
        check_bind(host, None)
    with pytest.raises(ValueError, match=r"refusing to listen on 'bridge\.internal'"):
        check_bind("bridge.internal", None)
    monkeypatch.setenv("RECONIFY_BRIDGE_TOKEN", TOKEN)
    check_bind("0.0.0.0", resolve_config().token)
    assert TOKEN not in repr(resolve_config())
