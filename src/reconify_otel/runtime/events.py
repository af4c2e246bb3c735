"""Every event the library counts, once: its name in ``stats()`` and ``/healthz``, the
``event`` attribute of the ``reconify_otel.events`` metric, and what kind of account it
belongs to (the reason is the member: ``DROPPED_QUEUE_FULL`` is a loss because the
handler's queue was full, as sentry-python's ``record_lost_event(reason, ...)``).

``Counters.add`` takes an ``Event`` only: a misspelt one is a type error, never a new
counter nobody reads (``Event.named`` reads a name given as text, ``ValueError`` for
none). ``STATS_NAMES`` (the exporter's and handler's ``stats()`` keys) and ``BRIDGE_ONLY``
are derived from it.
"""

from __future__ import annotations

from enum import Enum
from types import MappingProxyType

from reconify_otel.core.payload import Skip


class Kind(Enum):
    OUTCOME = "outcome"  # how one payload's delivery ended (first round)
    RESENT = "resent"  # how a resend from the spool ended
    ATTEMPT = "attempt"  # one HTTP attempt: a resent payload counts again
    KEPT = "kept"  # the spool's bookkeeping
    LOST = "lost"  # lost for good; the member names why
    SKIPPED = "skipped"  # not sent, by design or because it could not be
    ERROR = "error"
    REQUEST = "request"  # the bridge's requests, answers and connections: /healthz only


class Event(str, Enum):
    kind: Kind

    def __new__(cls, name: str, kind: Kind) -> Event:
        member = str.__new__(cls, name)
        member._value_ = name
        member.kind = kind
        return member

    ACCEPTED = "accepted", Kind.OUTCOME
    REJECTED = "rejected", Kind.OUTCOME
    FAILED = "failed", Kind.OUTCOME
    DEFERRED = "deferred", Kind.OUTCOME
    SHUT_DOWN = "shut_down", Kind.OUTCOME
    RETRIES = "retries", Kind.ATTEMPT
    REDIRECTED = "redirected", Kind.ATTEMPT
    UNCONFIRMED = "unconfirmed", Kind.ATTEMPT
    RESENT_ACCEPTED = "resent_accepted", Kind.RESENT
    RESENT_REJECTED = "resent_rejected", Kind.RESENT
    RESENT_FAILED = "resent_failed", Kind.RESENT
    SPOOLED = "spooled", Kind.KEPT
    SPOOL_DROPPED = "spool_dropped", Kind.LOST
    SPOOL_BAD_LINES = "spool_bad_lines", Kind.KEPT
    SPOOL_UNOPENABLE_FILES = "spool_unopenable_files", Kind.KEPT
    SPOOL_ORPHANS_REMOVED = "spool_orphans_removed", Kind.KEPT
    SPOOL_WRITE_FAILED = "spool_write_failed", Kind.LOST
    DROPPED_UNDELIVERED = "dropped_undelivered", Kind.LOST
    DROPPED_QUEUE_FULL = "dropped_queue_full", Kind.LOST
    DROPPED_CLOSED = "dropped_closed", Kind.LOST
    DROPPED_AFTER_SHUTDOWN = "dropped_after_shutdown", Kind.LOST
    INTERNAL_ERRORS = "internal_errors", Kind.ERROR
    BAD_ATTRIBUTES = "bad_attributes", Kind.ERROR
    SKIPPED_ERROR_RUN = "skipped_error_run", Kind.SKIPPED
    SKIPPED_ERROR_CALL = "skipped_error_call", Kind.SKIPPED
    SKIPPED_NO_ANSWER = "skipped_no_answer", Kind.SKIPPED
    SKIPPED_DUPLICATE = "skipped_duplicate", Kind.SKIPPED
    SKIPPED_REDACT_FAILED = "skipped_redact_failed", Kind.SKIPPED
    SKIPPED_TOO_LARGE = "skipped_too_large", Kind.SKIPPED
    SKIPPED_UNMAPPABLE = "skipped_unmappable", Kind.SKIPPED
    SKIPPED_UNSUPPORTED_PROVIDER = "skipped_unsupported_provider", Kind.SKIPPED
    SKIPPED_BAD_INPUT = "skipped_bad_input", Kind.SKIPPED
    SKIPPED_NOT_CONFIGURED = "skipped_not_configured", Kind.SKIPPED
    # GenAI log events whose span was never mapped (no call, or it never came in time).
    EVENTS_UNJOINED = "events_unjoined", Kind.SKIPPED
    # The bridge's own: spans, requests by answer, connections.
    SELECTED_SPANS = "selected_spans", Kind.REQUEST
    DUPLICATES = "duplicates", Kind.REQUEST  # spans settled by an earlier request
    BUSY = "busy", Kind.REQUEST  # spans another request is sending: answered 503
    REJECTED_SPANS = "rejected_spans", Kind.REQUEST  # told to the Collector as rejected
    # GenAI log events (POST /v1/logs) kept for their call's span, other records ignored;
    # call spans that waited for their events, and those sent without them after the wait.
    LOG_EVENTS = "log_events", Kind.REQUEST
    LOG_RECORDS_IGNORED = "log_records_ignored", Kind.REQUEST
    EVENT_WAITS = "event_waits", Kind.REQUEST
    EVENT_WAITS_EXPIRED = "event_waits_expired", Kind.REQUEST
    OVERLOADED = "overloaded", Kind.REQUEST
    BODY_TIMEOUTS = "body_timeouts", Kind.REQUEST
    OVER_MEMORY = "over_memory", Kind.REQUEST
    CONNECTIONS_EVICTED = "connections_evicted", Kind.REQUEST
    CONNECTIONS_REFUSED = "connections_refused", Kind.REQUEST
    FRAMING_REFUSED = "framing_refused", Kind.REQUEST
    ACCEPT_ERRORS = "accept_errors", Kind.REQUEST
    IDLE_TIMEOUTS = "idle_timeouts", Kind.REQUEST
    HEADER_TIMEOUTS = "header_timeouts", Kind.REQUEST
    HTTP_200 = "http_200", Kind.REQUEST
    HTTP_400 = "http_400", Kind.REQUEST
    HTTP_401 = "http_401", Kind.REQUEST
    HTTP_403 = "http_403", Kind.REQUEST
    HTTP_404 = "http_404", Kind.REQUEST
    HTTP_405 = "http_405", Kind.REQUEST
    HTTP_408 = "http_408", Kind.REQUEST
    HTTP_413 = "http_413", Kind.REQUEST
    HTTP_415 = "http_415", Kind.REQUEST
    HTTP_429 = "http_429", Kind.REQUEST
    HTTP_503 = "http_503", Kind.REQUEST

    @classmethod
    def named(cls, name: str) -> Event:
        """The event called ``name``; ``ValueError`` for a name that is none."""
        member = cls._value2member_map_.get(name)
        if not isinstance(member, cls):
            raise ValueError(f"{name!r} is not a counted event (runtime/events.py)")
        return member

    @classmethod
    def skipped(cls, reason: Skip) -> Event:
        """The count of selected spans not sent for ``reason``."""
        return SKIPPED_BY[reason]

    @classmethod
    def answered(cls, status: int) -> Event:
        """The bridge's count of answers with ``status``; ``ValueError`` for one it never gives."""
        return cls.named(f"http_{status}")


# Why a selected span was not sent (``core.payload.Skip``) -> its count; every reason has one.
SKIPPED_BY = MappingProxyType({reason: Event.named(f"skipped_{reason.value}") for reason in Skip})

BRIDGE_ONLY: frozenset[Event] = frozenset(e for e in Event if e.kind is Kind.REQUEST)
# The exporter's and handler's ``stats()`` keys, in this order (``Stats`` types them).
STATS_NAMES: tuple[str, ...] = tuple(e.value for e in Event if e not in BRIDGE_ONLY)
