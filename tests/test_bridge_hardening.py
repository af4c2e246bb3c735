"""The bridge facing the network: Host check, the Retry-After it answers (capped, or its
own default when Reconify is unreachable), retries in /healthz, linear decompression, the
memory budget and the one settings policy.

Most tests pin a finding of an adversarial run; the bridge is served for real by
uvicorn on 127.0.0.1 with a loopback sink as Reconify.
"""

from __future__ import annotations

import gzip
import logging
import re
import socket
import time
from pathlib import Path

import pytest
import requests

from reconify_otel.bridge import create_app, resolve_config, wire
from reconify_otel.bridge.config import BRIDGE_OPTIONS, BridgeConfig, loopback_host_header
from reconify_otel.offline.sink import Answer, ReconifySink
from reconify_otel.settings import resolve

from .bridge_helpers import TOKEN, BridgeFactory, own_spans, post, protobuf, running
from .helpers import API_KEY, APP_KEY

ROOT = Path(__file__).resolve().parent.parent

# --- Host header (DNS rebinding) --------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        "localhost",
        "LOCALHOST:4318",
        "127.0.0.1",
        "127.0.0.1:4318",
        "127.9.8.7:1",
        "[::1]",
        "[::1]:4318",
    ],
)
def test_loopback_host_headers(host: str) -> None:
    assert loopback_host_header(host)


@pytest.mark.parametrize(
    "host",
    [None, "", "attacker.example", "attacker.example:4318", "localhost.attacker.example",
     "127.0.0.1.nip.io", "10.0.0.1:4318", "[::1", "[2001:db8::1]:4318", "localhost:80:80",
     "localhost:80@evil.com", "localhost:80/x", "::1", "localhost:0", "[127.0.0.1]"],
)  # fmt: skip
def test_other_host_headers(host: str | None) -> None:
    assert not loopback_host_header(host)


def raw_get(url: str, host: str) -> int:
    """GET /healthz with exactly this Host header (requests would write its own)."""
    address = url.removeprefix("http://").partition(":")
    with socket.create_connection((address[0], int(address[2])), timeout=10) as conn:
        conn.sendall(f"GET /healthz HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        return int(conn.recv(100)[9:12])


def test_without_a_token_only_loopback_host_names_are_served(
    start_bridge: BridgeFactory,
) -> None:
    url, app = start_bridge(token=None)
    assert raw_get(url, "attacker.example") == 403
    assert raw_get(url, "attacker.example:4318") == 403
    rebound = post(url, protobuf(own_spans()), token=None, path="/v1/traces")
    assert rebound.status_code == 200  # requests writes Host: 127.0.0.1:port
    assert raw_get(url, "localhost:4318") == 200
    assert app.stats()["http_403"] == 2


def test_with_a_token_the_host_header_is_not_checked(start_bridge: BridgeFactory) -> None:
    url, _ = start_bridge()
    assert raw_get(url, "bridge.internal:4318") == 200


# --- Retry-After ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reconify_says", "bridge_says"),
    [("86400", "60"), ("Fri, 31 Dec 9999 23:59:59 GMT", "60"), ("inf", "5"), ("nan", "5")],
)
def test_retry_after_passed_on_is_capped_at_60_seconds(
    sink: ReconifySink, start_bridge: BridgeFactory, reconify_says: str, bridge_says: str
) -> None:
    url, _ = start_bridge()
    sink.script(*[Answer.status(503, headers={"Retry-After": reconify_says})] * 3)
    response = post(url, protobuf(own_spans()[:1]))
    assert (response.status_code, response.headers["Retry-After"]) == (503, bridge_says)


def test_unreachable_reconify_answers_503_with_the_default_retry_after() -> None:
    dead = ReconifySink().start()
    dead.stop()  # a closed port: connection refused, and no Retry-After from anyone
    settings = resolve(endpoint=f"{dead.url}/track", app_key=APP_KEY, api_key=API_KEY, timeout=0.3)
    with running(create_app(settings, config=resolve_config(token=TOKEN, retry_after=7))) as url:
        response = post(url, protobuf(own_spans()))
    assert (response.status_code, response.headers["Retry-After"]) == (503, "7")


def test_retries_towards_reconify_show_in_healthz(
    sink: ReconifySink, start_bridge: BridgeFactory
) -> None:
    url, _ = start_bridge(timeout=5.0)
    sink.script(Answer.status(503, headers={"Retry-After": "0"}))
    assert post(url, protobuf(own_spans()[:1])).status_code == 200
    health = requests.get(f"{url}/healthz", timeout=5).json()
    assert (health["retries"], health["accepted"]) == (1, 1)


def test_delivery_logs_name_the_endpoint_and_never_a_key(
    sink: ReconifySink, start_bridge: BridgeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    url, _ = start_bridge()
    sink.script(Answer.status(400, body=b"bad payload"))
    with caplog.at_level(logging.WARNING, logger="reconify_otel"):
        assert post(url, protobuf(own_spans()[:1])).status_code == 200
    assert f"{sink.url}/track" in caplog.text
    assert APP_KEY not in caplog.text and API_KEY not in caplog.text


# --- decompression ----------------------------------------------------------------------

EMPTY_MEMBER = gzip.compress(b"")


def test_many_empty_gzip_members_are_refused_not_decompressed_one_copy_each() -> None:
    """Before: each member copied the rest of the body (16.7 s for 4 MiB); now at most
    ``MAX_MEMBERS`` members are read, each from a piece of at most 64 KiB."""
    body = EMPTY_MEMBER * (4 * 1024 * 1024 // len(EMPTY_MEMBER))
    with pytest.raises(wire.BadRequest, match=f"more than {wire.MAX_MEMBERS} members"):
        wire.decode(body, wire.PROTOBUF, "gzip", 64 * 1024 * 1024)


def test_multi_member_bodies_within_the_cap_decode_whole() -> None:
    request = protobuf(own_spans())
    size = -(-len(request) // wire.MAX_MEMBERS)
    members = [request[i : i + size] for i in range(0, len(request), size)]
    body = b"".join(gzip.compress(m) for m in members)
    assert len(members) == wire.MAX_MEMBERS
    decoded = wire.decode(body, wire.PROTOBUF, "gzip", 1 << 20).SerializeToString()
    assert decoded == wire.decode(b"".join(members), wire.PROTOBUF, "", 1 << 20).SerializeToString()


def test_decompressed_bytes_and_parsing_are_reserved_before_they_are_held() -> None:
    request = protobuf(own_spans())
    reserved: list[int] = []
    wire.decode(gzip.compress(request), wire.PROTOBUF, "gzip", 1 << 20, reserved.append)
    assert sum(reserved) == len(request) * (1 + wire.PROTOBUF_PARSE_FACTOR)
    reserved.clear()
    wire.decode(request, wire.PROTOBUF, "", 1 << 20, reserved.append)
    assert reserved == [len(request) * wire.PROTOBUF_PARSE_FACTOR]


# --- the memory budget ------------------------------------------------------------------


def test_a_request_over_the_whole_budget_answers_413(start_bridge: BridgeFactory) -> None:
    body = protobuf(own_spans())
    url, app = start_bridge(max_request_memory=len(body) * 5)  # parsing needs 10x
    response = post(url, body)
    assert response.status_code == 413, response.text
    # The app gives the request's share back once the answer is sent: wait for that.
    deadline = time.monotonic() + 10
    while app.budget.used and time.monotonic() < deadline:
        time.sleep(0.02)
    assert (app.stats()["over_memory"], app.budget.used) == (1, 0)


def test_bytes_held_by_other_requests_answer_429(start_bridge: BridgeFactory) -> None:
    url, app = start_bridge(max_request_memory=300_000, max_body_bytes=1 << 20)
    host, _, port = url.removeprefix("http://").partition(":")
    with socket.create_connection((host, int(port)), timeout=10) as stalled:
        stalled.sendall(
            f"POST /v1/traces HTTP/1.1\r\nHost: b\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: {wire.PROTOBUF}\r\nContent-Length: 250000\r\n\r\n".encode()
            + bytes(200_000)
        )
        deadline = time.monotonic() + 10
        while app.stats()["request_memory"] < 200_000 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert app.stats()["request_memory"] == 200_000
        busy = post(url, bytes(150_000))
        assert (busy.status_code, busy.headers["Retry-After"]) == (429, "1")
    deadline = time.monotonic() + 10
    while app.budget.used and time.monotonic() < deadline:
        time.sleep(0.02)
    assert app.budget.used == 0  # the stalled request gave its share back


# --- one settings policy ----------------------------------------------------------------


def test_limits_come_from_arguments_then_environment_then_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RECONIFY_BRIDGE_HEADER_TIMEOUT", "2.5")
    monkeypatch.setenv("RECONIFY_BRIDGE_MAX_CONNECTIONS", "40")
    config = resolve_config(max_connections=7)
    assert (config.header_timeout, config.max_connections) == (2.5, 7)
    assert config.idle_timeout == BridgeConfig.idle_timeout
    monkeypatch.setenv("RECONIFY_BRIDGE_IDLE_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="RECONIFY_BRIDGE_IDLE_TIMEOUT"):
        resolve_config()
    with pytest.raises(TypeError, match="max_conections"):
        resolve_config(max_conections=3)


def test_docs_list_every_bridge_setting_with_its_default() -> None:
    text = (ROOT / "docs" / "collector.md").read_text()
    text = text[text.index("#### Bridge settings") :]
    text = text[: text.index("\n### ")]
    rows = dict(re.findall(r"^\| `(RECONIFY_BRIDGE_\w+)` \| ([^|]+) \|", text, re.MULTILINE))
    for option in BRIDGE_OPTIONS:
        default = getattr(BridgeConfig, option.name)
        mib = f"{default // (1024 * 1024)} MiB" if default >= 1024 * 1024 else None
        assert rows.get(option.env, "").strip() in {f"{default:g}", mib}, option.env
    assert set(rows) == {o.env for o in BRIDGE_OPTIONS} | {"RECONIFY_BRIDGE_TOKEN"}
