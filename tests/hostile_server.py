"""Raw-socket servers on 127.0.0.1 that misbehave as no HTTP library would let them:
drip a status line, cut one short, stream an answer without end, redirect elsewhere.
Each reads a request whole, then answers with a ``Behaviour``. And what the tests against
them share (tests/test_hostile_endpoint.py, tests/test_proxies.py): a sender, a provider
exporting to one of them, the payloads left in a spool."""

from __future__ import annotations

import json
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from reconify_otel import ReconifySpanExporter
from reconify_otel.delivery.retry import RetryingSender
from reconify_otel.runtime.counters import Counters
from reconify_otel.settings import resolve

from .helpers import API_KEY, APP_KEY, CURRENT

Behaviour = Callable[["Connection", threading.Event], bool]  # True: keep the connection
OK = b'{"status":"ok"}'
DRIP_EVERY = 0.5  # a byte every half second: far inside any per-read timeout


def reply(status: str, body: bytes = b"", *headers: str, close: bool = True) -> bytes:
    head = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", *headers]
    head += ["Connection: close"] if close else []
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def answering(data: bytes, keep: bool = False) -> Behaviour:
    def behave(conn: Connection, stop: threading.Event) -> bool:
        conn.sendall(data)
        return keep

    return behave


def dripping(head: bytes, endless: bytes) -> Behaviour:
    """``head`` at once, then ``endless`` repeated, one byte every ``DRIP_EVERY`` s."""

    def behave(conn: Connection, stop: threading.Event) -> bool:
        conn.sendall(head)
        while not stop.wait(DRIP_EVERY):
            for byte in endless:
                conn.sendall(bytes([byte]))
                if stop.wait(DRIP_EVERY):
                    break
        return False

    return behave


def silent(conn: Connection, stop: threading.Event) -> bool:
    stop.wait(60)
    return False


class Hostile:
    """A raw-socket server on 127.0.0.1: reads each request whole, then ``behave``s.

    Records every request it read (any method, any path) and how many bytes it sent."""

    def __init__(self, behave: Behaviour, tls: ssl.SSLContext | None = None) -> None:
        self.behave = behave
        self.requests: list[bytes] = []
        self.connections = 0
        self.sent = 0
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self._tls = tls
        self.port = self._listener.getsockname()[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                continue
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            if self._tls is not None:
                conn = self._tls.wrap_socket(conn, server_side=True)
            with conn:
                while (request := _read_request(conn)) is not None:
                    self.requests.append(request)
                    if not self.behave(Connection(conn, self), self._stop):
                        return
        except OSError:  # the client gave up: what these tests want
            pass

    def bodies(self) -> bytes:
        return b"".join(self.requests)

    def close(self) -> None:
        self._stop.set()
        self._listener.close()


class Connection:
    """The connection, counting what the server managed to send."""

    def __init__(self, conn: socket.socket, server: Hostile) -> None:
        self._conn, self._server = conn, server

    def sendall(self, data: bytes) -> None:
        self._conn.sendall(data)
        self._server.sent += len(data)


def _read_request(conn: socket.socket) -> bytes | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    found = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
    while found and len(body) < int(found.group(1)):
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


# --- what the tests against these servers share -------------------------------------------


def sender(url: str, counters: Counters, **options: Any) -> RetryingSender:
    settings = resolve(endpoint=f"{url}/track", app_key=APP_KEY, api_key=API_KEY, **options)
    retrying = RetryingSender(settings, counters)
    retrying.initial_backoff = 0.05
    return retrying


def keyed_body() -> bytes:
    return json.dumps({"appKey": APP_KEY, "apiKey": API_KEY, "n": 1}).encode()


def spooled(directory: Path) -> int:
    """Payloads waiting in the spool under ``directory``, whatever its layout."""
    return sum(
        1 for file in directory.rglob("*.jsonl") for line in file.read_bytes().splitlines() if line
    )


def batching(exporter: ReconifySpanExporter, spans: int, server: Hostile) -> TracerProvider:
    """A provider whose ``BatchSpanProcessor`` is exporting ``spans`` spans to ``server``."""
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=50))
    tracer = provider.get_tracer("test")
    for n in range(spans):
        attributes: Any = {**CURRENT, "gen_ai.response.1.id": f"msg_{n:06d}"}
        tracer.start_span("openai.assistant.run", attributes=attributes).end()
    deadline = time.monotonic() + 10
    while not server.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    return provider
