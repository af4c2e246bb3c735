"""The bridge served for real on 127.0.0.1, abused at the HTTP level: compression bombs,
bodies that are not what their encoding says, unknown encodings, a span with 100,000
attributes, and broken framing on a raw socket (lying Content-Length, cut chunks, stalled
uploads). Each case asserts the one answer it must get (or that the connection closes
unanswered); never a 5xx. One bridge serves the module; after the campaign it is healthy
and delivers a valid batch exactly once. Body-level fuzzing is in test_fuzz_bridge.py.
"""

from __future__ import annotations

import gzip
import json
import socket
import struct
import time
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from reconify_otel.bridge import create_app, resolve_config
from reconify_otel.core import attributes as A
from reconify_otel.offline.sink import ReconifySink
from reconify_otel.settings import resolve

from .bridge_helpers import (
    FUZZ_MAX_BYTES,
    PROTOBUF,
    TOKEN,
    CampaignBridge,
    assert_healthy_and_delivering_once,
    campaign_bridge,
    one_span_request,
    own_spans,
    protobuf,
    running,
)
from .helpers import API_KEY, APP_KEY

MIB = 1024 * 1024
MAX_BODY = MAX_DECOMPRESSED = FUZZ_MAX_BYTES
VALID = protobuf(own_spans())
OUTPUT_OK = json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": "hi"}]}])


@pytest.fixture(scope="module")
def bridge() -> Iterator[CampaignBridge]:
    with campaign_bridge() as started:
        yield started


# --- compression -----------------------------------------------------------------------------


def zero_bomb(wbits: int, size: int = 1 << 30) -> bytes:
    """``size`` zero bytes compressed, built in ~0.2 s: the compressor's output for one
    MiB after a full flush does not depend on what came before, so it is repeated."""
    chunk = bytes(MIB)
    compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
    head = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    segment = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    count = size // MIB
    crc = 0
    for _ in range(count):
        crc = zlib.crc32(chunk, crc)
    adler = 1
    for _ in range(count):
        adler = zlib.adler32(chunk, adler)
    body = head + segment * (count - 1) + b"\x03\x00"  # an empty final block
    if wbits > 15:  # gzip trailer
        return body + struct.pack("<II", crc, size & 0xFFFFFFFF)
    if wbits > 0:  # zlib trailer
        return body + struct.pack(">I", adler)
    return body  # raw deflate


def test_the_bomb_builder_is_right() -> None:
    small = zero_bomb(16 + zlib.MAX_WBITS, 4 * MIB)
    assert gzip.decompress(small) == bytes(4 * MIB)
    assert zlib.decompress(zero_bomb(zlib.MAX_WBITS, 4 * MIB)) == bytes(4 * MIB)
    assert zlib.decompress(zero_bomb(-zlib.MAX_WBITS, 4 * MIB), -zlib.MAX_WBITS) == bytes(4 * MIB)


@pytest.mark.parametrize(
    ("wbits", "encoding"),
    [(16 + zlib.MAX_WBITS, "gzip"), (zlib.MAX_WBITS, "deflate"), (-zlib.MAX_WBITS, "deflate")],
    ids=["gzip", "deflate-zlib", "deflate-raw"],
)
def test_one_gibibyte_bombs_answer_413(bridge: CampaignBridge, wbits: int, encoding: str) -> None:
    body = zero_bomb(wbits)
    assert len(body) < MAX_BODY
    response = bridge.post(body, encoding=encoding)
    assert response.status_code == 413, response.text


def test_many_small_gzip_members_add_up_to_a_bomb(bridge: CampaignBridge) -> None:
    member = gzip.compress(bytes(MIB))
    body = member * (MAX_DECOMPRESSED // MIB + 4)
    assert bridge.post(body, encoding="gzip").status_code == 413


@pytest.mark.parametrize(
    ("body", "encoding", "status"),
    [
        (b"\x1f\x8b\x08\x00not gzip at all", "gzip", 400),
        (VALID, "gzip", 400),  # plain protobuf declared gzip
        (VALID, "deflate", 400),
        (gzip.compress(VALID), "deflate", 400),  # gzip declared deflate
        (zlib.compress(VALID), "gzip", 400),
        (gzip.compress(VALID) + b"\x00" * 8, "gzip", 400),  # trailing padding
        (gzip.compress(VALID) + b"garbage", "gzip", 400),
        (gzip.compress(VALID)[:-4], "gzip", 400),  # trailer cut
        (b"", "gzip", 200),  # nothing to inflate: an empty request, as OTLP allows
        (b"", "deflate", 200),
    ],
    ids=lambda value: value if isinstance(value, str) else f"{value!r}"[:16],
)
def test_bodies_that_are_not_what_their_encoding_says(
    bridge: CampaignBridge, body: bytes, encoding: str, status: int
) -> None:
    response = bridge.post(body, encoding=encoding)
    assert response.status_code == status, response.text


@pytest.mark.parametrize(
    "encoding",
    ["br", "zstd", "x-gzip", "gzip, gzip", "gzip;q=1", "compress", "a" * 8000, "gzíp", "ident"],
)
def test_unknown_content_encodings_answer_415(bridge: CampaignBridge, encoding: str) -> None:
    headers = {
        "Content-Type": PROTOBUF,
        "Authorization": f"Bearer {TOKEN}",
        "Content-Encoding": encoding.encode("utf-8").decode("latin-1"),
    }
    response = bridge.http.post(f"{bridge.url}/v1/traces", data=VALID, headers=headers, timeout=10)
    assert response.status_code == 415, response.text


def test_encoding_names_are_case_and_space_insensitive(bridge: CampaignBridge) -> None:
    body = protobuf(own_spans())  # fresh ids
    before = len(bridge.sink.payloads)
    assert bridge.post(gzip.compress(body), encoding="GZip").status_code == 200
    assert len(bridge.sink.payloads) == before + 3


# --- huge attribute counts -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "make_key"),
    [
        ("openai.assistant.run", "noise.{}".format),
        ("openai.assistant.run", "gen_ai.response.{}.id".format),
        ("openai.assistant.run_stream", "gen_ai.completion.{}.content".format),
        ("invoke_agent X", "noise.{}".format),
    ],
    ids=["noise", "response-ids", "completions", "invoke-agent"],
)
def test_a_span_with_100k_attributes(bridge: CampaignBridge, name: str, make_key: Any) -> None:
    pairs = [(make_key(i), AnyValue(string_value=f"v{i}")) for i in range(100_000)]
    pairs.append((A.OUTPUT_MESSAGES, AnyValue(string_value=OUTPUT_OK)))
    pairs.append((A.RUN_ID, AnyValue(string_value="run_many")))
    body = one_span_request(name, pairs)
    assert len(body) < MAX_BODY
    before = len(bridge.sink.payloads)
    response = bridge.post(body)
    assert response.status_code == 200, response.text
    assert len(bridge.sink.payloads) == before + 1


# --- broken HTTP on a raw socket -------------------------------------------------------------


def raw_exchange(
    bridge: CampaignBridge, head: bytes, body: bytes, *, half_close: bool = True
) -> bytes:
    with socket.create_connection(bridge.address, timeout=5) as conn:
        conn.sendall(head + body)
        if half_close:
            conn.shutdown(socket.SHUT_WR)
        answer = b""
        try:
            while chunk := conn.recv(65536):
                answer += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    return answer


def request_head(content_length: str, extra: str = "") -> bytes:
    return (
        "POST /v1/traces HTTP/1.1\r\nHost: bridge\r\n"
        f"Content-Type: {PROTOBUF}\r\nAuthorization: Bearer {TOKEN}\r\n"
        f"Content-Length: {content_length}\r\n{extra}\r\n"
    ).encode()


def status_of(answer: bytes) -> int | None:
    if not answer.startswith(b"HTTP/1.1 "):
        return None
    return int(answer[9:12])


# None: the client closed its side mid-body, so nobody is left to answer; the connection
# is closed without one. Clients that stay get their answer (and ask it to close).
@pytest.mark.parametrize(
    ("content_length", "sent", "stays", "status"),
    [
        ("1000", VALID[:10], False, None),  # claims more than it sends, then closes its side
        ("1000", b"", False, None),
        (str(MAX_BODY + 1), b"x", True, 413),  # over the cap: refused before the body
        ("99999999999999999999999", b"x", False, 400),
        ("-5", b"", False, 400),
        ("abc", b"", False, 400),
        ("5, 6", b"12345", False, 400),
        ("0", b"", True, 200),  # an empty body is an empty OTLP request
    ],
)
def test_content_length_lies(
    bridge: CampaignBridge, content_length: str, sent: bytes, stays: bool, status: int | None
) -> None:
    head = request_head(content_length, "Connection: close\r\n" if stays else "")
    assert status_of(raw_exchange(bridge, head, sent, half_close=not stays)) == status


def test_chunked_body_cut_short(bridge: CampaignBridge) -> None:
    head = (
        "POST /v1/traces HTTP/1.1\r\nHost: bridge\r\n"
        f"Content-Type: {PROTOBUF}\r\nAuthorization: Bearer {TOKEN}\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()
    # The client closed its side mid-chunk: no answer, the connection is closed.
    assert status_of(raw_exchange(bridge, head, b"400\r\n" + VALID[:20])) is None


def test_regression_stalled_uploads_do_not_hold_the_slots() -> None:
    """A request counted as in flight before its body was read, and nothing bounded how
    long a body could take: two clients stalled mid-body (a Collector cut off by the
    network) kept a bridge with ``max_in_flight=2`` answering 429 to everyone."""
    with ReconifySink() as sink:
        settings_ = resolve(endpoint=f"{sink.url}/track", app_key=APP_KEY, api_key=API_KEY)
        app = create_app(settings_, config=resolve_config(token=TOKEN, max_in_flight=2))
        with running(app) as url:
            bridge = CampaignBridge(url, app, sink)
            stalled = [socket.create_connection(bridge.address, timeout=5) for _ in range(2)]
            try:
                for conn in stalled:
                    conn.sendall(request_head("1000") + b"x")
                time.sleep(0.3)
                response = bridge.post(protobuf(own_spans()))
            finally:
                for conn in stalled:
                    conn.close()
            assert response.status_code == 200


def test_a_stalled_upload_is_answered_408_after_the_body_timeout() -> None:
    with ReconifySink() as sink:
        settings_ = resolve(endpoint=f"{sink.url}/track", app_key=APP_KEY, api_key=API_KEY)
        app = create_app(settings_, config=resolve_config(token=TOKEN, body_timeout=0.3))
        with running(app) as url:
            bridge = CampaignBridge(url, app, sink)
            with socket.create_connection(bridge.address, timeout=5) as conn:
                conn.sendall(request_head("1000") + b"x")
                answer = conn.recv(200)
            assert answer.startswith(b"HTTP/1.1 408")
            assert app.stats()["body_timeouts"] == 1


# --- after the campaign --------------------------------------------------------------------


def test_after_the_campaign_the_bridge_is_healthy_and_delivers_once(
    bridge: CampaignBridge,
) -> None:
    assert_healthy_and_delivering_once(bridge)
