"""A backlog across a WAN drains over the fan-out, not one payload at a time: 3,000
interactions spooled during an outage of an endpoint 20 ms away (``hold_ms``) all arrive
once, and the resends overlap from the first one on.

The drain rate for 10,000 waiting is measured by ``python -m benchmarks --only recovery``;
here the bound is behavioural: one payload at a time needs at least 20 ms each.
"""

from __future__ import annotations

import itertools
import time

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult

from reconify_otel import ReconifySpanExporter
from reconify_otel.offline.sink import ReconifySink

from .helpers import API_KEY, APP_KEY, CURRENT, make_span

WAITING = 1_500
HOLD = 0.020  # the sink answers each accepted payload after 20 ms, as a WAN endpoint would


def spans(first: int, count: int) -> list[ReadableSpan]:
    return [
        make_span("openai.assistant.run", {**CURRENT, "gen_ai.response.1.id": f"msg_{n:06d}"})
        for n in range(first, first + count)
    ]


@pytest.mark.slow  # 1,500 payloads 20 ms away (.ci/run runs it)
def test_a_backlog_20_ms_away_drains_concurrently_each_payload_once() -> None:
    with ReconifySink(hold_ms=HOLD * 1000) as sink:
        sink.outage(3600, status=503)
        exporter = ReconifySpanExporter(
            f"{sink.url}/track", APP_KEY, API_KEY, spool_retry_seconds=1
        )
        for first in range(0, WAITING, 500):  # as BatchSpanProcessor hands them over
            assert exporter.export(spans(first, 500)) is SpanExportResult.FAILURE
        assert exporter.stats()["spooled"] == WAITING and sink.accepted == 0
        sink.end_outage()
        assert sink.wait_for(WAITING, timeout=180)
        time.sleep(1.0)  # a duplicate would arrive now
        ids = [p["response"]["id"] for p in sink.payloads]
        assert sorted(ids) == [f"msg_{n:06d}" for n in range(WAITING)]  # 0 lost, 0 twice
        stats = exporter.stats()
        assert stats["resent_accepted"] == WAITING and stats["resent_rejected"] == 0
        # One at a time, 500 resends take at least 500 x 20 ms = 10 s: the first 500 (the
        # first round, when a stale estimate used to keep the fan-out at one thread)
        # arrive in under half that.
        arrivals = sorted(r.at for r in sink.received)
        assert arrivals[499] - arrivals[0] < 500 * HOLD / 2
        # A sequential sender has at most one request held in any 20 ms.
        overlapping = sum(1 for a, b in itertools.pairwise(arrivals) if b - a < HOLD / 2)
        assert overlapping >= WAITING // 2
        exporter.shutdown()
