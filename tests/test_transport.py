"""Sending against a real loopback sink that misbehaves on cue: the HTTP client, the retry
policy in front of it, and the fan-out that spreads payloads over threads."""

from __future__ import annotations

import gzip
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping

import pytest

from reconify_otel import ReconifySpanExporter, reconify_openai_handler
from reconify_otel.delivery.fanout import FanOut
from reconify_otel.delivery.outcome import DEFERRED, Outcome, Result
from reconify_otel.delivery.retry import MAX_RETRY_AFTER, RetryingSender, parse_retry_after
from reconify_otel.delivery.transport import HttpAnswer, Unreachable, shown_endpoint
from reconify_otel.offline.sink import Answer, ReconifySink
from reconify_otel.settings import Settings, resolve

from .helpers import API_KEY, APP_KEY, CURRENT, IN, OUT, make_span, run_dict


def settings_for(sink: ReconifySink, **options: object) -> Settings:
    return resolve(endpoint=f"{sink.url}/track", app_key="a", api_key="b", **options)


def sender(sink: ReconifySink, **options: object) -> RetryingSender:
    retrying = RetryingSender(settings_for(sink, **options))
    retrying.initial_backoff = 0.05
    return retrying


def body(i: int) -> bytes:
    return json.dumps({"n": i}).encode()


class UrllibTransport:
    """Another real HTTP client, injected where ``requests`` is the default."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.posts = 0

    def post(self, body: bytes, headers: Mapping[str, str], timeout: float) -> HttpAnswer:
        self.posts += 1
        request = urllib.request.Request(self.url, data=body, headers=dict(headers))
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                return HttpAnswer(answer.status, dict(answer.headers), answer.read().decode())
        except urllib.error.HTTPError as error:
            return HttpAnswer(error.code, dict(error.headers), error.read().decode())
        except OSError as error:
            raise Unreachable(type(error).__name__) from None

    def close(self) -> None:
        pass


def test_sends_every_body_once_concurrently(sink: ReconifySink) -> None:
    retrying = sender(sink, concurrency=4)
    fanout = FanOut(4)
    results = fanout.map(retrying.send, [body(i) for i in range(40)])
    assert [r.outcome for r in results] == [Outcome.ACCEPTED] * 40
    assert sorted(p["n"] for p in sink.payloads) == list(range(40))
    assert sink.attempts == 40
    headers = sink.received[0].headers
    assert headers["User-Agent"].startswith("reconify-otel/")
    assert headers["Content-Type"] == "application/json"
    retrying.close()
    fanout.close()


def test_an_injected_transport_carries_every_request(sink: ReconifySink) -> None:
    client = UrllibTransport(f"{sink.url}/track")
    sink.script(Answer.status(503, headers={"Retry-After": "0"}))
    retrying = RetryingSender(settings_for(sink), transport=client)
    assert retrying.send(body(7)) == Result(Outcome.ACCEPTED, 200, 2)
    assert client.posts == 2 and sink.payloads == [{"n": 7}]


def test_the_exporter_and_handler_take_an_injected_transport(sink: ReconifySink) -> None:
    client = UrllibTransport(f"{sink.url}/track")
    exporter = ReconifySpanExporter(f"{sink.url}/track", APP_KEY, API_KEY, transport=client)
    exporter.export([make_span("openai.assistant.run", CURRENT)])
    assert client.posts == 1 and sink.accepted == 1
    assert exporter.stats()["accepted"] == 1
    exporter.shutdown()
    handler = reconify_openai_handler(
        app_key=APP_KEY, api_key=API_KEY, endpoint=f"{sink.url}/track", transport=client
    )
    assert handler.log_assistant(run_dict(), IN, OUT) and handler.flush(10)
    assert client.posts == 2 and sink.accepted == 2
    handler.close(5)


def test_gzip(sink: ReconifySink) -> None:
    retrying = sender(sink, compression="gzip")
    assert retrying.send(body(1)).outcome is Outcome.ACCEPTED
    received = sink.received[0]
    assert received.headers["Content-Encoding"] == "gzip"
    assert received.body_size == len(gzip.compress(body(1), compresslevel=6))
    assert received.payload == {"n": 1}


def test_429_honours_retry_after(sink: ReconifySink) -> None:
    sink.script(Answer.status(429, headers={"Retry-After": "0.3"}))
    started = time.monotonic()
    result = sender(sink).send(body(1))
    assert result.outcome is Outcome.ACCEPTED and result.attempts == 2
    assert time.monotonic() - started >= 0.3  # it waited as asked
    assert sink.payloads == [{"n": 1}]


def test_503_then_200_retries(sink: ReconifySink) -> None:
    sink.script(Answer.status(503), Answer.status(502), Answer.status(504))
    result = sender(sink).send(body(1))
    assert (result.outcome, result.attempts, result.status) == (Outcome.ACCEPTED, 4, 200)
    assert sink.attempts == 4 and sink.payloads == [{"n": 1}]


def test_a_single_attempt_probe_does_not_retry(sink: ReconifySink) -> None:
    sink.script(Answer.status(503))
    result = sender(sink).send(body(1), single_attempt=True)
    assert (result.outcome, result.attempts, result.status) == (Outcome.FAILED, 1, 503)
    assert sink.attempts == 1


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 500])
def test_other_statuses_are_permanent(sink: ReconifySink, status: int) -> None:
    sink.script(Answer.status(status))
    result = sender(sink).send(body(1))
    assert (result.outcome, result.status, result.attempts) == (Outcome.REJECTED, status, 1)
    assert sink.attempts == 1 and sink.payloads == []


def test_2xx_with_another_status_is_a_rejection_logged_with_the_endpoint(
    sink: ReconifySink, caplog: pytest.LogCaptureFixture
) -> None:
    sink.script(Answer.reply(200, {"status": "error", "message": "bad appKey"}))
    result = sender(sink).send(body(1))
    assert (result.outcome, result.attempts) == (Outcome.REJECTED, 1)
    assert "did not accept" in caplog.text and "bad appKey" in caplog.text
    assert f"{sink.url}/track" in caplog.text


def test_dropped_connection_is_retried(sink: ReconifySink) -> None:
    sink.script(Answer.drop(), Answer.drop())
    result = sender(sink).send(body(1))
    assert (result.outcome, result.attempts) == (Outcome.ACCEPTED, 3)
    assert sink.payloads == [{"n": 1}]


def test_hang_gives_up_at_the_deadline(sink: ReconifySink) -> None:
    sink.set_default(Answer.hang(10))
    result = sender(sink, timeout=0.5).send(body(1))
    assert (result.outcome, result.status) == (Outcome.FAILED, None)
    assert sink.payloads == []


def test_retry_after_beyond_the_deadline_gives_up_after_one_attempt(sink: ReconifySink) -> None:
    sink.script(Answer.status(503, headers={"Retry-After": "60"}))
    result = sender(sink, timeout=2).send(body(1))
    assert (result.outcome, result.attempts, result.retry_after) == (Outcome.FAILED, 1, 60.0)
    assert sink.attempts == 1


def test_close_interrupts_backoff(sink: ReconifySink) -> None:
    sink.script(Answer.status(503, headers={"Retry-After": "30"}))
    retrying = sender(sink, timeout=60)
    results: list[Result] = []
    worker = threading.Thread(target=lambda: results.append(retrying.send(body(1))))
    worker.start()
    assert sink.wait_for_attempts(1, timeout=5)
    retrying.close()
    worker.join(timeout=20)  # far less than the 30 s Retry-After
    assert not worker.is_alive()
    assert results == [Result(Outcome.SHUT_DOWN, 503, 1, 30.0)]
    retrying.close()  # idempotent
    assert retrying.send(body(2)) == Result(Outcome.SHUT_DOWN)
    assert sink.attempts == 1


def test_deferred_is_its_own_outcome_not_a_failure() -> None:
    assert DEFERRED.outcome is Outcome.DEFERRED
    assert Result(Outcome.FAILED) != DEFERRED
    assert {o for o in Outcome if o.undelivered} == {
        Outcome.FAILED,
        Outcome.DEFERRED,
        Outcome.SHUT_DOWN,
    }


def test_a_fanout_closed_mid_map_still_returns_every_result() -> None:
    fanout = FanOut(8)
    release = threading.Event()

    def work(n: int) -> int:
        if n == 0:
            fanout.close()  # cancels helpers not yet started
            release.set()
        release.wait(5)
        time.sleep(0.01)
        return n * 2

    assert fanout.map(work, list(range(50))) == [n * 2 for n in range(50)]


def test_fanout_uses_one_thread_for_fast_work_and_more_for_slow() -> None:
    fanout = FanOut(8)
    names: set[str] = set()

    def fast(n: int) -> int:
        names.add(threading.current_thread().name)
        return n

    for _ in range(30):  # the estimate starts as a WAN would look, then follows
        fanout.map(fast, list(range(20)))
    names.clear()
    fanout.map(fast, list(range(20)))
    assert fanout.parallelism() == 1
    assert names == {threading.current_thread().name}

    def slow(n: int) -> int:
        time.sleep(0.01)
        return n

    for _ in range(3):
        fanout.map(slow, list(range(20)))
    assert fanout.parallelism() == 8
    fanout.close()


def test_parse_retry_after() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 0.5 ") == 0.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("-5") == 0.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    future = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    assert 25 <= (parse_retry_after(future) or 0) <= 31


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "Infinity", "1e999"])
def test_retry_after_that_is_not_a_finite_number_is_ignored(value: str) -> None:
    assert parse_retry_after(value) is None


def test_a_huge_retry_after_is_capped() -> None:
    assert parse_retry_after("86400000") == MAX_RETRY_AFTER
    assert parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT") == MAX_RETRY_AFTER


def test_a_naive_http_date_is_read_as_gmt() -> None:
    # "-0000" makes email.utils return a naive datetime: read as local time it would be
    # off by the machine's UTC offset.
    future = time.strftime("%a, %d %b %Y %H:%M:%S -0000", time.gmtime(time.time() + 30))
    assert 25 <= (parse_retry_after(future) or 0) <= 31


def test_the_endpoint_shown_in_logs_has_no_query_or_user_info() -> None:
    assert shown_endpoint("https://u:secret@h.example:8443/track?key=k") == (
        "https://h.example:8443/track"
    )
