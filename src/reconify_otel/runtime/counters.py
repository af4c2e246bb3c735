"""Thread-safe counters of ``Event``s behind every ``stats()`` snapshot, mirrored to the
OpenTelemetry metrics API as one counter, ``reconify_otel.events``, with an ``event``
attribute (accepted, rejected, failed, retries, spooled, spool_dropped, ...).

Without a configured ``MeterProvider`` the metrics API is a no-op, so this costs nothing.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable
from typing import TypedDict, cast

from opentelemetry import metrics

from reconify_otel.runtime.events import STATS_NAMES, Event
from reconify_otel.runtime.forksafe import reset_after_fork
from reconify_otel.version import __version__

_meter = metrics.get_meter("reconify_otel", __version__)
_events = _meter.create_counter(
    "reconify_otel.events", unit="{event}", description="Payload outcomes and delivery events"
)


class Stats(TypedDict):
    """What ``exporter.stats()`` and ``handler.stats()`` hold: every name from the start.
    Typed for the user's type checker; the names are ``Event``'s (``STATS_NAMES``), and
    tests/test_counters.py holds this in step with them.

    Each counts payloads (interactions), except ``retries`` (extra attempts),
    ``redirected`` and ``unconfirmed`` (attempts: a resent payload counts again) and
    ``spool_unopenable_files`` and ``spool_orphans_removed`` (files whose payloads
    cannot be counted)."""

    accepted: int  # taken by Reconify on the first round
    rejected: int  # refused for good (400, 401, a 2xx with another status): not retried
    failed: int  # tried until the deadline ran out, or not Reconify's answer; spooled
    deferred: int  # not tried (endpoint down, export_timeout spent); spooled
    shut_down: int  # interrupted by shutdown; spooled
    retries: int
    redirected: int  # sends answered with a 3xx: never followed; the payload kept
    unconfirmed: int  # sends answered 2xx without {"status": "ok"}: the payload kept
    resent_accepted: int  # from the spool
    resent_rejected: int
    resent_failed: int  # a resend that failed; still in the spool
    spooled: int  # written to the spool
    spool_dropped: int  # dropped from the spool: byte cap or retention
    spool_bad_lines: int  # unreadable spool lines, moved to a .bad file
    spool_unopenable_files: int  # spool files that could not be used (symlink, not ours): skipped
    spool_orphans_removed: int  # temporary files of a writer killed mid-write, removed
    spool_write_failed: int  # lost: the spool could not be written
    dropped_undelivered: int  # lost: not delivered and no spool
    dropped_queue_full: int  # lost: the handler's queue was full
    dropped_closed: int  # lost: logged to a closed handler
    dropped_after_shutdown: int  # lost: exported after shutdown
    internal_errors: int
    bad_attributes: int  # unusable span attributes, mapped around
    skipped_error_run: int
    skipped_error_call: int
    skipped_no_answer: int
    skipped_duplicate: int
    skipped_redact_failed: int
    skipped_too_large: int
    skipped_unmappable: int
    skipped_unsupported_provider: int  # a model call of a provider Reconify has no format for
    skipped_bad_input: int  # handler API: no run object or dict with an id
    skipped_not_configured: int  # dropped by the no-op built from the environment without keys
    events_unjoined: int  # GenAI log events no mapped span took (not payloads)


__all__ = ["STATS_NAMES", "Counters", "Event", "Stats", "delivery_counters", "observe_spool"]


class Counters:
    def __init__(self, component: str = "exporter", known: Iterable[str] = ()) -> None:
        """``known``: names present (as zero) in every snapshot before they are counted."""
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._known = tuple(known)
        self._component = component
        reset_after_fork(self)

    def _after_fork(self) -> None:
        self._lock = threading.Lock()  # a parent thread may have held it at fork

    def add(self, event: Event, amount: int = 1) -> None:
        """Count ``amount`` of ``event``."""
        name = event.value
        with self._lock:
            self._counts[name] += amount
        _events.add(amount, {"event": name, "component": self._component})

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {**dict.fromkeys(self._known, 0), **self._counts}

    def stats(self) -> Stats:
        """The snapshot as the exporter's and handler's typed ``Stats``."""
        return cast(Stats, self.snapshot())


def delivery_counters(component: str) -> Counters:
    """The exporter's and handler's counters: every ``Stats`` name from the start."""
    return Counters(component, STATS_NAMES)


def observe_spool(stats: Callable[[], tuple[int, int] | None]) -> None:
    """Report what waits in a spool (``reconify_otel.spool.bytes`` and ``.files``).

    ``stats`` returns (files, bytes), or None once the spool is gone.
    """

    def observe(kind: int) -> Callable[[metrics.CallbackOptions], Iterable[metrics.Observation]]:
        def callback(_: metrics.CallbackOptions) -> Iterable[metrics.Observation]:
            current = stats()
            return [metrics.Observation(current[kind])] if current is not None else []

        return callback

    _meter.create_observable_gauge(
        "reconify_otel.spool.bytes",
        callbacks=[observe(1)],
        unit="By",
        description="Bytes of undelivered payloads waiting in the spool",
    )
    _meter.create_observable_gauge(
        "reconify_otel.spool.files",
        callbacks=[observe(0)],
        unit="{file}",
        description="Files of undelivered payloads waiting in the spool",
    )
