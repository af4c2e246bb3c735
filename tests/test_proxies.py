"""Proxies from the environment: the keys reach a proxy in clear never, and a proxy that
drips its answer to ``CONNECT`` holds no sender past its deadline.

The proxies are raw-socket servers on 127.0.0.1 (``hostile_server.Hostile``). The transport
reads ``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``NO_PROXY`` once, when its session is made (not
per request, as ``requests`` with ``trust_env`` would): each test sets them first, with
``monkeypatch``, then makes its sender.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar
from urllib.parse import unquote

import pytest
from opentelemetry.sdk.trace.export import SpanExportResult

from reconify_otel import ReconifySpanExporter, reconify_openai_handler
from reconify_otel.delivery.outcome import Outcome, Result
from reconify_otel.delivery.requests_transport import proxies_for
from reconify_otel.runtime.counters import Counters
from reconify_otel.settings import resolve

from .helpers import API_KEY, APP_KEY, CURRENT, IN, OUT, make_span, run_dict
from .hostile_server import (
    DRIP_EVERY,
    OK,
    Behaviour,
    Connection,
    Hostile,
    answering,
    batching,
    dripping,
    keyed_body,
    reply,
    sender,
    spooled,
)

REMOTE = "https://reconify.test/track"  # never resolved here: the proxy is asked for it
PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY")
# The proxy's answer to CONNECT, one byte every 0.5 s: far inside any per-read timeout.
CONNECT_DRIP = dripping(b"HTTP/1.1 2", b"00 Connection established\r\nX-Pad: " + b"a" * 1000)


def tunnel_then_tls_drip(conn: Connection, stop: threading.Event) -> bool:
    """CONNECT accepted in 1 s (dripped), then a 16 KiB TLS handshake record dripped: the
    handshake's own timeout, counted from its start, would let it run past the deadline."""
    conn.sendall(b"HTTP/1.1 200 Connection established\r\n")
    for byte in b"\r\n\x16\x03\x03\x40\x00" + b"\x02" * 1000:
        if stop.wait(DRIP_EVERY):
            break
        conn.sendall(bytes([byte]))
    return False


T = TypeVar("T")


@pytest.fixture
def proxy_env(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    for name in (*PROXY_VARIABLES, "NO_PROXY", "no_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)

    def use(**variables: str) -> None:
        for name, value in variables.items():
            monkeypatch.setenv(name, value)

    return use


@pytest.fixture
def hostile() -> Iterator[Callable[[Behaviour], Hostile]]:
    started: list[Hostile] = []

    def start(behave: Behaviour) -> Hostile:
        started.append(Hostile(behave))
        return started[-1]

    yield start
    for server in started:
        server.close()


def within(limit: float, call: Callable[[], T]) -> tuple[T, float]:
    """``call()``'s value and how long it took; fails (without hanging) past ``limit``."""
    outcome: list[T] = []
    started = time.monotonic()
    thread = threading.Thread(target=lambda: outcome.append(call()), daemon=True)
    thread.start()
    thread.join(limit)
    took = time.monotonic() - started
    assert outcome, f"still blocked after {took:.2f} s (limit {limit} s)"
    return outcome[0], took


# A proxy that drips its answer ---------------------------------------------------------


@pytest.mark.parametrize("drip", ["connect", "tls"])
def test_a_dripping_https_proxy_holds_export_no_longer_than_export_timeout(
    hostile: Callable[[Behaviour], Hostile],
    proxy_env: Callable[..., None],
    private_spool: Path,
    drip: str,
) -> None:
    proxy = hostile(CONNECT_DRIP if drip == "connect" else tunnel_then_tls_drip)
    proxy_env(HTTPS_PROXY=proxy.url)
    exporter = ReconifySpanExporter(REMOTE, APP_KEY, API_KEY, export_timeout=1.5, timeout=10)
    result, took = within(1.5 + 0.5, lambda: exporter.export([make_span("openai.chat", CURRENT)]))
    print(f"\n{drip} drip through HTTPS_PROXY: export() returned in {took:.2f} s (1.5 s)")
    assert result is SpanExportResult.FAILURE
    exporter.shutdown()
    stats = exporter.stats()
    assert (stats["accepted"], stats["failed"], stats["spooled"]) == (0, 1, 1)
    assert spooled(private_spool) == 1
    assert proxy.requests and proxy.requests[0].startswith(b"CONNECT reconify.test:443 ")
    assert APP_KEY.encode() not in proxy.bodies() and API_KEY.encode() not in proxy.bodies()


def test_provider_shutdown_is_prompt_behind_a_dripping_proxy(
    hostile: Callable[[Behaviour], Hostile], proxy_env: Callable[..., None], private_spool: Path
) -> None:
    proxy = hostile(CONNECT_DRIP)
    proxy_env(HTTPS_PROXY=proxy.url)
    exporter = ReconifySpanExporter(REMOTE, APP_KEY, API_KEY, export_timeout=1.5, timeout=10)
    provider = batching(exporter, 5, proxy)
    _, took = within(1.5 + 1.0, provider.shutdown)
    print(f"\nprovider.shutdown() took {took:.2f} s behind a dripping proxy")
    assert exporter.stats()["accepted"] == 0
    assert spooled(private_spool) == exporter.stats()["spooled"] == 5


def test_the_handler_and_bridge_hold_their_bound_behind_a_dripping_proxy(
    hostile: Callable[[Behaviour], Hostile], proxy_env: Callable[..., None], private_spool: Path
) -> None:
    from reconify_otel.bridge import create_app, resolve_config

    from .bridge_helpers import TOKEN, post, protobuf, running

    proxy = hostile(CONNECT_DRIP)
    proxy_env(HTTPS_PROXY=proxy.url)
    handler = reconify_openai_handler(
        app_key=APP_KEY, api_key=API_KEY, endpoint=REMOTE, export_timeout=1.5, timeout=10
    )
    assert handler.log_assistant(run_dict(), IN, OUT)
    flushed, took = within(1.5 + 0.5, lambda: handler.flush(10))
    print(f"\nhandler flush() returned {flushed} in {took:.2f} s behind a dripping proxy")
    assert flushed
    handler.close(5)
    assert (handler.stats()["accepted"], handler.stats()["spooled"]) == (0, 1)

    settings = resolve(endpoint=REMOTE, app_key=APP_KEY, api_key=API_KEY, timeout=2)
    with running(create_app(settings, config=resolve_config(token=TOKEN))) as url:
        spans = [make_span("openai.assistant.run", CURRENT)]
        answer, took = within(2 + 0.5, lambda: post(url, protobuf(spans)))
    print(f"\nbridge answered {answer.status_code} in {took:.2f} s behind a dripping proxy")
    assert answer.status_code == 503  # the Collector keeps the batch and retries it
    assert APP_KEY.encode() not in proxy.bodies()


# Where the keys go in clear ------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_loopback_endpoint_never_goes_through_a_proxy(
    hostile: Callable[[Behaviour], Hostile],
    proxy_env: Callable[..., None],
    caplog: pytest.LogCaptureFixture,
    host: str,
) -> None:
    caplog.set_level(logging.DEBUG, logger="reconify_otel")
    proxy = hostile(answering(reply("200 OK", OK)))  # would answer for the endpoint
    endpoint = hostile(answering(reply("200 OK", OK)))
    proxy_env(HTTP_PROXY=proxy.url, HTTPS_PROXY=proxy.url, ALL_PROXY=proxy.url)
    url = endpoint.url.replace("127.0.0.1", host)
    exporter = ReconifySpanExporter(f"{url}/track", APP_KEY, API_KEY, export_timeout=1.5)
    assert exporter.export([make_span("openai.chat", CURRENT)]) is SpanExportResult.SUCCESS
    exporter.shutdown()
    assert exporter.stats()["accepted"] == 1 and exporter.stats()["failed"] == 0
    assert proxy.requests == [] and proxy.connections == 0  # 0 bytes of keys
    assert len(endpoint.requests) == 1 and APP_KEY.encode() in endpoint.bodies()
    assert APP_KEY not in caplog.text and API_KEY not in caplog.text


def test_plain_http_to_another_host_never_goes_through_a_proxy(
    hostile: Callable[[Behaviour], Hostile], proxy_env: Callable[..., None]
) -> None:
    """``allow_insecure``: the keys go in clear to the host named, not to a proxy too."""
    proxy = hostile(answering(reply("200 OK", OK)))
    proxy_env(HTTP_PROXY=proxy.url, ALL_PROXY=proxy.url)
    counters = Counters("test")
    settings = resolve(
        endpoint="http://reconify.test:9/track",
        app_key=APP_KEY,
        api_key=API_KEY,
        allow_insecure=True,
        timeout=0.5,
    )
    from reconify_otel.delivery.retry import RetryingSender

    result = RetryingSender(settings, counters).send(keyed_body(), single_attempt=True)
    assert result == Result(Outcome.FAILED, None, 1)  # no such host here: not the proxy's 200
    assert proxy.requests == [] and proxy.connections == 0


def test_which_endpoints_use_the_environments_proxy(proxy_env: Callable[..., None]) -> None:
    proxy_env(HTTPS_PROXY="http://proxy.corp:3128", HTTP_PROXY="http://proxy.corp:3128")
    assert proxies_for(REMOTE)["https"] == "http://proxy.corp:3128"  # corporate networks
    for endpoint in (
        "https://127.0.0.1/track",
        "https://localhost:8443/track",
        "https://[::1]/track",
        "http://127.0.0.2:4999/track",
        "http://reconify.test/track",
    ):
        assert proxies_for(endpoint) == {}, endpoint
    proxy_env(NO_PROXY="reconify.test")
    assert proxies_for(REMOTE) == {}


def test_a_proxy_asking_for_credentials_keeps_the_payload(
    hostile: Callable[[Behaviour], Hostile],
    caplog: pytest.LogCaptureFixture,
    private_spool: Path,
) -> None:
    """407 is the network's misconfiguration, not Reconify refusing the payload."""
    caplog.set_level(logging.WARNING, logger="reconify_otel")
    server = hostile(
        answering(reply("407 Proxy Authentication Required", b"", "Proxy-Authenticate: Basic"))
    )
    counters = Counters("test")
    assert sender(server.url, counters).send(keyed_body()) == Result(Outcome.FAILED, 407, 1)
    assert "proxy" in caplog.text and "kept" in caplog.text
    exporter = ReconifySpanExporter(f"{server.url}/track", APP_KEY, API_KEY, export_timeout=1.5)
    assert exporter.export([make_span("openai.chat", CURRENT)]) is SpanExportResult.FAILURE
    exporter.shutdown()
    stats = exporter.stats()
    assert (stats["accepted"], stats["rejected"], stats["failed"], stats["spooled"]) == (0, 0, 1, 1)
    assert spooled(private_spool) == 1


# What the log shows of a hostile answer --------------------------------------------------

ENCODED = "".join(f"%{ord(char):02X}" for char in APP_KEY)
LOGGED = {  # the answer's header -> what the log line shows instead
    f"Content-Type: text/html; {APP_KEY}": "(text/html)",
    f"Content-Type: {APP_KEY.upper()}/json": "(other)",
    f"Content-Type: text/html{APP_KEY}": "(other)",
    "Content-Type: <b>": "(other)",
    f"Location: http://127.0.0.1:9/{ENCODED}": "redirect to http://127.0.0.1:9/...:",
    f"Location: http://127.0.0.1:9/{ENCODED.replace('%', '%25')}": "to http://127.0.0.1:9/...:",
    f"Location: /{APP_KEY.upper()}": "redirect to http://127.0.0.1:PORT/***:",
}


@pytest.mark.parametrize("header", list(LOGGED))
def test_the_log_shows_no_key_however_an_answer_encodes_it(
    hostile: Callable[[Behaviour], Hostile], caplog: pytest.LogCaptureFixture, header: str
) -> None:
    caplog.set_level(logging.WARNING, logger="reconify_otel")
    status = "307 Temporary Redirect" if header.startswith("Location") else "200 OK"
    server = hostile(answering(reply(status, b"<html></html>", header)))
    result = sender(server.url, Counters("test")).send(keyed_body())
    assert result == Result(Outcome.FAILED, int(status[:3]), 1)
    assert LOGGED[header].replace("PORT", str(server.port)) in caplog.text
    text = caplog.text.lower()
    for _ in range(3):
        text = unquote(text)
    assert APP_KEY.lower() not in text and API_KEY.lower() not in text
