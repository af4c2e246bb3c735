"""What is counted is an ``Event`` (runtime/events.py), named once: ``Stats``, the metric's
``event`` attribute and the bridge's ``/healthz`` keys all come from it."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from reconify_otel.core.payload import Skip
from reconify_otel.delivery.outcome import Outcome
from reconify_otel.runtime.counters import STATS_NAMES, Counters, Stats, delivery_counters
from reconify_otel.runtime.events import BRIDGE_ONLY, Event, Kind

ROOT = Path(__file__).resolve().parents[1]


def test_stats_types_exactly_the_exporters_and_handlers_events() -> None:
    """``Stats`` is a TypedDict for users' type checkers (mypy needs it written out); it
    names the events that are not the bridge's own, no more and no fewer."""
    assert tuple(Stats.__annotations__) == STATS_NAMES
    assert tuple(delivery_counters("test").stats()) == STATS_NAMES


def test_a_misspelt_event_is_refused_not_a_new_counter() -> None:
    """``Counters.add`` takes an ``Event`` only (mypy refuses text); a name given as text
    is read with ``Event.named``, which refuses a misspelt one."""
    counters = Counters("test")
    with pytest.raises(ValueError, match="not a counted event"):
        Event.named("spoold")
    counters.add(Event.named("spooled"), 2)
    counters.add(Event.SPOOLED)
    assert counters.snapshot() == {"spooled": 3}
    assert "str" not in str(inspect.signature(Counters.add).parameters["event"].annotation)


def test_every_skip_reason_is_counted_as_its_own_event() -> None:
    assert {Event.skipped(reason).value for reason in Skip} == {
        f"skipped_{reason.value}" for reason in Skip
    }
    assert all(Event.skipped(reason).kind is Kind.SKIPPED for reason in Skip)


def test_every_outcome_counts_as_an_event() -> None:
    assert {outcome.event for outcome in Outcome} <= {e for e in Event if e.kind is Kind.OUTCOME}
    assert Outcome.SPOOLED_AT_CLOSE.event is Event.SHUT_DOWN  # shown as shut down
    assert Outcome.ACCEPTED.resent_event is Event.RESENT_ACCEPTED
    assert Outcome.REJECTED.resent_event is Event.RESENT_REJECTED
    # Interrupted by close, or not delivered: still in the spool.
    assert Outcome.SHUT_DOWN.resent_event is Event.RESENT_FAILED
    assert Outcome.FAILED.resent_event is Event.RESENT_FAILED


def test_every_status_the_bridge_answers_is_an_event() -> None:
    source = (ROOT / "src/reconify_otel/bridge/app.py").read_text()
    statuses = {int(s) for s in re.findall(r"_Answer\(\s*(\d{3})", source)} | {200}
    assert len(statuses) >= 10
    assert {Event.answered(status) for status in statuses} <= BRIDGE_ONLY
    with pytest.raises(ValueError):
        Event.answered(500)  # never answered: 500 would make the Collector drop the batch


def test_the_bridges_events_stay_out_of_the_exporters_stats() -> None:
    assert not {e.value for e in BRIDGE_ONLY} & set(STATS_NAMES)
    assert {"selected_spans", "duplicates", "busy", "rejected_spans", "http_503"} <= {
        e.value for e in BRIDGE_ONLY
    }
