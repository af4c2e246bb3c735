"""The endpoint-down rule and forked children: no day-long stalls, no hung children."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from opentelemetry.sdk.trace.export import SpanExportResult

from reconify_otel import ReconifySpanExporter, reconify_openai_handler
from reconify_otel.delivery.breaker import FIRST_PAUSE, Admission, Breaker, Latch
from reconify_otel.delivery.outcome import Outcome, Result
from reconify_otel.offline.sink import Answer, ReconifySink

from .helpers import API_KEY, APP_KEY, CURRENT, IN, OUT, make_span, run_dict

FAILED = Result(Outcome.FAILED, 503, attempts=3)


def test_a_closed_breaker_sends_and_one_failure_opens_it() -> None:
    breaker = Breaker(max_pause=4)
    assert breaker.admit() is Admission.SEND
    breaker.note(FAILED, Admission.SEND)
    assert breaker.down and breaker.admit() is Admission.DEFER
    assert 0 < breaker.wait <= FIRST_PAUSE


def test_one_probe_at_a_time_and_its_success_closes_the_breaker() -> None:
    breaker = Breaker(max_pause=4, first_pause=0.01)
    breaker.note(FAILED, Admission.SEND)
    time.sleep(0.02)
    assert breaker.admit() is Admission.PROBE
    assert breaker.admit() is Admission.DEFER  # the probe is still out
    breaker.note(Result(Outcome.ACCEPTED, 200, 1), Admission.PROBE)
    assert not breaker.down and breaker.admit() is Admission.SEND


def test_the_pause_doubles_up_to_the_cap_and_a_shorter_retry_after_wins() -> None:
    breaker = Breaker(max_pause=2.0, first_pause=0.5)
    pauses = []
    for _ in range(4):
        breaker.note(FAILED, Admission.SEND)
        pauses.append(round(breaker.wait, 1))
    assert pauses == [0.5, 1.0, 2.0, 2.0]
    breaker.note(Result(Outcome.FAILED, 503, 1, retry_after=0.2), Admission.SEND)
    assert breaker.wait <= 0.2


def test_a_huge_retry_after_pauses_no_longer_than_the_cap() -> None:
    breaker = Breaker(max_pause=4)
    breaker.note(Result(Outcome.FAILED, 429, attempts=1, retry_after=86_400), Admission.SEND)
    assert breaker.down and breaker.wait <= 4


def test_a_rejection_is_an_answer_the_endpoint_is_up() -> None:
    breaker = Breaker()
    breaker.note(FAILED, Admission.SEND)
    breaker.note(Result(Outcome.REJECTED, 400, 1), Admission.SEND)
    assert breaker.admit() is Admission.SEND


def test_a_payload_never_tried_does_not_open_the_breaker() -> None:
    breaker = Breaker()
    breaker.note(Result(Outcome.DEFERRED), Admission.SEND)
    assert breaker.admit() is Admission.SEND


def test_the_bridge_latch_stays_tripped() -> None:
    latch = Latch()
    latch.note(Result(Outcome.FAILED))  # never tried: no trip
    assert latch.allows()
    latch.note(FAILED)
    latch.note(Result(Outcome.ACCEPTED, 200, 1))
    assert not latch.allows()


def test_without_a_spool_an_outage_costs_one_deadline_and_every_loss_is_counted(
    sink: ReconifySink,
) -> None:
    sink.script(Answer.status(429, headers={"Retry-After": "86400"}))
    exporter = ReconifySpanExporter(
        f"{sink.url}/t", APP_KEY, API_KEY, spool=False, timeout=0.5, concurrency=1
    )
    spans = [make_span("openai.assistant.run", CURRENT) for _ in range(6)]
    assert exporter.export(spans) is SpanExportResult.FAILURE
    assert sink.attempts == 1  # the rest were not tried while the endpoint was down
    stats = exporter.stats()
    assert (stats["failed"], stats["deferred"], stats["dropped_undelivered"]) == (1, 5, 6)
    assert stats["accepted"] == 0


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_does_not_take_over_the_parents_pending_work(
    sink: ReconifySink,
) -> None:
    sink.set_default(Answer.hang(3))
    handler = reconify_openai_handler(
        app_key=APP_KEY, api_key=API_KEY, endpoint=f"{sink.url}/t", timeout=2
    )
    for n in range(3):
        handler.log_assistant(run_dict(id=f"run_{n}"), IN, dict(OUT, run_id=f"run_{n}"))
    assert sink.wait_for_attempts(1, timeout=5)  # the parent is now sending
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        handler.close(timeout=30)  # returns at once: nothing of the parent's to wait for
        os._exit(0 if handler.stats()["spooled"] == 0 else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    sink.set_default(Answer.ok())
    handler.close(timeout=5)


CHILD_HUNG = 3


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_fork_while_other_threads_spool_leaves_no_child_hanging(sink: ReconifySink) -> None:
    """gunicorn forks during an outage while threads spool: a lock a parent thread held
    at the fork must not be held forever in the child."""
    sink.outage(120, status=503)
    exporter = ReconifySpanExporter(
        f"{sink.url}/t", APP_KEY, API_KEY, export_timeout=0.2, spool_max_bytes=20_000
    )
    spans = [make_span("openai.assistant.run", CURRENT) for _ in range(3)]
    stop = threading.Event()

    def spool_forever() -> None:
        while not stop.is_set():
            exporter.export(spans)

    spoolers = [threading.Thread(target=spool_forever, daemon=True) for _ in range(3)]
    for thread in spoolers:
        thread.start()
    codes = []
    try:
        for _ in range(12):
            time.sleep(0.05)
            pid = os.fork()
            if pid == 0:  # pragma: no cover - child
                signal.signal(signal.SIGALRM, lambda *_: os._exit(CHILD_HUNG))
                signal.alarm(20)
                before = exporter.stats()["spooled"]
                exporter.export(spans)
                os._exit(0 if exporter.stats()["spooled"] == before + 3 else 1)
            _, status = os.waitpid(pid, 0)
            codes.append(os.waitstatus_to_exitcode(status))
    finally:
        stop.set()
        for thread in spoolers:
            thread.join(10)
        exporter.shutdown()
    assert codes == [0] * 12  # each child spooled its 3 payloads and exited
