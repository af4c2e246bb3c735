"""Thread-safe named counters behind every ``stats()`` snapshot, mirrored to the
OpenTelemetry metrics API as one counter, ``reconify_otel.events``, with an ``event``
attribute (accepted, rejected, failed, retries, spooled, spool_dropped, ...).

Without a configured ``MeterProvider`` the metrics API is a no-op, so this costs nothing.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable

from opentelemetry import metrics

from reconify_otel.version import __version__

_meter = metrics.get_meter("reconify_otel", __version__)
_events = _meter.create_counter(
    "reconify_otel.events", unit="{event}", description="Payload outcomes and delivery events"
)


class Counters:
    def __init__(self, component: str = "exporter") -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._component = component

    def add(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._counts[name] += amount
        _events.add(amount, {"event": name, "component": self._component})

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


def observe_spool(stats: Callable[[], tuple[int, int] | None]) -> None:
    """Report what waits in a spool (``reconify_otel.delivery.spool.bytes`` and ``.files``).

    ``stats`` returns (files, bytes), or None once the spool is gone.
    """

    def observe(kind: int) -> Callable[[metrics.CallbackOptions], Iterable[metrics.Observation]]:
        def callback(_: metrics.CallbackOptions) -> Iterable[metrics.Observation]:
            current = stats()
            return [metrics.Observation(current[kind])] if current is not None else []

        return callback

    _meter.create_observable_gauge(
        "reconify_otel.delivery.spool.bytes",
        callbacks=[observe(1)],
        unit="By",
        description="Bytes of undelivered payloads waiting in the spool",
    )
    _meter.create_observable_gauge(
        "reconify_otel.delivery.spool.files",
        callbacks=[observe(0)],
        unit="{file}",
        description="Files of undelivered payloads waiting in the spool",
    )
