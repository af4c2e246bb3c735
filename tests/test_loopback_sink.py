"""The loopback Reconify sink, driven over real HTTP with requests."""

from __future__ import annotations

import gzip
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from reconify_otel.offline.sink import Answer, Attempt, ReconifySink

OK = {"status": "ok"}


@pytest.fixture
def sink() -> Iterator[ReconifySink]:
    with ReconifySink() as s:
        yield s


def post(sink: ReconifySink, payload: object) -> requests.Response:
    return requests.post(f"{sink.url}/track", json=payload, timeout=5)


def test_records_payload_headers_path_and_size_exactly(sink: ReconifySink) -> None:
    payload = {"appKey": "k", "apiKey": "a", "request": {"messages": [{"role": "user"}]}, "n": 1}
    body = json.dumps(payload).encode()
    before = time.monotonic()
    r = requests.post(
        f"{sink.url}/v1/track?x=1",
        data=body,
        headers={"Content-Type": "application/json", "X-Test": "yes"},
        timeout=5,
    )
    assert r.status_code == 200
    assert r.json() == OK
    assert sink.payloads == [payload]
    (rec,) = sink.received
    assert rec.payload == payload
    assert rec.path == "/v1/track"
    assert rec.body_size == len(body)
    assert rec.headers["X-Test"] == "yes"
    assert rec.headers["Content-Type"] == "application/json"
    assert before <= rec.at <= time.monotonic()
    assert (sink.accepted, sink.attempts, sink.invalid) == (1, 1, 0)


def test_keeps_arrival_order(sink: ReconifySink) -> None:
    for i in range(5):
        assert post(sink, {"i": i}).status_code == 200
    assert sink.payloads == [{"i": i} for i in range(5)]


def test_gzip_body_is_decoded(sink: ReconifySink) -> None:
    payload = {"text": "hello " * 200}
    body = gzip.compress(json.dumps(payload).encode())
    r = requests.post(
        f"{sink.url}/track",
        data=body,
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        timeout=5,
    )
    assert r.status_code == 200
    assert sink.payloads == [payload]
    assert sink.received[0].body_size == len(body)


def test_non_json_body_is_400_and_counted_apart(sink: ReconifySink) -> None:
    sink.script(Answer.status(500))
    r = requests.post(f"{sink.url}/track", data=b"not json", timeout=5)
    assert r.status_code == 400
    assert requests.post(f"{sink.url}/track", data=b"[1, 2]", timeout=5).status_code == 400
    assert sink.payloads == []
    assert (sink.accepted, sink.attempts, sink.invalid) == (0, 2, 2)
    # A malformed body is not a fault: the scripted answer is still waiting.
    assert sink.scripted_left == 1


def test_status_answer_with_retry_after(sink: ReconifySink) -> None:
    sink.script(Answer.status(429, b'{"status":"slow down"}', {"Retry-After": "1"}))
    r = post(sink, {"a": 1})
    assert r.status_code == 429
    assert r.headers["Retry-After"] == "1"
    assert r.content == b'{"status":"slow down"}'
    assert sink.payloads == []
    r = post(sink, {"a": 2})
    assert r.status_code == 200
    assert sink.payloads == [{"a": 2}]
    assert (sink.accepted, sink.attempts) == (1, 2)


def test_script_is_consumed_in_order_then_default(sink: ReconifySink) -> None:
    sink.script(Answer.status(500), Answer.status(502))
    sink.script(Answer.status(504))
    codes = [post(sink, {"i": i}).status_code for i in range(5)]
    assert codes == [500, 502, 504, 200, 200]
    assert sink.payloads == [{"i": 3}, {"i": 4}]
    assert [a.status for a in sink.attempt_log] == [500, 502, 504, 200, 200]
    assert [a.kind for a in sink.attempt_log] == ["status", "status", "status", "ok", "ok"]


def test_set_default(sink: ReconifySink) -> None:
    sink.set_default(Answer.status(503))
    assert [post(sink, {"i": i}).status_code for i in range(2)] == [503, 503]
    sink.set_default(Answer.ok())
    assert post(sink, {"i": 2}).status_code == 200
    assert sink.payloads == [{"i": 2}]


def test_hang_times_out_on_the_client(sink: ReconifySink) -> None:
    sink.script(Answer.hang(5))
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.post(f"{sink.url}/track", json={"a": 1}, timeout=(2, 0.3))
    assert 0.3 <= time.monotonic() - started < 2
    assert sink.payloads == []
    assert sink.attempt_log[0].kind == "hang"
    assert sink.attempt_log[0].status is None
    assert post(sink, {"a": 2}).status_code == 200
    assert sink.payloads == [{"a": 2}]


def test_hang_ends_when_the_sink_stops() -> None:
    sink = ReconifySink().start()
    sink.script(Answer.hang(30))
    body = b'{"a":1}'
    with socket.create_connection(("127.0.0.1", sink.port), timeout=3) as conn:
        conn.sendall(
            b"POST /track HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        assert sink.wait_for_attempts(1, timeout=3)
        started = time.monotonic()
        sink.stop()
        assert conn.recv(1024) == b""  # closed without an answer, long before 30 s
        assert time.monotonic() - started < 2


def test_drop_resets_the_connection(sink: ReconifySink) -> None:
    sink.script(Answer.drop())
    with pytest.raises(requests.exceptions.ConnectionError):
        post(sink, {"a": 1})
    assert sink.payloads == []
    assert sink.attempts == 1
    assert sink.attempt_log[0].kind == "drop"
    assert post(sink, {"a": 2}).status_code == 200


def test_slow_records_then_answers_late(sink: ReconifySink) -> None:
    sink.script(Answer.slow(0.3))
    started = time.monotonic()
    r = post(sink, {"a": 1})
    assert time.monotonic() - started >= 0.3
    assert r.status_code == 200
    assert r.json() == OK
    assert sink.payloads == [{"a": 1}]


def test_slow_answer_is_delivered_even_when_the_client_gives_up(sink: ReconifySink) -> None:
    sink.script(Answer.slow(0.5))
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.post(f"{sink.url}/track", json={"a": 1}, timeout=(2, 0.1))
    assert sink.wait_for(1, timeout=2)
    assert sink.payloads == [{"a": 1}]


def test_2xx_rejection_is_not_recorded(sink: ReconifySink) -> None:
    sink.script(Answer.reply(200, {"status": "error", "message": "bad appKey"}))
    r = post(sink, {"a": 1})
    assert r.status_code == 200
    assert r.json() == {"status": "error", "message": "bad appKey"}
    assert sink.payloads == []
    assert (sink.accepted, sink.attempts) == (0, 1)


def test_answer_acceptance() -> None:
    assert Answer.ok().accepted
    assert Answer.slow(1).accepted
    assert Answer.reply(202, {"status": "ok"}).accepted
    assert Answer.status(200, b'{"status":"ok"}').accepted
    assert not Answer.status(200).accepted
    assert not Answer.reply(200, {"status": "error"}).accepted
    assert not Answer.reply(500, {"status": "ok"}).accepted
    assert not Answer.hang(1).accepted
    assert not Answer.drop().accepted


def test_outage_then_recovery(sink: ReconifySink) -> None:
    sink.script(Answer.status(418))
    started = time.monotonic()
    sink.outage(0.4, status=503, retry_after=2)
    codes: list[int] = []
    while True:
        r = post(sink, {"n": len(codes)})
        codes.append(r.status_code)
        if r.status_code != 503:
            break
        assert r.headers["Retry-After"] == "2"
        assert r.json() == {"status": "error"}
        time.sleep(0.05)
    assert time.monotonic() - started >= 0.4
    assert len(codes) >= 3
    assert set(codes[:-1]) == {503}
    # The outage did not consume the script: it answers first once the outage is over.
    assert codes[-1] == 418
    assert sink.payloads == []
    assert post(sink, {"after": True}).status_code == 200
    assert sink.payloads == [{"after": True}]
    assert sink.attempts == len(codes) + 1


def test_outage_without_retry_after_and_end_outage(sink: ReconifySink) -> None:
    sink.outage(60, status=502)
    r = post(sink, {"a": 1})
    assert r.status_code == 502
    assert "Retry-After" not in r.headers
    sink.end_outage()
    assert post(sink, {"a": 2}).status_code == 200
    assert sink.payloads == [{"a": 2}]


def test_wait_for(sink: ReconifySink) -> None:
    def later() -> None:
        time.sleep(0.2)
        post(sink, {"late": 1})

    thread = threading.Thread(target=later)
    thread.start()
    assert sink.payloads == []
    assert sink.wait_for(1, timeout=3)
    assert sink.payloads == [{"late": 1}]
    started = time.monotonic()
    assert sink.wait_for(2, timeout=0.1) is False
    assert time.monotonic() - started >= 0.1
    thread.join()


def test_hold_ms_delays_accepted_answers() -> None:
    with ReconifySink(hold_ms=150) as sink:
        started = time.monotonic()
        assert post(sink, {"a": 1}).status_code == 200
        assert time.monotonic() - started >= 0.15
        assert sink.payloads == [{"a": 1}]


def test_clear_and_control_endpoints(sink: ReconifySink) -> None:
    for i in range(2):
        post(sink, {"i": i})
    requests.post(f"{sink.url}/track", data=b"x", timeout=5)
    assert requests.get(f"{sink.url}/healthz", timeout=5).status_code == 200
    stats = requests.get(f"{sink.url}/stats", timeout=5).json()
    assert stats == {"accepted": 2, "attempts": 3, "invalid": 1}
    assert requests.post(f"{sink.url}/reset", timeout=5).status_code == 200
    assert requests.get(f"{sink.url}/stats", timeout=5).json() == {
        "accepted": 0,
        "attempts": 0,
        "invalid": 0,
    }
    assert sink.payloads == []
    post(sink, {"i": 9})
    sink.clear()
    assert (sink.payloads, sink.received, sink.attempts, sink.attempt_log) == ([], [], 0, [])
    assert requests.get(f"{sink.url}/nope", timeout=5).status_code == 404


def test_keep_payloads_false_counts_only() -> None:
    with ReconifySink(keep_payloads=False) as sink:
        for i in range(3):
            post(sink, {"i": i})
        assert sink.wait_for(3, timeout=1)
        assert (sink.accepted, sink.attempts) == (3, 3)
        assert sink.payloads == []
        assert sink.attempt_log == []


def test_attempt_log_records_times_in_order(sink: ReconifySink) -> None:
    sink.script(Answer.status(500))
    post(sink, {"a": 1})
    post(sink, {"a": 1})
    first, second = sink.attempt_log
    assert isinstance(first, Attempt)
    assert (first.path, first.status, second.status) == ("/track", 500, 200)
    assert first.at <= second.at


def test_runs_as_a_process() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconify_otel.offline.sink", "--port", "0", "--hold-ms", "5"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        word, port = line.split()
        assert word == "listening"
        url = f"http://127.0.0.1:{int(port)}"
        for i in range(3):
            r = requests.post(f"{url}/track", json={"i": i}, timeout=5)
            assert r.json() == OK
        stats = requests.get(f"{url}/stats", timeout=5).json()
        assert stats == {"accepted": 3, "attempts": 3, "invalid": 0}
        assert requests.post(f"{url}/reset", timeout=5).status_code == 200
        assert requests.get(f"{url}/stats", timeout=5).json()["accepted"] == 0
    finally:
        proc.terminate()
        returncode = proc.wait(timeout=5)
    assert returncode == 0
