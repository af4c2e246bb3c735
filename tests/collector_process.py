"""A real OpenTelemetry Collector for tests (built by ``collector_build.otelcol``), run on
127.0.0.1 with the shipped configuration, and a second Collector as Jaeger's stand-in.

The fixtures here (``start_collector``, ``jaeger``) are shared by the
``test_real_collector_*.py`` modules, which bind them by name.
"""

from __future__ import annotations

import gzip
import http.client
import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "otel-collector-config.yaml"
DATADOG_OVERLAY = ROOT / "collector" / "datadog-overlay.yaml"

TOKEN = "collector-bridge-token-6c1f0a93"
# Seconds the Collector may take to start.
START_TIMEOUT = 30.0


# --------------------------------------------------------------------------- configs


def load(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    assert isinstance(data, dict)
    return data


def write_yaml(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def validate(binary: Path, *configs: Path) -> subprocess.CompletedProcess[str]:
    args = [str(binary), "validate"]
    for config in configs:
        args += ["--config", str(config)]
    env = dict(os.environ, DD_API_KEY="dummy-dd-key", RECONIFY_BRIDGE_TOKEN="dummy-token")
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=60, check=False)


def local_overlay(tmp: Path) -> tuple[Path, dict[str, int]]:
    """What the tests change in the shipped file, merged over it with a second --config:
    listening addresses (127.0.0.1 free ports), the queue directory (under ``tmp``), JSON
    logs, and no self-metrics."""
    ports = {"grpc": free_port(), "http": free_port(), "health": free_port()}
    queue = tmp / "queue"
    overlay = {
        "extensions": {
            "health_check": {"endpoint": f"127.0.0.1:{ports['health']}"},
            "file_storage/reconify": {
                "directory": str(queue),
                "compaction": {"directory": str(queue)},
            },
        },
        "receivers": {
            "otlp": {
                "protocols": {
                    "grpc": {"endpoint": f"127.0.0.1:{ports['grpc']}"},
                    "http": {"endpoint": f"127.0.0.1:{ports['http']}"},
                }
            }
        },
        "service": {"telemetry": {"metrics": {"level": "none"}, "logs": {"encoding": "json"}}},
    }
    return write_yaml(tmp / "test-overlay.yaml", overlay), ports


# --------------------------------------------------------------------------- Collector


class Collector:
    """One Collector process; its JSON log lines go to ``log_path``."""

    def __init__(
        self, binary: Path, configs: Sequence[Path], env: dict[str, str], log_path: Path
    ) -> None:
        self.binary = binary
        self.configs = list(configs)
        self.env = env
        self.log_path = log_path
        self.health_port = 0
        self.ports: dict[str, int] = {}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, health_port: int) -> Collector:
        self.health_port = health_port
        args = [str(self.binary)]
        for config in self.configs:
            args += ["--config", str(config)]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=self.log_path.parent
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the Collector exited ({self.process.returncode}):\n{self.log()}")
            if http_status("127.0.0.1", health_port, "/") == 200:
                return self
            time.sleep(0.05)
        pytest.fail(f"the Collector was not healthy within {START_TIMEOUT} s:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL: a crash, no shutdown of any kind."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-8000:]

    def records(self) -> list[dict[str, Any]]:
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return [json.loads(line) for line in text.splitlines() if line.startswith("{")]

    def errors(self) -> list[dict[str, Any]]:
        return [r for r in self.records() if r["level"] in ("error", "fatal")]


def http_status(host: str, port: int, path: str) -> int | None:
    connection = http.client.HTTPConnection(host, port, timeout=2)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    except OSError:
        return None
    finally:
        connection.close()


def collector_env(bridge_url: str, jaeger_port: int) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("DD_API_KEY", "DD_SITE"):
        env.pop(name, None)
    env.update(
        RECONIFY_BRIDGE_ENDPOINT=bridge_url,
        RECONIFY_BRIDGE_TOKEN=TOKEN,
        JAEGER_OTLP_ENDPOINT=f"127.0.0.1:{jaeger_port}",
    )
    return env


@pytest.fixture
def start_collector(otelcol: Path, tmp_path: Path) -> Iterator[Callable[[str, int], Collector]]:
    """Start the shipped otel-collector-config.yaml (plus ``local_overlay``) sending to the
    bridge at ``bridge_url`` and to Jaeger at 127.0.0.1:``jaeger_port``."""
    started: list[Collector] = []

    def start(bridge_url: str, jaeger_port: int) -> Collector:
        overlay, ports = local_overlay(tmp_path)
        collector = Collector(
            otelcol,
            [CONFIG, overlay],
            collector_env(bridge_url, jaeger_port),
            tmp_path / "otelcol.log",
        )
        collector.ports = ports
        started.append(collector)
        return collector.start(ports["health"])

    yield start
    for collector in started:
        collector.stop()


def app_exporter(collector: Collector) -> OTLPSpanExporter:
    """The application side: the SDK's OTLP/HTTP exporter pointed at the Collector."""
    port = collector.ports["http"]
    return OTLPSpanExporter(endpoint=f"http://127.0.0.1:{port}/v1/traces", timeout=10)


def send(collector: Collector, spans: Sequence[ReadableSpan]) -> None:
    """Export ``spans`` to the Collector, as an application's exporter does, and return
    once the Collector has answered."""
    exporter = app_exporter(collector)
    try:
        assert exporter.export(spans) is SpanExportResult.SUCCESS
    finally:
        exporter.shutdown()


# --------------------------------------------------------------------------- Jaeger


def span_names_ids(request: ExportTraceServiceRequest) -> list[tuple[str, str]]:
    return [
        (span.name, span.span_id.hex())
        for resource_spans in request.resource_spans
        for scope_spans in resource_spans.scope_spans
        for span in scope_spans.spans
    ]


def decode_request(body: bytes, encoding: str) -> ExportTraceServiceRequest:
    if encoding == "gzip":
        body = gzip.decompress(body)
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    return request


@dataclass
class Recorded:
    """Spans that reached a recorder, as (name, span id hex)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    spans: list[tuple[str, str]] = field(default_factory=list)

    def add(self, request: ExportTraceServiceRequest) -> None:
        with self.lock:
            self.spans.extend(span_names_ids(request))

    def snapshot(self) -> list[tuple[str, str]]:
        with self.lock:
            return list(self.spans)


class _OtlpRecorderHandler(BaseHTTPRequestHandler):
    server: _OtlpRecorderServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.recorded.add(decode_request(body, self.headers.get("Content-Encoding", "")))
        answer = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _OtlpRecorderServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _OtlpRecorderHandler)
        self.recorded = Recorded()


@pytest.fixture
def jaeger(otelcol: Path, tmp_path: Path) -> Iterator[tuple[int, Recorded]]:
    """Jaeger's stand-in: a Collector receiving OTLP/gRPC (Jaeger v2 is itself a Collector
    distribution) that passes every batch on to a recorder. Yields the gRPC port (for
    JAEGER_OTLP_ENDPOINT) and what was recorded."""
    recorder = _OtlpRecorderServer()
    thread = threading.Thread(target=recorder.serve_forever, daemon=True)
    thread.start()
    grpc_port, health_port = free_port(), free_port()
    config = {
        "extensions": {"health_check": {"endpoint": f"127.0.0.1:{health_port}"}},
        "receivers": {"otlp": {"protocols": {"grpc": {"endpoint": f"127.0.0.1:{grpc_port}"}}}},
        "exporters": {
            "otlphttp/recorder": {
                "endpoint": f"http://127.0.0.1:{recorder.server_address[1]}",
                "sending_queue": {"enabled": False},
            }
        },
        "service": {
            "extensions": ["health_check"],
            "telemetry": {"metrics": {"level": "none"}, "logs": {"encoding": "json"}},
            "pipelines": {"traces": {"receivers": ["otlp"], "exporters": ["otlphttp/recorder"]}},
        },
    }
    path = write_yaml(tmp_path / "jaeger.yaml", config)
    collector = Collector(otelcol, [path], dict(os.environ), tmp_path / "jaeger.log")
    collector.start(health_port)
    try:
        yield grpc_port, recorder.recorded
    finally:
        collector.stop()
        recorder.shutdown()
        recorder.server_close()
