"""An endpoint that is not Reconify, on purpose: redirects, drips, huge and foreign answers.

Every sender (exporter, handler, bridge, ``spool drain``) goes through ``RetryingSender``
and ``RequestsTransport``: none follows a redirect, none waits past its deadline, none
reads more than a small answer, and none counts as delivered what Reconify did not take.
The misbehaving servers are raw sockets on 127.0.0.1 (``hostile_server.Hostile``).
"""

from __future__ import annotations

import gzip
import logging
import resource
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export import SpanExportResult

from reconify_otel import ReconifySpanExporter, reconify_openai_handler
from reconify_otel.cli.main import main as cli
from reconify_otel.delivery.outcome import Outcome, Result
from reconify_otel.delivery.requests_transport import MAX_ANSWER_BYTES
from reconify_otel.runtime.counters import Counters
from reconify_otel.settings import resolve

from .helpers import API_KEY, APP_KEY, CURRENT, IN, OUT, make_span, run_dict
from .hostile_server import (
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
    silent,
    spooled,
)


@pytest.fixture
def hostile() -> Iterator[Callable[..., Hostile]]:
    started: list[Hostile] = []

    def start(behave: Behaviour, tls: ssl.SSLContext | None = None) -> Hostile:
        started.append(Hostile(behave, tls))
        return started[-1]

    yield start
    for server in started:
        server.close()


def events(counters: Counters) -> dict[str, int]:
    return {name: count for name, count in counters.snapshot().items() if count}


# Redirects ------------------------------------------------------------------------------

REDIRECTS = ["301 Moved Permanently", "302 Found", "303 See Other", "307 Temporary", "308 Perm"]


def redirecting(status: str, target: Hostile) -> Behaviour:
    location = f"Location: {target.url}/elsewhere?key=query-secret"
    return answering(reply(status, b"", location))


@pytest.mark.parametrize("status", REDIRECTS)
def test_a_redirect_is_never_followed_and_not_a_delivery(
    hostile: Callable[..., Hostile], status: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="reconify_otel")
    target = hostile(answering(reply("200 OK", OK)))
    redirector = hostile(redirecting(status, target))
    counters = Counters("test")
    code = int(status[:3])
    assert sender(redirector.url, counters).send(keyed_body()) == Result(Outcome.FAILED, code, 1)
    assert len(redirector.requests) == 1 and target.requests == []  # not re-POSTed, no GET
    assert events(counters) == {"redirected": 1}
    assert f"redirect to http://127.0.0.1:{target.port}/elsewhere" in caplog.text
    assert "query-secret" not in caplog.text and APP_KEY not in caplog.text


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("tls")
    try:
        subprocess.run(
            [
                *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
                *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
                *("-keyout", str(directory / "key.pem"), "-out", str(directory / "cert.pem")),
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError):
        pytest.skip("no openssl to make a loopback certificate")
    return directory


def test_an_https_endpoint_redirecting_to_http_gets_nothing_across(
    hostile: Callable[..., Hostile], certificate: Path
) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate / "cert.pem", certificate / "key.pem")
    target = hostile(answering(reply("200 OK", OK)))
    for status in ("307 Temporary Redirect", "308 Permanent Redirect", "302 Found"):
        redirector = hostile(redirecting(status, target), tls=context)
        counters = Counters("test")
        retrying = sender(redirector.url, counters, ca_bundle=str(certificate / "cert.pem"))
        result = retrying.send(keyed_body())
        assert result == Result(Outcome.FAILED, int(status[:3]), 1)
        assert APP_KEY.encode() in redirector.bodies()  # TLS worked: the keys went there
    assert target.requests == []


def test_the_exporter_spools_what_was_redirected_and_spool_drain_keeps_it(
    hostile: Callable[..., Hostile], private_spool: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = hostile(answering(reply("200 OK", OK)))
    redirector = hostile(redirecting("307 Temporary Redirect", target))
    exporter = ReconifySpanExporter(f"{redirector.url}/track", APP_KEY, API_KEY)
    assert exporter.export([make_span("openai.assistant.run", CURRENT)]) is (
        SpanExportResult.FAILURE
    )
    exporter.shutdown()
    stats = exporter.stats()
    assert (stats["accepted"], stats["spooled"], stats["redirected"]) == (
        0,
        1,
        len(redirector.requests),
    )
    assert spooled(private_spool) == 1
    # ``reconify-otel spool drain`` to the same endpoint: refused the same way, still kept.
    monkeypatch.setenv("RECONIFY_ENDPOINT", f"{redirector.url}/track")
    monkeypatch.setenv("RECONIFY_APP_KEY", APP_KEY)
    monkeypatch.setenv("RECONIFY_API_KEY", API_KEY)
    before = len(redirector.requests)
    assert cli(["spool", "drain"]) == 1  # the endpoint failed, the rest still waits
    assert len(redirector.requests) == before + 1
    assert spooled(private_spool) == 1 and target.requests == []


def test_the_handler_keeps_what_was_redirected(
    hostile: Callable[..., Hostile], private_spool: Path
) -> None:
    target = hostile(answering(reply("200 OK", OK)))
    redirector = hostile(redirecting("308 Permanent Redirect", target))
    handler = reconify_openai_handler(
        app_key=APP_KEY, api_key=API_KEY, endpoint=f"{redirector.url}/track"
    )
    assert handler.log_assistant(run_dict(), IN, OUT)
    handler.close(5)
    stats = handler.stats()
    assert (stats["accepted"], stats["spooled"]) == (0, 1)
    assert stats["redirected"] == len(redirector.requests) >= 1
    assert spooled(private_spool) == 1 and target.requests == []


def test_the_bridge_answers_503_to_a_redirect_and_never_follows_it(
    hostile: Callable[..., Hostile],
) -> None:
    from reconify_otel.bridge import create_app, resolve_config

    from .bridge_helpers import TOKEN, post, protobuf, running

    target = hostile(answering(reply("200 OK", OK)))
    redirector = hostile(redirecting("307 Temporary Redirect", target))
    settings = resolve(endpoint=f"{redirector.url}/track", app_key=APP_KEY, api_key=API_KEY)
    app = create_app(settings, config=resolve_config(token=TOKEN))
    with running(app) as url:
        answer = post(url, protobuf([make_span("openai.assistant.run", CURRENT)]))
    assert answer.status_code == 503
    assert app.counters.snapshot()["redirected"] == len(redirector.requests) == 1
    assert target.requests == []


# Bounds against a slow or huge answer ---------------------------------------------------

HEAD_OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
SLOW = {
    "drip-head": dripping(b"HTTP/1.1 2", b"00 OK\r\nX-Drip: " + b"a" * 1000),
    "drip-headers": dripping(HEAD_OK, b"X-Drip: " + b"a" * 1000),
    "drip-body": dripping(HEAD_OK + b"Content-Length: 100000\r\n\r\n", b'{"status":"ok"} '),
    "silent": silent,
}


@pytest.mark.parametrize("kind", list(SLOW))
def test_export_returns_within_export_timeout_whatever_the_endpoint_drips(
    hostile: Callable[..., Hostile], kind: str, private_spool: Path
) -> None:
    server = hostile(SLOW[kind])
    exporter = ReconifySpanExporter(f"{server.url}/track", APP_KEY, API_KEY, export_timeout=1.5)
    started = time.monotonic()
    result = exporter.export([make_span("openai.assistant.run", CURRENT)])
    took = time.monotonic() - started
    print(f"\n{kind}: export() returned in {took:.2f} s (export_timeout 1.5 s)")
    assert result is SpanExportResult.FAILURE
    assert took <= 1.5 + 2
    exporter.shutdown()
    assert (exporter.stats()["accepted"], exporter.stats()["spooled"]) == (0, 1)
    assert spooled(private_spool) == 1


def test_provider_shutdown_is_prompt_behind_a_dripping_endpoint(
    hostile: Callable[..., Hostile], private_spool: Path
) -> None:
    server = hostile(SLOW["drip-body"])
    exporter = ReconifySpanExporter(f"{server.url}/track", APP_KEY, API_KEY, export_timeout=1.5)
    provider = batching(exporter, 20, server)
    started = time.monotonic()
    provider.shutdown()
    took = time.monotonic() - started
    print(f"\nprovider.shutdown() took {took:.2f} s behind a dripping endpoint")
    assert took <= 1.5 + 3  # the export in flight ends at its deadline, not the SDK's 30 s
    assert exporter.stats()["accepted"] == 0
    assert spooled(private_spool) == exporter.stats()["spooled"] == 20


def test_the_handler_and_bridge_hold_the_same_bound(
    hostile: Callable[..., Hostile], private_spool: Path
) -> None:
    from reconify_otel.bridge import create_app, resolve_config

    from .bridge_helpers import TOKEN, post, protobuf, running

    server = hostile(SLOW["drip-headers"])
    handler = reconify_openai_handler(
        app_key=APP_KEY, api_key=API_KEY, endpoint=f"{server.url}/track", export_timeout=1.5
    )
    started = time.monotonic()
    assert handler.log_assistant(run_dict(), IN, OUT) and handler.flush(10)
    took = time.monotonic() - started
    print(f"\nhandler batch handled in {took:.2f} s (export_timeout 1.5 s)")
    assert took <= 1.5 + 2
    handler.close(5)
    assert (handler.stats()["accepted"], spooled(private_spool)) == (0, 1)

    settings = resolve(endpoint=f"{server.url}/track", app_key=APP_KEY, api_key=API_KEY, timeout=2)
    with running(create_app(settings, config=resolve_config(token=TOKEN))) as url:
        started = time.monotonic()
        spans = [
            make_span("openai.assistant.run", {**CURRENT, "gen_ai.response.1.id": f"msg_{n}"})
            for n in range(5)
        ]
        answer = post(url, protobuf(spans))
        took = time.monotonic() - started
    print(f"\nbridge answered {answer.status_code} in {took:.2f} s (timeout 2 s)")
    assert answer.status_code == 503 and took <= 2 + 2


def chunked_without_end(conn: Connection, stop: threading.Event) -> bool:
    """A 200 whose chunked body would be 1 GiB."""
    conn.sendall(HEAD_OK + b"Transfer-Encoding: chunked\r\n\r\n")
    chunk = b"%x\r\n" % (64 * 1024) + b" " * (64 * 1024) + b"\r\n"
    for _ in range(16 * 1024):
        conn.sendall(chunk)
    conn.sendall(b"0\r\n\r\n")
    return False


def test_a_huge_answer_is_read_only_up_to_a_small_cap(hostile: Callable[..., Hostile]) -> None:
    server = hostile(chunked_without_end)
    counters = Counters("test")
    retrying = sender(server.url, counters)
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    results = [retrying.send(keyed_body()) for _ in range(2)]
    took = time.monotonic() - started
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024
    time.sleep(0.2)  # the server notices the closed connection
    print(f"\n1 GiB answer x2: {took:.2f} s, peak RSS +{grown_mib:.1f} MiB, {server.sent} B sent")
    assert results == [Result(Outcome.FAILED, 200, 1)] * 2
    assert events(counters) == {"unconfirmed": 2}
    assert took < 5 and grown_mib < 50
    assert server.sent < 2 * 16 * 1024 * 1024  # far from 2 GiB: the client stopped reading
    assert server.connections == 2  # the half-read connection was closed, not pooled


# Answers that are not Reconify's ---------------------------------------------------------

NOT_RECONIFY = {
    "html": reply("200 OK", f"<html>Sign in {APP_KEY}</html>".encode(), "Content-Type: text/html"),
    "empty": reply("200 OK"),
    "no-status": reply("200 OK", b'{"ok": true}', "Content-Type: application/json"),
    "204": reply("204 No Content"),
    "cut-status-line": b"HTTP/1.1 200 O",
    "gzip-bomb": reply("200 OK", gzip.compress(b" " * 10_000_000), "Content-Encoding: gzip"),
    "brotli": reply("200 OK", OK, "Content-Encoding: br"),
}


@pytest.mark.parametrize("kind", list(NOT_RECONIFY))
def test_a_2xx_that_is_not_reconifys_answer_is_kept_not_counted_delivered(
    hostile: Callable[..., Hostile], kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="reconify_otel")
    server = hostile(answering(NOT_RECONIFY[kind]))
    counters = Counters("test")
    result = sender(server.url, counters).send(keyed_body())
    status = 204 if kind == "204" else 200
    assert result == Result(Outcome.FAILED, status, 1)
    assert events(counters) == {"unconfirmed": 1}
    assert len(server.requests) == 1  # kept for later, not hammered now
    assert "not counted as delivered" in caplog.text
    assert APP_KEY not in caplog.text and "Sign in" not in caplog.text


EARLY = b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
PROCESSING = b"HTTP/1.1 102 Processing\r\n\r\n"
INTERIM = {  # what came before (or instead of) an answer: a delivery, or kept; never rejected
    "103 then 200": (EARLY + EARLY + reply("200 OK", OK), Result(Outcome.ACCEPTED, 200, 1)),
    "102 then 200": (PROCESSING + reply("200 OK", OK), Result(Outcome.ACCEPTED, 200, 1)),
    "101 as the answer": (reply("101 Switching Protocols"), Result(Outcome.FAILED, 101, 1)),
    "11 times 103": (EARLY * 11 + reply("200 OK", OK), Result(Outcome.FAILED, None, 1)),
}


@pytest.mark.parametrize("kind", list(INTERIM))
def test_informational_answers_are_skipped_and_never_a_rejection(
    hostile: Callable[..., Hostile], kind: str, private_spool: Path
) -> None:
    data, expected = INTERIM[kind]
    server = hostile(answering(data))
    result = sender(server.url, Counters("test")).send(keyed_body(), single_attempt=True)
    assert result == expected
    exporter = ReconifySpanExporter(f"{server.url}/track", APP_KEY, API_KEY, export_timeout=1.5)
    exporter.export([make_span("openai.assistant.run", CURRENT)])
    exporter.shutdown()
    stats = exporter.stats()
    delivered = result.outcome is Outcome.ACCEPTED
    assert (stats["accepted"], stats["rejected"], stats["spooled"]) == (delivered, 0, 1 - delivered)


def test_a_2xx_cut_short_is_retried_then_kept(hostile: Callable[..., Hostile]) -> None:
    cut = reply("200 OK", OK)[:-3]  # Content-Length says more than arrives
    server = hostile(answering(cut))
    counters = Counters("test")
    result = sender(server.url, counters, timeout=1).send(keyed_body())
    assert (result.outcome, result.status) == (Outcome.FAILED, None)
    assert len(server.requests) == result.attempts >= 2
    assert "unconfirmed" not in events(counters)


def test_reconifys_answer_compressed_is_still_accepted_and_the_connection_reused(
    hostile: Callable[..., Hostile],
) -> None:
    answer = reply("200 OK", gzip.compress(OK), "Content-Encoding: gzip", close=False)
    server = hostile(answering(answer, keep=True))
    retrying = sender(server.url, Counters("test"))
    results = [retrying.send(keyed_body()) for _ in range(5)]
    assert results == [Result(Outcome.ACCEPTED, 200, 1)] * 5
    assert server.connections == 1  # a fully read answer leaves its connection pooled
    assert b"Accept-Encoding: identity" in server.requests[0]
    assert MAX_ANSWER_BYTES == 64 * 1024


def test_one_watchdog_thread_for_every_request(hostile: Callable[..., Hostile]) -> None:
    server = hostile(answering(reply("200 OK", OK, close=False), keep=True))
    retrying = sender(server.url, Counters("test"))
    for _ in range(50):
        assert retrying.send(keyed_body()).outcome is Outcome.ACCEPTED
    names = [thread.name for thread in threading.enumerate()]
    assert names.count("reconify-deadline") == 1
