"""The one step every route takes with a selected span: map it, shape it for leaving the
process (content switch, PII masking, the ``redact`` hook, size caps), count what is
skipped, show it in debug mode, and encode it with the keys.

Shared by the span exporter, the handler API and the bridge, so they cannot drift.
The keyless payload is kept beside the body: that is what a spool may store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from reconify_otel.core import privacy, size_caps
from reconify_otel.core.dedup import RecentCalls
from reconify_otel.core.encoding import encode, masked
from reconify_otel.core.interaction import Interaction
from reconify_otel.core.llm import LlmCall
from reconify_otel.core.llm.events import GenAiEvent, joined
from reconify_otel.core.mapping import Selection, map_span
from reconify_otel.core.payload import Defaults, Payload, Skip, Skipped
from reconify_otel.core.record import SpanRecord
from reconify_otel.identity import resolve_personal
from reconify_otel.runtime.counters import Counters
from reconify_otel.runtime.event_join import EventJoin
from reconify_otel.runtime.events import Event
from reconify_otel.runtime.logs import RateLimitedLog
from reconify_otel.settings import Settings

logger = logging.getLogger("reconify_otel")


@dataclass(frozen=True, slots=True)
class Prepared:
    payload: Payload  # without keys
    body: bytes  # with keys, ready to send


class Preparer:
    def __init__(
        self,
        settings: Settings,
        counters: Counters,
        *,
        resolve_personal: Callable[[str], Mapping[str, Any] | None] | None = resolve_personal,
    ) -> None:
        """``resolve_personal``: where personal fields kept off spans are found; only in the
        application's own process (the bridge passes None and sends the user id alone)."""
        self._settings = settings
        self._counters = counters
        self._defaults = Defaults(
            session_timeout=settings.session_timeout, resolve_personal=resolve_personal
        )
        self._log = RateLimitedLog(logger)
        # Which spans are interactions (``interactions``), tested on every span.
        self.selects = Selection(settings.interactions)
        self._recent_calls = RecentCalls()
        # The GenAI log events the logs-side companion hands over, until their span comes.
        self.events = EventJoin(on_unjoined=lambda n: counters.add(Event.EVENTS_UNJOINED, n))

    def prepare(self, record: SpanRecord, call: LlmCall | None = None) -> Prepared | Skipped:
        """The request body for one span, or why there is none (counted). Never raises:
        one span nothing foresaw must not cost the rest of its batch. ``call``: a call seen
        directly (the handler's), ``record`` then being its envelope only."""
        try:
            return self._prepare(record, call)
        except Exception as error:  # RecursionError from absurd nesting, and the unknown
            self._counters.add(Event.SKIPPED_UNMAPPABLE)
            self._log.warning(
                "unmappable", "a span could not be mapped (%s); skipped", type(error).__name__
            )
            return Skipped(Skip.UNMAPPABLE, type(error).__name__)

    def _prepare(self, record: SpanRecord, call: LlmCall | None) -> Prepared | Skipped:
        if call is None and len(self.events):  # content recorded as log events
            events = self.events.take(record.trace_id, record.span_id)
            if events:
                record = self.with_events(record, events) or record
        mapped = map_span(record, self._defaults, call)
        if (
            isinstance(mapped, Interaction)
            and mapped.call_key is not None
            and not self._recent_calls.first_time(mapped.call_key)
        ):
            mapped = Skipped(Skip.DUPLICATE, "this call was already sent")
        if isinstance(mapped, Interaction):
            if mapped.bad_attributes:
                self._counters.add(Event.BAD_ATTRIBUTES, len(mapped.bad_attributes))
                self._log.warning(
                    "bad-attr",
                    "unusable span attributes ignored: %s",
                    ", ".join(mapped.bad_attributes),
                )
            shaped = self.shape(mapped)
            result = self._within_caps(shaped) if not isinstance(shaped, Skipped) else shaped
        else:
            result = mapped
        if isinstance(result, Skipped):
            self._counters.add(Event.skipped(result.reason))
            logger.debug("span not sent (%s): %s", result.reason.value, result.detail)
        return result

    def with_events(self, record: SpanRecord, events: Sequence[GenAiEvent]) -> SpanRecord | None:
        """``record`` with its GenAI log events' content (every route's join: in process
        from ``events``, the bridge from what arrived by ``/v1/logs``). None when joining
        them raised: they are anyone's data, and cost that span its events (counted as
        ``bad_attributes``), never the call or its batch; the span goes without them."""
        try:
            attributes = joined(record.attributes, events, self._unusable_events)
        except Exception as error:
            self._counters.add(Event.BAD_ATTRIBUTES, len(events))
            self._log.warning(
                "bad-events",
                "the GenAI log events of a span could not be read (%s); sent without them",
                type(error).__name__,
            )
            return None
        return replace(record, attributes=attributes)

    def _unusable_events(self, count: int) -> None:
        """GenAI log events with a value that could not be used: mapped around, or left
        out; the call is sent with what could be read."""
        self._counters.add(Event.BAD_ATTRIBUTES, count)
        self._log.warning("bad-event", "unusable GenAI log events mapped around: %d", count)

    def shape(self, interaction: Interaction) -> Interaction | Skipped:
        """What may leave the process: the content switch or else PII masking (one walk;
        without content nothing is left to mask), then the ``redact`` hook, which sees
        what would be sent (the JSON dict) and returns it; if it fails the payload is
        dropped. Size caps come after."""
        settings = self._settings
        if not settings.capture_content:
            interaction = privacy.without_content(interaction)
        elif settings.mask_pii:
            interaction = privacy.mask_pii(interaction)
        if settings.redact is not None:
            try:
                redacted = settings.redact(interaction.to_json())
            except Exception as error:
                self._log.warning(
                    "redact",
                    "the redact hook raised %s; the payload is dropped, not sent",
                    type(error).__name__,
                )
                return Skipped(Skip.REDACT_FAILED, type(error).__name__)
            read_back = interaction.with_json(redacted) if isinstance(redacted, dict) else None
            if read_back is None:
                self._log.warning("redact-type", "the redact hook must return the payload dict")
                return Skipped(Skip.REDACT_FAILED, "redact returned no payload")
            interaction = read_back
        return interaction

    def _within_caps(self, interaction: Interaction) -> Prepared | Skipped:
        """Encoded once; only a body longer than the field cap can break a cap, so only
        then are fields cut and texts fitted (and the payload encoded again)."""
        settings = self._settings
        sealed = self.seal(interaction.to_json())
        if len(sealed.body) <= min(settings.max_field_bytes, settings.max_payload_bytes):
            return self._shown(sealed)
        capped = size_caps.cap_interaction(interaction, settings.max_field_bytes)
        fitted = size_caps.fit(capped, settings.max_payload_bytes)
        if fitted is None:
            self._log.warning(
                "too-large", "a payload over %d bytes was dropped", settings.max_payload_bytes
            )
            return Skipped(Skip.TOO_LARGE, f"over {settings.max_payload_bytes} bytes")
        return self._shown(self.seal(fitted.to_json()))

    def seal(self, payload: Payload) -> Prepared:
        """Encode with the keys (also for payloads read back from a spool)."""
        return Prepared(payload, encode(payload, *self._settings.secrets))

    def _shown(self, prepared: Prepared) -> Prepared:
        if self._settings.debug:
            logger.info("reconify payload: %s", masked(prepared.payload))
        return prepared
