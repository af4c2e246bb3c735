"""Sending against a real loopback sink that misbehaves on cue."""

from __future__ import annotations

import gzip
import json
import threading
import time

import pytest
from reconify_otel_testing.sink import Answer, ReconifySink

from reconify_otel.delivery.transport import Outcome, Transport, parse_retry_after
from reconify_otel.settings import resolve


def transport(sink: ReconifySink, **options: object) -> Transport:
    settings = resolve(endpoint=f"{sink.url}/track", app_key="a", api_key="b", **options)  # type: ignore[arg-type]
    sender = Transport(settings)
    sender.initial_backoff = 0.05
    return sender


def body(i: int) -> bytes:
    return json.dumps({"n": i}).encode()


def test_sends_every_body_once_concurrently(sink: ReconifySink) -> None:
    sender = transport(sink, concurrency=4)
    results = sender.send_all([body(i) for i in range(40)])
    assert [r.outcome for r in results] == [Outcome.ACCEPTED] * 40
    assert sorted(p["n"] for p in sink.payloads) == list(range(40))
    assert sink.attempts == 40
    headers = sink.received[0].headers
    assert headers["User-Agent"].startswith("reconify-otel/")
    assert headers["Content-Type"] == "application/json"
    sender.close()


def test_gzip(sink: ReconifySink) -> None:
    sender = transport(sink, compression="gzip")
    assert sender.send(body(1)).outcome is Outcome.ACCEPTED
    received = sink.received[0]
    assert received.headers["Content-Encoding"] == "gzip"
    assert received.body_size == len(gzip.compress(body(1), compresslevel=6))
    assert received.payload == {"n": 1}


def test_429_honours_retry_after(sink: ReconifySink) -> None:
    sink.script(Answer.status(429, headers={"Retry-After": "0.3"}))
    sender = transport(sink)
    started = time.monotonic()
    result = sender.send(body(1))
    assert result.outcome is Outcome.ACCEPTED and result.attempts == 2
    assert time.monotonic() - started >= 0.3
    assert sink.payloads == [{"n": 1}]


def test_503_then_200_retries(sink: ReconifySink) -> None:
    sink.script(Answer.status(503), Answer.status(502), Answer.status(504))
    result = transport(sink).send(body(1))
    assert (result.outcome, result.attempts, result.status) == (Outcome.ACCEPTED, 4, 200)
    assert sink.attempts == 4 and sink.payloads == [{"n": 1}]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 500])
def test_other_statuses_are_permanent(sink: ReconifySink, status: int) -> None:
    sink.script(Answer.status(status))
    result = transport(sink).send(body(1))
    assert (result.outcome, result.status, result.attempts) == (Outcome.REJECTED, status, 1)
    assert sink.attempts == 1 and sink.payloads == []


def test_2xx_with_another_status_is_a_rejection(
    sink: ReconifySink, caplog: pytest.LogCaptureFixture
) -> None:
    sink.script(Answer.reply(200, {"status": "error", "message": "bad appKey"}))
    result = transport(sink).send(body(1))
    assert (result.outcome, result.attempts) == (Outcome.REJECTED, 1)
    assert "did not accept" in caplog.text and "bad appKey" in caplog.text


def test_dropped_connection_is_retried(sink: ReconifySink) -> None:
    sink.script(Answer.drop(), Answer.drop())
    result = transport(sink).send(body(1))
    assert (result.outcome, result.attempts) == (Outcome.ACCEPTED, 3)
    assert sink.payloads == [{"n": 1}]


def test_hang_gives_up_within_the_deadline(sink: ReconifySink) -> None:
    sink.set_default(Answer.hang(10))
    sender = transport(sink, timeout=0.5)
    started = time.monotonic()
    result = sender.send(body(1))
    elapsed = time.monotonic() - started
    assert result.outcome is Outcome.FAILED
    assert elapsed < 5.0  # one 0.5 s deadline for all attempts, not the 10 s hang
    assert sink.payloads == []


def test_outage_longer_than_the_deadline_fails(sink: ReconifySink) -> None:
    sink.outage(30, status=503)
    result = transport(sink, timeout=0.6).send(body(1))
    assert result.outcome is Outcome.FAILED and result.status == 503
    assert result.attempts >= 2


def test_retry_after_beyond_the_deadline_gives_up_at_once(sink: ReconifySink) -> None:
    sink.script(Answer.status(503, headers={"Retry-After": "60"}))
    started = time.monotonic()
    result = transport(sink, timeout=2).send(body(1))
    assert (result.outcome, result.attempts, result.retry_after) == (Outcome.FAILED, 1, 60.0)
    assert time.monotonic() - started < 1.5  # not waiting out the 2 s deadline


def test_close_interrupts_backoff(sink: ReconifySink) -> None:
    sink.script(Answer.status(503, headers={"Retry-After": "5"}))
    sender = transport(sink, timeout=30)
    results = []
    worker = threading.Thread(target=lambda: results.append(sender.send(body(1))))
    worker.start()
    assert sink.wait_for_attempts(1, timeout=5)
    started = time.monotonic()
    sender.close()
    worker.join(timeout=5)
    assert time.monotonic() - started < 3.0  # not the 5 s Retry-After
    assert results[0].outcome is Outcome.SHUT_DOWN
    sender.close()  # idempotent
    assert sender.send_all([body(2), body(3)]) == [results[0].__class__(Outcome.SHUT_DOWN)] * 2


def test_parse_retry_after() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 0.5 ") == 0.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    future = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    assert 25 <= (parse_retry_after(future) or 0) <= 31
