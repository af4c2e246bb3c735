"""The bridge behind a real Collector, watched (every request and answer noted), and the
spans the ``test_real_collector_*.py`` modules send through it.

The fixture ``start_bridge`` here replaces conftest.py's in the modules that bind it: this
one starts a stoppable, restartable, watched bridge on the Collector's side.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from reconify_otel import ReconifySpanExporter
from reconify_otel.bridge import create_app, resolve_config
from reconify_otel.bridge.server import listening_socket
from reconify_otel.offline.sink import ReconifySink
from reconify_otel.settings import resolve

from .collector_process import TOKEN, decode_request, span_names_ids
from .helpers import API_KEY, APP_KEY

# Seconds the Collector may take to deliver what it holds once the bridge answers (the
# shipped back-off: 5 s initial, x1.5 with +-50 % jitter, at most 30 s).
DELIVERY_TIMEOUT = 90.0
# filter/genai keeps the first two kinds; the bridge maps the first.
RUN_NAME = "invoke_agent Math Tutor"
CHAT_NAME = "chat gpt-4o-mini"
UNRELATED = ("GET /users", "SELECT users")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]


@dataclass(frozen=True)
class Exchange:
    """One POST /v1/traces the bridge answered."""

    arrived: float
    answered: float
    status: int
    retry_after: str | None
    spans: list[tuple[str, str]]
    answer: bytes

    def rejected_spans(self) -> int:
        answer = ExportTraceServiceResponse()
        answer.ParseFromString(self.answer)
        return int(answer.partial_success.rejected_spans)


class Recorder:
    """ASGI wrapper around the bridge noting each request and answer (the bridge is
    untouched: this only watches what goes in and out)."""

    def __init__(self) -> None:
        self.app: Callable[[Scope, Any, Any], Awaitable[None]] | None = None
        self._lock = threading.Lock()
        self._exchanges: list[Exchange] = []

    @property
    def exchanges(self) -> list[Exchange]:
        with self._lock:
            return list(self._exchanges)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        assert self.app is not None
        if scope["type"] != "http" or scope["path"] != "/v1/traces":
            await self.app(scope, receive, send)
            return
        arrived = time.monotonic()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        body = bytearray()
        answer = bytearray()
        start: dict[str, Any] = {}

        async def tap_receive() -> Message:
            message: Message = await receive()
            body.extend(message.get("body", b""))
            return message

        async def tap_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                answer.extend(message.get("body", b""))
            await send(message)

        await self.app(scope, tap_receive, tap_send)
        answer_headers = {k.decode().lower(): v.decode() for k, v in start.get("headers", [])}
        spans = span_names_ids(decode_request(bytes(body), headers.get("content-encoding", "")))
        exchange = Exchange(
            arrived,
            time.monotonic(),
            int(start["status"]),
            answer_headers.get("retry-after"),
            spans,
            bytes(answer),
        )
        with self._lock:
            self._exchanges.append(exchange)


class Bridge:
    """``reconify-otel bridge`` under uvicorn on one 127.0.0.1 port, stoppable and
    restartable there (a restart is a new bridge, as a restarted process would be)."""

    def __init__(self, sink: ReconifySink, timeout: float = 1.0, **limits: Any) -> None:
        self.sink = sink
        self.timeout = timeout  # the bridge's deadline for one send to Reconify
        self.limits = {"token": TOKEN, **limits}
        self.recorder = Recorder()
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Bridge:
        settings = resolve(
            endpoint=f"{self.sink.url}/track",
            app_key=APP_KEY,
            api_key=API_KEY,
            timeout=self.timeout,
            concurrency=1,
        )
        self.recorder.app = create_app(settings, config=resolve_config(**self.limits))
        self._sock = listening_socket("127.0.0.1", self.port)
        self.port = int(self._sock.getsockname()[1])
        config = uvicorn.Config(self.recorder, lifespan="on", ws="none", log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 5
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        assert self._server.started
        return self

    def stop(self) -> None:
        """As on SIGTERM: stop accepting, finish what is in flight, close."""
        if self._server is None:
            return
        self._server.should_exit = True
        assert self._thread is not None and self._sock is not None
        self._thread.join(15)
        assert not self._thread.is_alive()
        self._sock.close()
        self._server = None

    def statuses(self) -> list[int]:
        return [exchange.status for exchange in self.recorder.exchanges]

    def spans(self) -> list[tuple[str, str]]:
        """Every span the bridge was sent, as (name, span id hex), sorted."""
        return sorted(s for exchange in self.recorder.exchanges for s in exchange.spans)


@pytest.fixture
def start_bridge(sink: ReconifySink) -> Iterator[Callable[..., Bridge]]:
    bridges: list[Bridge] = []

    def start(timeout: float = 1.0, **limits: Any) -> Bridge:
        bridge = Bridge(sink, timeout, **limits).start()
        bridges.append(bridge)
        return bridge

    yield start
    for bridge in bridges:
        bridge.stop()


# --------------------------------------------------------------------------- spans


def message(message_id: str, role: str, text: str, thread: str, run: str | None) -> dict[str, Any]:
    return {
        "id": message_id,
        "object": "thread.message",
        "created_at": 1774963843,
        "assistant_id": "asst_Leo2sRC1zfL8826tvsgfhKJ4" if role == "assistant" else None,
        "thread_id": thread,
        "run_id": run,
        "role": role,
        "content": [{"type": "text", "text": {"value": text, "annotations": []}}],
        "attachments": [],
        "metadata": {},
    }


def make_spans(tag: str, runs: int, *, extras: bool = True) -> list[ReadableSpan]:
    """``runs`` assistant runs of this project's attribute contract (docs/attributes.md);
    with ``extras`` each comes with a GenAI chat span without content (kept by the filter,
    rejected by the bridge: no answer) and two unrelated spans (dropped by the filter)."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("test_real_collector")
    start_ns = 1_774_963_843_123_000_000
    for i in range(runs):
        run, thread = f"run_{tag}_{i}", f"thread_{tag}_{i}"
        attributes: dict[str, str | int] = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.provider.name": "openai",
            "gen_ai.conversation.id": thread,
            "gen_ai.agent.id": "asst_Leo2sRC1zfL8826tvsgfhKJ4",
            "gen_ai.request.model": "gpt-4o-mini",
            "openai.assistants.run.id": run,
            "openai.assistants.run.status": "completed",
            "openai.assistants.request.message": json.dumps(
                message(f"msg_u_{tag}_{i}", "user", f"question {i}", thread, None)
            ),
            "openai.assistants.response.messages": json.dumps(
                [message(f"msg_a_{tag}_{i}", "assistant", f"answer {i}", thread, run)]
            ),
            "gen_ai.usage.input_tokens": 100 + i,
            "gen_ai.usage.output_tokens": 20 + i,
            "openai.assistants.usage.total_tokens": 120 + 2 * i,
        }
        begin = start_ns + i * 1_000_000_000
        tracer.start_span(RUN_NAME, attributes=attributes, start_time=begin).end(begin + 900_000)
        if extras:
            chat = {"gen_ai.provider.name": "openai", "gen_ai.operation.name": "chat"}
            tracer.start_span(CHAT_NAME, attributes=chat, start_time=begin).end(begin + 1000)
            tracer.start_span(
                UNRELATED[0], attributes={"http.request.method": "GET"}, start_time=begin
            ).end(begin + 1000)
            tracer.start_span(
                UNRELATED[1], attributes={"db.system.name": "postgresql"}, start_time=begin
            ).end(begin + 1000)
    return list(memory.get_finished_spans())


def names_ids(spans: Sequence[ReadableSpan]) -> list[tuple[str, str]]:
    """(name, span id hex) of each span, sorted: what a recorder notes."""
    return sorted((span.name, format(span.context.span_id, "016x")) for span in spans)


def in_process_payloads(spans: Sequence[ReadableSpan]) -> list[dict[str, Any]]:
    """What the in-process ``ReconifySpanExporter`` sends for the same spans."""
    with ReconifySink() as sink:
        exporter = ReconifySpanExporter(f"{sink.url}/track", APP_KEY, API_KEY, concurrency=1)
        try:
            assert exporter.export(spans) is SpanExportResult.SUCCESS
        finally:
            exporter.shutdown()
        return in_order(sink.payloads)


def in_order(payloads: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Payloads in a fixed order, whatever order they arrived in."""
    return sorted(payloads, key=lambda payload: json.dumps(payload, sort_keys=True))


def run_ids(payloads: Sequence[dict[str, Any]]) -> list[str]:
    return sorted(str(payload["response"]["run_id"]) for payload in payloads)


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def settle(sink: ReconifySink, count: int) -> None:
    """All ``count`` payloads arrived; then 2 s more (past the exporter's 1 s batch flush
    and any answer in flight) for a duplicate to show up, which exact counts would catch."""
    if not sink.wait_for(count, DELIVERY_TIMEOUT):
        pytest.fail(f"{sink.accepted} of {count} payloads reached Reconify in time")
    time.sleep(2)
