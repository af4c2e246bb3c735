"""A hostile client of the bridge: request smuggling and forged Host headers.

Found by an adversarial run: a request with both Content-Length and Transfer-Encoding
was answered 200 on a connection kept open, and a request hidden in its body (as a proxy
framing by Content-Length would see it) was answered too; without a token,
``Host: localhost:80@evil.com`` was served. The bridge runs as users run it,
``reconify-otel bridge`` in its own process with no token, and is spoken to on raw
sockets. The oracle is bytes: the exact status line, every status line the bridge sent,
and whether it closed the connection (``recv`` returns ``b""``).
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator

import pytest

from reconify_otel.offline.sink import ReconifySink

from .bridge_helpers import PROTOBUF, TOKEN, BridgeFactory, own_spans, protobuf
from .bridge_process import BridgeProcess, bridge_process

BAD_REQUEST = b"HTTP/1.1 400 Bad Request\r\n"
STATUS_LINE = re.compile(rb"HTTP/1\.1 (\d{3}) ")
# Pipelined behind every request: a proxy would see it as a request of its own.
PIPELINED = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[BridgeProcess, ReconifySink]]:
    with ReconifySink() as sink, bridge_process(tmp_path_factory.mktemp("b"), sink.url) as bridge:
        yield bridge, sink


def exchange(address: tuple[str, int], data: bytes) -> tuple[bytes, bool]:
    """Everything the bridge sent for ``data``, and whether it then closed the connection
    (the socket's timeout ends the read of a bridge that keeps it open)."""
    received = b""
    with socket.create_connection(address, timeout=5) as conn:
        conn.sendall(data)
        try:
            while chunk := conn.recv(65536):
                received += chunk
        except TimeoutError:
            return received, False
    return received, True


def statuses(received: bytes) -> list[int]:
    return [int(code) for code in STATUS_LINE.findall(received)]


def chunked(body: bytes) -> bytes:
    return b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)


def post(framing: bytes, body: bytes) -> bytes:
    head = b"POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: %s\r\n%s\r\n\r\n"
    return head % (PROTOBUF.encode(), framing) + body


def _smuggling_cases() -> list[tuple[str, bytes]]:
    """(name, request) pairs whose framing a proxy in front could read differently."""
    body = chunked(protobuf(own_spans()))
    hidden = body + PIPELINED  # what a proxy framing by Content-Length counts as body
    cl, te = b"Content-Length: ", b"Transfer-Encoding:"
    n = b"%d" % len(hidden)
    return [
        ("CL.TE", post(cl + n + b"\r\n" + te + b" chunked", hidden)),
        ("TE.CL", post(te + b" chunked\r\n" + cl + n, hidden)),
        ("CL, folded TE", post(cl + n + b"\r\n" + te + b"\r\n chunked", hidden)),
        ("folded TE", post(te + b"\r\n chunked", body)),
        ("folded TE, tab", post(b"X-Pad: a\r\n" + te + b" identity\r\n\tchunked", body)),
        ("TE chunked, identity", post(te + b" chunked, identity", body)),
        ("TE xchunked", post(te + b" xchunked", body)),
        ("TE twice", post(te + b" chunked\r\n" + te + b" chunked", body)),
        ("CL 5 and 6", post(cl + b"5\r\n" + cl + b"6", b"12345")),
        ("CL twice", post(cl + b"5\r\n" + cl + b"5", b"12345")),
        ("CL list", post(cl + b"5, 5", b"12345")),
        ("bare LF", post(b"X-Pad: a\n" + te + b" chunked", body)),
    ]  # fmt: skip


SMUGGLING = _smuggling_cases()


@pytest.mark.parametrize(
    "request_bytes", [case for _, case in SMUGGLING], ids=[n for n, _ in SMUGGLING]
)
def test_ambiguous_framing_is_refused_and_the_connection_closed(
    served: tuple[BridgeProcess, ReconifySink], request_bytes: bytes
) -> None:
    bridge, sink = served
    refused, delivered = bridge.health().get("framing_refused", 0), len(sink.payloads)
    received, closed = exchange(bridge.address, request_bytes + PIPELINED)
    assert received.startswith(BAD_REQUEST)
    assert statuses(received) == [400]  # the pipelined request got no answer
    assert closed
    assert len(sink.payloads) == delivered  # the spans in the body went nowhere
    assert bridge.health()["framing_refused"] == refused + 1


def test_a_refused_request_pipelined_behind_a_good_one(
    served: tuple[BridgeProcess, ReconifySink],
) -> None:
    bridge, _ = served
    good = post(b"Content-Length: %d" % len(body := protobuf(own_spans())), body)
    smuggled = _smuggling_cases()[0][1]
    received, closed = exchange(bridge.address, good + smuggled + PIPELINED)
    assert statuses(received) == [200, 400]
    assert closed


@pytest.mark.parametrize(
    "framing",
    [b"Content-Length: %d", b"Transfer-Encoding: chunked", b"Transfer-Encoding: Chunked"],
)
def test_plain_framing_keeps_the_connection_and_answers_what_follows(
    served: tuple[BridgeProcess, ReconifySink], framing: bytes
) -> None:
    """The control: the same exchange with one unambiguous framing header."""
    bridge, sink = served
    delivered = len(sink.payloads)
    body = protobuf(own_spans())
    if b"chunked" in framing.lower():
        request = post(framing, chunked(body))
    else:
        request = post(framing % len(body), body)
    received, closed = exchange(bridge.address, request + PIPELINED)
    assert statuses(received) == [200, 200]
    assert closed  # asked by the pipelined request
    assert len(sink.payloads) > delivered


def test_the_app_itself_refuses_both_headers_under_another_server(
    start_bridge: BridgeFactory,
) -> None:
    """Under plain uvicorn (no ``StrictConnection``), the ASGI app answers 400 itself and
    asks the server to close: ``uvicorn reconify_otel...`` is covered too."""
    url, app = start_bridge()
    host, _, port = url.removeprefix("http://").partition(":")
    bearer = b"Authorization: Bearer %s\r\n" % TOKEN.encode()
    request = _smuggling_cases()[0][1].replace(b"\r\n", b"\r\n" + bearer, 1)
    received, closed = exchange((host, int(port)), request + PIPELINED)
    assert received.startswith(BAD_REQUEST)
    assert b"\r\nconnection: close\r\n" in received.lower()
    assert statuses(received) == [400]
    assert closed
    assert app.stats()["http_400"] == 1


# --- Host (DNS rebinding) without a token -----------------------------------------------

SERVED_HOSTS = [
    "localhost", "LOCALHOST", "localhost:4318", "localhost:1", "localhost:65535",
    "127.0.0.1", "127.0.0.1:80", "127.1.2.3:4318", "[::1]", "[::1]:4318", "[0:0:0:0:0:0:0:1]",
]  # fmt: skip
REFUSED_HOSTS = [
    "localhost:80@evil.com", "evil.com@localhost", "user@localhost", "localhost@evil.com",
    "localhost:80/evil.com", "localhost/", "localhost:", "localhost:0", "localhost:65536",
    "localhost:99999", "localhost:4318:4318", "localhost:+80", "localhost:\uff18\uff10",
    "::1", "::1:4318", "[::1", "[::1]:", "[::1]x", "[127.0.0.1]", "[::1%25lo]",
    "localhost.", "localhost.evil.com", "evil.com", "evil.com:4318", "127.0.0.1.nip.io",
    "127.1", "0x7f000001", "2130706433", "[2001:db8::1]:4318", "10.0.0.1",
    "localhost evil.com", "localhost,evil.com", "",
]  # fmt: skip


def host_status(bridge: BridgeProcess, host_lines: bytes) -> int:
    request = b"GET /healthz HTTP/1.1\r\n%sConnection: close\r\n\r\n" % host_lines
    received, _ = exchange(bridge.address, request)
    codes = statuses(received)
    assert len(codes) == 1, received[:200]
    return codes[0]


@pytest.mark.parametrize(
    ("host", "status"),
    [(h, 200) for h in SERVED_HOSTS] + [(h, 403) for h in REFUSED_HOSTS],
)
def test_without_a_token_only_a_strict_loopback_host_is_served(
    served: tuple[BridgeProcess, ReconifySink], host: str, status: int
) -> None:
    assert host_status(served[0], b"Host: %s\r\n" % host.encode()) == status


@pytest.mark.parametrize(
    "host_lines",
    [b"", b"Host: localhost\r\nHost: evil.com\r\n", b"Host: evil.com\r\nHost: localhost\r\n"],
    ids=["none", "loopback first", "loopback last"],
)
def test_no_host_or_two_hosts_are_refused(
    served: tuple[BridgeProcess, ReconifySink], host_lines: bytes
) -> None:
    # h11 answers these itself (HTTP/1.1 needs exactly one Host); the app refuses them too.
    assert host_status(served[0], host_lines) == 400
