"""A small threaded HTTP/1.1 server on 127.0.0.1 shared by the loopback stand-ins.

Stand-ins only: the bridge, which faces real traffic, runs on a production server.
Each answer leaves in one ``sendall`` with ``TCP_NODELAY`` set, because a status
line, headers and body written separately meet Nagle's algorithm and delayed
ACKs and stall about 40 ms per request.
"""

from __future__ import annotations

import gzip
import socket
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    owner: LoopbackServer


class LoopbackHandler(BaseHTTPRequestHandler):
    """Request handler base: keep-alive, whole-piece answers, decoded bodies."""

    protocol_version = "HTTP/1.1"
    server: _Server
    # Quiet by default: tests read outcomes, not access logs.
    log_each_request: ClassVar[bool] = False

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        if self.log_each_request:
            super().log_message(format, *args)

    @property
    def owner(self) -> LoopbackServer:
        return self.server.owner

    @property
    def path_only(self) -> str:
        return urlsplit(self.path).path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.path).query)

    def read_body(self) -> bytes:
        """The request body, decompressed per ``Content-Encoding``."""
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        encoding = (self.headers.get("Content-Encoding") or "").lower()
        if encoding == "gzip":
            return gzip.decompress(raw)
        if encoding == "deflate":
            return zlib.decompress(raw)
        return raw

    def send_whole(
        self,
        status: int,
        body: bytes = b"",
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        """Write status line, headers and body in one piece."""
        reason = self.responses.get(status, ("",))[0]
        lines = [f"HTTP/1.1 {status} {reason}", f"Content-Type: {content_type}"]
        lines.append(f"Content-Length: {len(body)}")
        for name, value in (headers or {}).items():
            lines.append(f"{name}: {value}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head + body)
        self.wfile.flush()

    def drop_connection(self) -> None:
        """Reset the connection without answering (RST, not FIN)."""
        self.connection.setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
        )
        self.close_connection = True
        self.connection.close()


class LoopbackServer:
    """Runs a handler class on 127.0.0.1 in a daemon thread; a context manager."""

    handler_class: type[LoopbackHandler] = LoopbackHandler

    def __init__(self, port: int = 0, host: str = "127.0.0.1") -> None:
        self._httpd = _Server((host, port), self.handler_class)
        self._httpd.owner = self
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LoopbackServer:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"{type(self).__name__}:{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def serve_forever(self) -> None:
        """Serve on the calling thread until interrupted (for ``python -m`` use)."""
        try:
            self._httpd.serve_forever(poll_interval=0.05)
        except KeyboardInterrupt:
            pass
        finally:
            self._httpd.server_close()

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
