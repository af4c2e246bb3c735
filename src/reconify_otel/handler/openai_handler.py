"""Reconify's handler API in Python: ``reconify_openai_handler(client, ...)`` logs that
client's LLM calls, ``log_assistant(run, in, out)`` Assistants runs and ``log_chat(...)``
any chat call (Reconify's universal ``logChat``).

Parity with Reconify's modules for code that does not run OpenTelemetry, minus their
defects: a run becomes the record AssistantsInstrumentor produces (``run_attributes``), a
call is shaped by the filters OpenInference's bodies go through (``handler.calls``), and
both pass through the one pipeline, so every route sends the same payload; sending
happens on a background thread, never on the caller's.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from typing_extensions import Unpack

from reconify_otel import identity
from reconify_otel.core.conventions import Kind
from reconify_otel.core.llm import LlmCall
from reconify_otel.core.record import SpanRecord
from reconify_otel.core.run_attributes import (
    ERROR_STATUSES,
    run_span_attributes,
    span_name,
    to_dict,
)
from reconify_otel.delivery.durable import DurableSender
from reconify_otel.delivery.worker import Dispatcher
from reconify_otel.handler.calls import FORMATS, answer_of, flavor_of, known_call, request_text
from reconify_otel.handler.client_calls import ClientCalls
from reconify_otel.prepare import Prepared, Preparer
from reconify_otel.runtime.counters import Event, Stats, delivery_counters
from reconify_otel.runtime.logs import RateLimitedLog, enable_debug_logging
from reconify_otel.settings import ReconifyOptions, Settings, resolve

logger = logging.getLogger("reconify_otel")


class ReconifyHandler:
    """Logs LLM calls and Assistants runs to Reconify; build it with
    ``reconify_openai_handler``."""

    def __init__(self, settings: Settings, client: Any = None) -> None:
        self._settings = settings
        if settings.debug:
            enable_debug_logging()
        self._counters = delivery_counters("handler")
        self._preparer = Preparer(settings, self._counters)
        sender = DurableSender(settings, self._counters, self._preparer)
        self._dispatcher = Dispatcher(sender, self._counters, max_queue=settings.max_queue)
        self._log = RateLimitedLog(logger)
        self._client_calls: ClientCalls | None = None
        if client is not None:
            self._client_calls = ClientCalls(client, self._log_call, self._internal_error)
            if not self._client_calls.wrapped:
                logger.warning(
                    "reconify_openai_handler: %s has no chat.completions, completions or "
                    "responses to log; only log_assistant/log_chat calls are sent",
                    type(client).__name__,
                )

    def __repr__(self) -> str:
        return f"ReconifyHandler(endpoint={self._settings.endpoint!r})"

    def log_assistant(self, run: Any, message_in: Any, message_out: Any) -> bool:
        """Queue one interaction; returns at once. False (counted, logged) when skipped.

        Accepts ``openai`` objects or plain dicts. Never raises into the application.
        """
        try:
            record = self._record(run, message_in, message_out)
            return record is not None and self._submit(record)
        except Exception:
            self._internal_error()
            return False

    def log_chat(
        self,
        request: Mapping[str, Any],
        response: Any,
        started_ms: float | None = None,
        ended_ms: float | None = None,
        format: str = "universal",  # the name Reconify's logChat uses
    ) -> bool:
        """Queue one LLM call, like Reconify's universal ``logChat``; returns at once. False
        (counted, logged) when skipped. Never raises into the application.

        ``request``: the call's keyword arguments; ``response``: what it returned. The
        ``format`` is Reconify's: ``universal`` (the default: any OpenAI-compatible chat
        API, request and answer sent as given, the answer JSON or its text), ``mistral``,
        ``cohere`` (a v1 ``chat``), ``gemini`` (``generateContent``) and ``bedrock``
        (``invoke_model``'s keyword arguments and ``{requestId, body}``), all four as
        given, ``openai`` (a ``ChatCompletion``, ``Completion`` or ``Response``, shaped as
        the other routes send it) or ``anthropic`` (a ``Message``); objects or dicts.
        Times are epoch milliseconds, a missing one is now.
        """
        try:
            answer = answer_of(format, response)
            flavor = text = None
            if answer is not None and isinstance(request, Mapping):
                flavor = flavor_of(format, request, answer)
                text = _request_json(request)
            if answer is None or flavor is None or text is None:
                self._counters.add(Event.SKIPPED_BAD_INPUT)
                self._log.warning(
                    "bad-chat",
                    "log_chat needs the request dict (JSON-writable) and the %s response, "
                    "got %s and %s",
                    format if format in FORMATS else " or ".join(FORMATS),
                    type(request).__name__,
                    type(response).__name__,
                )
                return False
            now = time.time_ns()
            start = _to_ns(started_ms, now, _NS_PER_MS)
            end = _to_ns(ended_ms, now, _NS_PER_MS)
            return self._log_call(flavor, text, answer, start, end, identity.span_attributes())
        except Exception:
            self._internal_error()
            return False

    def _log_call(
        self,
        flavor: Kind,
        request: str,
        answer: Any,
        start_ns: int,
        end_ns: int,
        captured: identity.Captured,
    ) -> bool:
        """One LLM call, from ``log_chat`` or the client's wrapped methods."""
        if answer is None:  # a stream abandoned before its first chunk
            self._counters.add(Event.SKIPPED_NO_ANSWER)
            return False
        if not self._preparer.selects.takes(flavor):
            return False
        known = known_call(flavor, request, answer, start_ns, end_ns, captured)
        if known is None:
            self._counters.add(Event.SKIPPED_BAD_INPUT)
            self._log.warning("bad-answer", "an LLM call returned no object to log; skipped")
            return False
        return self._submit(*known)

    def _submit(self, record: SpanRecord, call: LlmCall | None = None) -> bool:
        """Map, shape and queue one record (or call), if ``interactions`` asks for its
        kind."""
        if call is None:
            found = self._preparer.selects.classify(record.name, record.attributes)
            if found is None:
                return False
            record = replace(record, classification=found)
        prepared = self._preparer.prepare(record, call)
        return isinstance(prepared, Prepared) and self._dispatcher.submit(prepared)

    def _internal_error(self) -> None:
        self._counters.add(Event.INTERNAL_ERRORS)
        self._log.log(logging.ERROR, "internal", "reconify handler failed", exc_info=True)

    def _record(self, run: Any, message_in: Any, message_out: Any) -> SpanRecord | None:
        run_d = to_dict(run)
        if run_d is None or not run_d.get("id"):
            self._counters.add(Event.SKIPPED_BAD_INPUT)
            self._log.warning(
                "bad-run",
                "log_assistant needs a Run object or dict with an id, got %s",
                type(run).__name__,
            )
            return None
        answers = [message_out] if message_out is not None else []
        attrs = identity.with_identity(
            run_span_attributes(run_d, message_in, answers), identity.span_attributes()
        )
        now = time.time_ns()
        start = _to_ns(run_d.get("started_at") or run_d.get("created_at"), now)
        end = _to_ns(run_d.get("completed_at"), now)
        return SpanRecord(
            name=span_name(run_d),
            attributes=attrs,
            start_ns=start,
            end_ns=max(start, end),
            is_error=run_d.get("status") in ERROR_STATUSES,
        )

    # Parity with Reconify's setUser / setSession / setSessionTimeout: process-wide.
    def set_user(self, user: Mapping[str, Any] | None) -> None:
        identity.set_user(user)

    def set_session(self, session_id: str | None) -> None:
        identity.set_session(session_id)

    def set_session_timeout(self, minutes: int | None) -> None:
        identity.set_session_timeout(minutes)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued interaction was handled; False on timeout."""
        return self._dispatcher.flush(timeout)

    def close(self, timeout: float = 10.0) -> bool:
        """Give the client its own methods back, flush within ``timeout`` and stop. Also
        done, bounded, at interpreter exit (the client keeps logging until ``close()``)."""
        if self._client_calls is not None:
            self._client_calls.restore()
        return self._dispatcher.close(timeout)

    def stats(self) -> Stats:
        """The same counters as ``ReconifySpanExporter.stats()``."""
        return self._counters.stats()


def reconify_openai_handler(
    openai_client: Any = None,
    *,
    app_key: str | None = None,
    api_key: str | None = None,
    endpoint: str | None = None,
    **options: Unpack[ReconifyOptions],
) -> ReconifyHandler:
    """Like Reconify's ``reconifyOpenAIHandler(openai, {appKey, apiKey, debug})``.

    ``openai_client`` (an ``OpenAI`` or ``AsyncOpenAI`` client, or None): its
    ``chat.completions.create``, ``completions.create`` and ``responses.create`` calls
    are logged until ``close()``; only that client instance is changed. The other options
    and their ``RECONIFY_*`` fallbacks are the exporter's (README).
    """
    # All go, by name, to the one validator (tests/test_options.py checks they are the
    # options of settings.OPTIONS).
    settings = resolve(endpoint=endpoint, app_key=app_key, api_key=api_key, **options)
    return ReconifyHandler(settings, openai_client)


_NS_PER_S, _NS_PER_MS = 1_000_000_000, 1_000_000


def _request_json(request: Mapping[str, Any]) -> str | None:
    """The caller's request as JSON; None when JSON cannot write it (a cycle, odd keys)."""
    try:
        return request_text(request)
    except (TypeError, ValueError, RecursionError):
        return None


def _to_ns(time_value: Any, fallback: int, ns_per_unit: int = _NS_PER_S) -> int:
    """Epoch seconds (runs) or milliseconds (``log_chat``) as ns. Reconify's Node module
    turns a null time into 0; here it becomes now."""
    if isinstance(time_value, bool) or not isinstance(time_value, (int, float)):
        return fallback
    if isinstance(time_value, float) and not math.isfinite(time_value):
        return fallback
    return int(time_value * ns_per_unit) if time_value > 0 else fallback
