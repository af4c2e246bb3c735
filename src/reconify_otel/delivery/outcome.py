"""How one payload's delivery ended: the vocabulary every sender, counter and log shares."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Outcome(str, Enum):
    """The value is also the name of the counter each outcome adds to."""

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


@dataclass(frozen=True, slots=True)
class Result:
    outcome: Outcome
    status: int | None = None
    attempts: int = 0
    retry_after: float | None = None  # the last Retry-After the endpoint asked for


DEFERRED = Result(Outcome.DEFERRED)
