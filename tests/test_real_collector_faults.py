"""Faults on the route through a real OpenTelemetry Collector running
``otel-collector-config.yaml``: the bridge down while the Collector crashes, Reconify
unavailable (503 + Retry-After), a busy bridge (429), a run Reconify refuses (partial
success). Everything on 127.0.0.1; see test_real_collector_route.py for the route.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from reconify_otel.offline.sink import Answer, ReconifySink

from . import collector_bridge, collector_build, collector_process
from .collector_bridge import (
    Bridge,
    in_order,
    in_process_payloads,
    make_spans,
    names_ids,
    run_ids,
    settle,
    wait_until,
)
from .collector_process import Collector, free_port, send

# The shared fixtures, bound by name.
otelcol = collector_build.otelcol
start_collector = collector_process.start_collector
start_bridge = collector_bridge.start_bridge

# The first test may pay for a cold build.
pytestmark = [pytest.mark.collector, pytest.mark.timeout(1200)]


def test_bridge_outage_and_collector_crash_lose_nothing_and_send_nothing_twice(
    start_collector: Callable[[str, int], Collector],
    start_bridge: Callable[..., Bridge],
    sink: ReconifySink,
) -> None:
    """The bridge is down for 15 s while spans keep coming; meanwhile the Collector is
    SIGKILLed the moment it has taken a batch, and restarted. The exporter's persistent
    queue (which also forms the batches) delivers every run exactly once."""
    bridge = start_bridge()
    collector = start_collector(bridge.url, free_port())  # Jaeger absent: not this test's
    batches = [make_spans(f"outage{n}", 2) for n in range(9)]

    send(collector, batches[0])
    if not sink.wait_for(2, 15):
        pytest.fail("the route did not deliver before the outage")

    bridge.stop()
    outage_started = time.monotonic()
    for batch in batches[1:5]:
        send(collector, batch)
    # No wait: what the Collector has answered for is on disk already.
    collector.kill()
    collector.start(collector.health_port)
    for batch in batches[5:]:
        send(collector, batch)
    time.sleep(max(0.0, 15 - (time.monotonic() - outage_started)))
    restarted = time.monotonic()
    bridge.start()

    settle(sink, 18)
    assert sink.accepted == sink.attempts == 18
    assert in_order(sink.payloads) == in_process_payloads([s for b in batches for s in b])
    # Everything sent during the outage was held by the Collector until the bridge came back.
    held = {f"run_outage{n}_{i}" for n in range(1, 9) for i in range(2)}
    arrivals = {str(r.payload["response"]["run_id"]): r.at for r in sink.received}
    assert held <= set(arrivals)
    assert all(arrivals[run] >= restarted for run in held)


def test_503_with_retry_after_makes_the_collector_wait_that_long(
    start_collector: Callable[[str, int], Collector],
    start_bridge: Callable[..., Bridge],
    sink: ReconifySink,
) -> None:
    """Reconify down -> the bridge answers 503 + Retry-After: 8. The Collector's own first
    back-off is 2.5-7.5 s (5 s +-50 %), so a retry 8 s later is the header's doing."""
    bridge = start_bridge(retry_after=8)
    collector = start_collector(bridge.url, free_port())
    sink.set_default(Answer.status(503, b'{"status":"error"}'))
    send(collector, make_spans("unavailable", 1, extras=False))
    wait_until(lambda: bridge.statuses() == [503], 15, "the bridge's 503")
    sink.set_default(Answer.ok())

    settle(sink, 1)
    first, second = bridge.recorder.exchanges
    assert (first.status, first.retry_after) == (503, "8")
    assert (second.status, second.retry_after) == (200, None)
    assert second.spans == first.spans
    assert second.arrived - first.answered >= 8.0
    assert sink.accepted == 1


def test_429_from_a_busy_bridge_is_retried_until_accepted(
    start_collector: Callable[[str, int], Collector],
    start_bridge: Callable[..., Bridge],
    sink: ReconifySink,
) -> None:
    """One request at a time (max_in_flight 1) while Reconify is slow (4 s, within the
    bridge's 10 s deadline): a second batch gets 429 + Retry-After: 1 and is resent until
    the bridge takes it."""
    bridge = start_bridge(timeout=10.0, max_in_flight=1)
    collector = start_collector(bridge.url, free_port())
    first = make_spans("busy_a", 1, extras=False)
    second = make_spans("busy_b", 1, extras=False)
    sink.script(Answer.slow(4.0))
    send(collector, first)
    wait_until(lambda: sink.attempts == 1, 15, "the first payload at Reconify")
    send(collector, second)

    settle(sink, 2)
    assert sink.accepted == sink.attempts == 2
    assert run_ids(sink.payloads) == ["run_busy_a_0", "run_busy_b_0"]
    exchanges = bridge.recorder.exchanges
    assert [e.status for e in exchanges if e.spans == names_ids(first)] == [200]
    tries = [e for e in exchanges if e.spans == names_ids(second)]
    assert len(tries) >= 2
    assert [(e.status, e.retry_after) for e in tries[:-1]] == [(429, "1")] * (len(tries) - 1)
    assert (tries[-1].status, tries[-1].retry_after) == (200, None)
    for before, after in itertools.pairwise(tries):
        assert after.arrived - before.answered >= 1.0


def test_partial_success_is_logged_and_not_retried(
    start_collector: Callable[[str, int], Collector],
    start_bridge: Callable[..., Bridge],
    sink: ReconifySink,
) -> None:
    """Reconify refuses one of two runs (400): the bridge answers 200 with partial_success
    (1 rejected span); the Collector logs it and sends nothing again."""
    bridge = start_bridge()
    collector = start_collector(bridge.url, free_port())
    sink.script(Answer.status(400, b'{"status":"error","error":"invalid payload"}'))
    send(collector, make_spans("partial", 2, extras=False))

    wait_until(lambda: sink.attempts == 2, 15, "both payloads at Reconify")
    wait_until(
        lambda: any(r.get("msg") == "Partial success response" for r in collector.records()),
        10,
        "the Collector's partial-success log line",
    )
    time.sleep(3)
    (exchange,) = bridge.recorder.exchanges
    assert exchange.status == 200
    answer = ExportTraceServiceResponse()
    answer.ParseFromString(exchange.answer)
    assert answer.partial_success.rejected_spans == 1
    assert answer.partial_success.error_message.startswith("not sent to Reconify: ")
    (logged,) = [r for r in collector.records() if r.get("msg") == "Partial success response"]
    assert logged["level"] == "warn"
    assert logged["dropped_spans"] == 1
    assert logged["message"] == answer.partial_success.error_message
    assert (sink.attempts, sink.accepted) == (2, 1)
    assert len(run_ids(sink.payloads)) == 1
    assert run_ids(sink.payloads)[0] in {"run_partial_0", "run_partial_1"}
