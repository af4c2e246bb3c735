"""The bridge's test helpers: uvicorn on loopback, OTLP bodies, posting to the bridge.

Only modules that run a bridge import this (it needs the ``bridge`` extra); the fixtures
``start_bridge``, ``bridge`` and ``in_process_sink`` in conftest.py wrap it.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

import requests
import uvicorn
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1 import trace_pb2
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult

from reconify_otel import ReconifySpanExporter
from reconify_otel.bridge import BridgeApp, create_app, resolve_config
from reconify_otel.bridge.server import listening_socket
from reconify_otel.offline.sink import ReconifySink
from reconify_otel.settings import resolve

from .helpers import API_KEY, APP_KEY, CURRENT, OWN, make_span

TOKEN = "bridge-token-3e7a9c41d5"
PROTOBUF = "application/x-protobuf"
JSON = "application/json"
MAX_BODY = 64 * 1024
MAX_DECOMPRESSED = 256 * 1024


@contextmanager
def running(app: BridgeApp) -> Iterator[str]:
    """uvicorn on a socket we bound ourselves (no free-port race); stopped as on SIGTERM."""
    sock = listening_socket("127.0.0.1", 0)
    config = uvicorn.Config(app, lifespan="on", ws="none", log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


BridgeFactory = Callable[..., tuple[str, BridgeApp]]


@contextmanager
def bridges(sink: ReconifySink) -> Iterator[BridgeFactory]:
    """Start bridges sending to ``sink``; keyword arguments override settings or limits."""
    with ExitStack() as running_bridges:

        def start(
            timeout: float = 1.0, concurrency: int = 1, **limits: Any
        ) -> tuple[str, BridgeApp]:
            settings = resolve(
                endpoint=f"{sink.url}/track",
                app_key=APP_KEY,
                api_key=API_KEY,
                timeout=timeout,
                concurrency=concurrency,
            )
            limits = {
                "token": TOKEN,
                "max_body_bytes": MAX_BODY,
                "max_decompressed_bytes": MAX_DECOMPRESSED,
                **limits,
            }
            app = create_app(settings, config=resolve_config(**limits))
            return running_bridges.enter_context(running(app)), app

        yield start


def send_in_process(sink: ReconifySink, spans: Sequence[ReadableSpan]) -> None:
    # One at a time, like the bridge under test, so both sinks see the same order.
    exporter = ReconifySpanExporter(f"{sink.url}/track", APP_KEY, API_KEY, concurrency=1)
    try:
        assert exporter.export(spans) is SpanExportResult.SUCCESS
    finally:
        exporter.shutdown()


def send_otlp(url: str, spans: Sequence[ReadableSpan]) -> None:
    exporter = OTLPSpanExporter(
        endpoint=f"{url}/v1/traces",
        compression=Compression.Gzip,
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    try:
        assert exporter.export(spans) is SpanExportResult.SUCCESS
    finally:
        exporter.shutdown()


def post(
    url: str,
    body: bytes,
    content_type: str = PROTOBUF,
    *,
    token: str | None = TOKEN,
    path: str = "/v1/traces",
    encoding: str | None = None,
) -> requests.Response:
    headers = {"Content-Type": content_type}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if encoding is not None:
        headers["Content-Encoding"] = encoding
    return requests.post(f"{url}{path}", data=body, headers=headers, timeout=10)


def protobuf(spans: Sequence[ReadableSpan]) -> bytes:
    return bytes(encode_spans(spans).SerializeToString())


def otlp_json(spans: Sequence[ReadableSpan]) -> bytes:
    """OTLP JSON as the spec writes it: protobuf's JSON mapping, ids in hex not base64."""
    document = json_format.MessageToDict(encode_spans(spans))
    for resource_spans in document["resourceSpans"]:
        for scope_spans in resource_spans["scopeSpans"]:
            for span in scope_spans["spans"]:
                for name in ("traceId", "spanId", "parentSpanId"):
                    if name in span:
                        span[name] = base64.b64decode(span[name]).hex()
    return json.dumps(document).encode()


def answer(response: requests.Response) -> ExportTraceServiceResponse:
    parsed = ExportTraceServiceResponse()
    parsed.ParseFromString(response.content)
    return parsed


def own_spans() -> list[ReadableSpan]:
    """Two runs of this project's contract, one current upstream run, one unrelated span."""
    return [
        make_span("invoke_agent Math Tutor", OWN),
        make_span("GET /users", {"http.method": "GET"}),
        make_span("invoke_agent Math Tutor", dict(OWN, **{"gen_ai.conversation.id": "thread_2"})),
        make_span("openai.assistant.run", CURRENT),
    ]


# --- the fuzz campaigns' bridge ------------------------------------------------------

FUZZ_MAX_BYTES = 8 * 1024 * 1024  # large enough for a 1 MiB gzip bomb to reach decoding


class CampaignBridge:
    """A bridge a fuzz campaign hammers, with its own HTTP session and its sink."""

    def __init__(self, url: str, app: BridgeApp, sink: ReconifySink) -> None:
        self.url, self.app, self.sink = url, app, sink
        self.http = requests.Session()
        host, _, port = url.removeprefix("http://").partition(":")
        self.address = (host, int(port))

    def post(
        self,
        body: bytes,
        content_type: str = PROTOBUF,
        encoding: str | None = None,
        token: str = TOKEN,
    ) -> requests.Response:
        headers = {"Content-Type": content_type, "Authorization": f"Bearer {token}"}
        if encoding is not None:
            headers["Content-Encoding"] = encoding
        return self.http.post(f"{self.url}/v1/traces", data=body, headers=headers, timeout=30)


@contextmanager
def campaign_bridge() -> Iterator[CampaignBridge]:
    """One bridge and its sink for a whole fuzz module (the campaign)."""
    with ReconifySink() as sink:
        settings = resolve(
            endpoint=f"{sink.url}/track", app_key=APP_KEY, api_key=API_KEY, timeout=2.0
        )
        config = resolve_config(
            token=TOKEN, max_body_bytes=FUZZ_MAX_BYTES, max_decompressed_bytes=FUZZ_MAX_BYTES
        )
        app = create_app(settings, config=config)
        with running(app) as url:
            yield CampaignBridge(url, app, sink)


def one_span_request(name: str, pairs: list[tuple[str, AnyValue]]) -> bytes:
    span = trace_pb2.Span(
        name=name,
        trace_id=bytes(range(1, 17)),
        span_id=time.time_ns().to_bytes(8, "big"),
        start_time_unix_nano=1,
        end_time_unix_nano=2,
        attributes=[KeyValue(key=k, value=v) for k, v in pairs],
    )
    request = ExportTraceServiceRequest()
    request.resource_spans.add().scope_spans.add().spans.append(span)
    return request.SerializeToString()


def assert_healthy_and_delivering_once(bridge: CampaignBridge) -> None:
    """After a campaign: ``/healthz`` is ok with nothing in flight, and a valid batch
    sent twice (the Collector's retry) is delivered exactly once."""
    health = bridge.http.get(f"{bridge.url}/healthz", timeout=5)
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert health.json()["in_flight"] == 0
    before = len(bridge.sink.payloads)
    spans = own_spans()  # fresh trace and span ids
    for _ in range(2):  # the Collector's retry of the same batch sends nothing twice
        response = bridge.post(protobuf(spans))
        assert response.status_code == 200 and response.content == b""
    delivered = bridge.sink.payloads[before:]  # sent concurrently: in any order
    sessions = sorted(str(p["session"]) for p in delivered)
    assert sessions == ["None", "thread_2", "thread_erGl66dVoAO1EY2Mp3lvn9JB"]
    runs = {p["response"]["run_id"] for p in delivered}
    assert len(delivered) == 3 and len(runs) == 2  # both own runs carry the recorded run id
