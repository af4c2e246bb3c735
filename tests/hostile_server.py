"""Raw-socket servers on 127.0.0.1 that misbehave as no HTTP library would let them:
drip a status line, cut one short, stream an answer without end, redirect elsewhere.
Each reads a request whole, then answers with a ``Behaviour``."""

from __future__ import annotations

import re
import socket
import ssl
import threading
from collections.abc import Callable

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
