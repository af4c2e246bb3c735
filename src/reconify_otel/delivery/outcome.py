"""How one payload's delivery ended: the vocabulary every sender, counter and log shares."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from reconify_otel.runtime.events import Event


class Outcome(str, Enum):
    """``event``: what an outcome adds to (``resent_event`` for a resend from the spool)."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"  # a permanent answer: not retried
    # Tried, not delivered: transient failures until the deadline ran out, or an answer
    # that is not Reconify's (a redirect, a 2xx without {"status": "ok"}).
    FAILED = "failed"
    # Not tried: the endpoint is known to be down, or the export's time was spent.
    DEFERRED = "deferred"
    SHUT_DOWN = "shut_down"  # the sender closed before delivery
    # ``close()`` took it from the in-flight set and spooled it: not to be spooled again.
    SPOOLED_AT_CLOSE = "spooled_at_close"

    @property
    def undelivered(self) -> bool:
        """Still ours to keep (spool) after this outcome."""
        return self in (Outcome.FAILED, Outcome.DEFERRED, Outcome.SHUT_DOWN)

    @property
    def event(self) -> Event:
        return _EVENTS[self]

    @property
    def resent_event(self) -> Event:
        """A resend that did not end accepted or rejected stays in the spool: failed."""
        return _RESENT.get(self, Event.RESENT_FAILED)


@dataclass(frozen=True, slots=True)
class Result:
    outcome: Outcome
    status: int | None = None
    attempts: int = 0
    retry_after: float | None = None  # the last Retry-After the endpoint asked for


DEFERRED = Result(Outcome.DEFERRED)


# What each outcome counts as; spooled-at-close is shown (and counted) as shut down.
_EVENTS = {
    Outcome.ACCEPTED: Event.ACCEPTED,
    Outcome.REJECTED: Event.REJECTED,
    Outcome.FAILED: Event.FAILED,
    Outcome.DEFERRED: Event.DEFERRED,
    Outcome.SHUT_DOWN: Event.SHUT_DOWN,
    Outcome.SPOOLED_AT_CLOSE: Event.SHUT_DOWN,
}
_RESENT = {Outcome.ACCEPTED: Event.RESENT_ACCEPTED, Outcome.REJECTED: Event.RESENT_REJECTED}
