"""The endpoint-down rule and forked children: no day-long stalls, no duplicates."""

from __future__ import annotations

import os
import time

import pytest
from opentelemetry.sdk.trace.export import SpanExportResult
from reconify_otel_testing.sink import Answer, ReconifySink

from reconify_otel import ReconifySpanExporter, reconify_openai_handler
from reconify_otel.delivery.breaker import MAX_PAUSE, Breaker
from reconify_otel.delivery.transport import Outcome, Result

from .conftest import API_KEY, APP_KEY
from .test_handler import IN, OUT, run_dict
from .test_mapping import CURRENT, make_span


def test_a_huge_retry_after_pauses_at_most_a_minute() -> None:
    breaker = Breaker(base_pause=30)
    breaker.note(Result(Outcome.FAILED, 429, attempts=1, retry_after=86_400))
    assert not breaker.allows()
    assert breaker.wait <= MAX_PAUSE
    breaker.note(Result(Outcome.ACCEPTED, 200, attempts=1))
    assert breaker.allows()


def test_a_payload_never_tried_does_not_open_the_breaker() -> None:
    breaker = Breaker(base_pause=30)
    breaker.note(Result(Outcome.FAILED))  # went to the spool without an attempt
    assert breaker.allows()


def test_without_a_spool_every_payload_gets_its_own_attempts(sink: ReconifySink) -> None:
    sink.script(Answer.status(429, headers={"Retry-After": "86400"}))
    exporter = ReconifySpanExporter(
        f"{sink.url}/t", APP_KEY, API_KEY, spool=False, timeout=0.5, concurrency=1
    )
    spans = [make_span("openai.assistant.run", CURRENT) for _ in range(6)]
    assert exporter.export(spans) is SpanExportResult.FAILURE
    assert sink.attempts == 6 and len(sink.payloads) == 5  # only the first was lost
    assert exporter.stats() == {"failed": 1, "dropped_undelivered": 1, "accepted": 5}


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
        started = time.monotonic()
        handler.close(timeout=5)
        quick = time.monotonic() - started < 3.0  # not the 5 s timeout
        os._exit(0 if quick and not handler.stats().get("spooled") else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0  # no wait for the parent's requests
    sink.set_default(Answer.ok())
    handler.close(timeout=5)
