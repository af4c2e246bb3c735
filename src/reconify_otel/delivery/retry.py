"""When to try again: the retry and deadline policy in front of an ``HttpTransport``.

Modelled on opentelemetry-exporter-otlp-proto-http: retry only 429, 502, 503, 504,
connection errors and timeouts, with jittered exponential backoff that a
``Retry-After`` replaces, all attempts within one deadline, and a backoff sleep that
``close()`` interrupts. Never raises: every payload ends with a ``Result``.

What is not Reconify answering is not a delivery: a redirect (never followed) and a 2xx
without Reconify's ``{"status": "ok"}`` (a proxy's page, an empty or cut-short answer) end
the send at once as FAILED, so the payload is kept and the endpoint counts as down. So do
a 1xx taken for the answer and a proxy's 407 (a local misconfiguration, not a rejection).
"""

from __future__ import annotations

import email.utils
import gzip
import json
import logging
import math
import random
import re
import threading
import time
from datetime import timezone
from typing import Any
from urllib.parse import unquote, urljoin

from opentelemetry.instrumentation.utils import suppress_instrumentation

from reconify_otel.delivery.outcome import Outcome, Result
from reconify_otel.delivery.requests_transport import RequestsTransport
from reconify_otel.delivery.transport import (
    HttpAnswer,
    HttpTransport,
    Unreachable,
    shown_endpoint,
)
from reconify_otel.runtime.counters import Counters, Event
from reconify_otel.runtime.logs import RateLimitedLog
from reconify_otel.settings import Settings

logger = logging.getLogger("reconify_otel")

RETRYABLE_STATUS = frozenset({429, 502, 503, 504})
# Longer than anyone should be asked to wait; a hostile header cannot stop delivery longer.
MAX_RETRY_AFTER = 3600.0
PROXY_AUTHENTICATION_REQUIRED = 407
_MEDIA_TYPE = re.compile(r"[\w.+-]+/[\w.+-]+", re.ASCII)


class RetryingSender:
    initial_backoff = 1.0

    def __init__(
        self,
        settings: Settings,
        counters: Counters | None = None,
        transport: HttpTransport | None = None,
    ) -> None:
        self._settings = settings
        self._counters = counters if counters is not None else Counters("transport")
        transport = transport if transport is not None else settings.transport
        self._transport = transport if transport is not None else RequestsTransport(settings)
        self._closed = threading.Event()
        self._log = RateLimitedLog(logger)
        self.endpoint = shown_endpoint(settings.endpoint)

    def send(
        self, body: bytes, deadline: float | None = None, *, single_attempt: bool = False
    ) -> Result:
        """Attempts until accepted, rejected, ``deadline`` (monotonic; at most ``timeout``
        from now) or ``close()``. ``single_attempt``: one try, as a probe of a down endpoint."""
        # Worker threads start with an empty context: suppress tracing of our own
        # HTTP calls here, or an instrumented ``requests`` traces the exporter forever.
        with suppress_instrumentation():
            return self._send(body, deadline, single_attempt)

    def _send(self, body: bytes, deadline: float | None, single_attempt: bool) -> Result:
        settings = self._settings
        own = time.monotonic() + settings.timeout
        deadline = own if deadline is None else min(deadline, own)
        headers = {}
        if settings.compression == "gzip":
            body = gzip.compress(body, compresslevel=6)
            headers["Content-Encoding"] = "gzip"
        attempt = 0
        status: int | None = None
        retry_after: float | None = None
        while not self._closed.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            attempt += 1
            retry_after = None
            try:
                answer = self._transport.post(body, headers, remaining)
            except Unreachable as error:
                status = None
                self._log.warning(
                    f"conn:{error}", "Reconify endpoint %s unreachable (%s)", self.endpoint, error
                )
            except Exception as error:  # an injected transport's surprise: one attempt lost
                status = None
                self._log.warning(
                    f"transport:{type(error).__name__}",
                    "Reconify transport raised %s for %s",
                    type(error).__name__,
                    self.endpoint,
                )
            else:
                status = answer.status
                final = self._final(answer, attempt)
                if final is not None:
                    return final
                retry_after = parse_retry_after(answer.headers.get("Retry-After"))
            if single_attempt:
                break
            delay = (
                retry_after if retry_after is not None else _backoff(self.initial_backoff, attempt)
            )
            if time.monotonic() + delay >= deadline:
                break
            self._counters.add(Event.RETRIES)
            self._closed.wait(delay)
        if self._closed.is_set():
            return Result(Outcome.SHUT_DOWN, status, attempt, retry_after)
        if attempt and not single_attempt:
            self._log.warning(
                f"gave-up:{status}",
                "Reconify delivery to %s failed after %d attempts (last status %s)",
                self.endpoint,
                attempt,
                status,
            )
        return Result(Outcome.FAILED, status, attempt, retry_after)

    def _final(self, answer: HttpAnswer, attempt: int) -> Result | None:
        """Accepted, rejected, or kept for later (FAILED at once); None when the status is
        worth another try now."""
        status = answer.status
        if status < 200 or status == PROXY_AUTHENTICATION_REQUIRED:
            self._log.warning(
                f"not-final:{status}",
                "Reconify endpoint %s: %s answered %s; the payloads are kept%s",
                self.endpoint,
                "a proxy" if status == PROXY_AUTHENTICATION_REQUIRED else "it",
                status,
                ". Check the proxy's credentials (HTTPS_PROXY) or NO_PROXY"
                if status == PROXY_AUTHENTICATION_REQUIRED
                else " (an informational answer, not a verdict)",
            )
            return Result(Outcome.FAILED, status, attempt)
        if 300 <= status < 400:  # never followed: the keys go to the configured host only
            self._counters.add(Event.REDIRECTED)
            self._log.warning(
                f"redirect:{status}",
                "Reconify endpoint %s answered %s, a redirect to %s: not followed, the "
                "payloads are kept. Set the endpoint to the address Reconify gave you",
                self.endpoint,
                status,
                self._scrubbed(_target(self._settings.endpoint, answer.headers.get("Location"))),
            )
            return Result(Outcome.FAILED, status, attempt)
        if 200 <= status < 300:
            verdict = _verdict(answer.text)
            if verdict is True:
                return Result(Outcome.ACCEPTED, status, attempt)
            if verdict is None:  # a proxy's or captive portal's page, empty, cut short
                self._counters.add(Event.UNCONFIRMED)
                self._log.warning(
                    f"unconfirmed:{status}",
                    "Reconify endpoint %s answered %s (%s) without Reconify's "
                    '{"status": "ok"}: not counted as delivered, the payloads are kept',
                    self.endpoint,
                    status,
                    self._media_type(answer.headers.get("Content-Type")),
                )
                return Result(Outcome.FAILED, status, attempt)
            self._log.warning(
                "rejected-2xx",
                "Reconify (%s) answered %s but did not accept the payload: %.200s",
                self.endpoint,
                status,
                self._scrubbed(answer.text[:1000]),
            )
            return Result(Outcome.REJECTED, status, attempt)
        if status in RETRYABLE_STATUS:
            return None
        self._log.warning(
            f"status:{status}",
            "Reconify (%s) answered %s; the payload is not retried: %.200s",
            self.endpoint,
            status,
            self._scrubbed(answer.text[:1000]),
        )
        return Result(Outcome.REJECTED, status, attempt)

    def _scrubbed(self, text: str) -> str:
        """An answer's text for a log line, with our keys masked should it echo them: in
        any letter case, and withheld whole when it holds one percent-encoded."""
        secrets = [secret for secret in self._settings.secrets if len(secret) >= 4]
        for secret in secrets:  # a one-letter test key would mask every such letter
            text = re.sub(re.escape(secret), "***", text, flags=re.IGNORECASE)
        decoded = text
        for _ in range(3):  # %2541 is %41 is A
            decoded = unquote(decoded)
        if decoded != text and any(secret.lower() in decoded.lower() for secret in secrets):
            return "(withheld: it holds a Reconify key, percent-encoded)"
        return text

    def _media_type(self, value: str | None) -> str:
        """Only a Content-Type's media type token (``text/html``) for a log line."""
        if not value:
            return "no content type"
        found = _MEDIA_TYPE.match(value.strip())
        media = found.group() if found else "other"
        return media if self._scrubbed(media) == media else "other"

    def close(self) -> None:
        """Stop retrying at once; requests in flight end on their own. Idempotent."""
        self._closed.set()
        self._transport.close()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()


def _verdict(text: str) -> bool | None:
    """True for Reconify's ``{"status": "ok"}``, False for another status (a rejection),
    None when the answer is not Reconify's at all."""
    try:
        answer: Any = json.loads(text)
    except ValueError:
        return None
    if not isinstance(answer, dict) or "status" not in answer:
        return None
    return bool(answer["status"] == "ok")


def _target(endpoint: str, location: str | None) -> str:
    """Where a redirect points, as ``scheme://host/path``: no query, user info or key."""
    if not location:
        return "(no Location)"
    try:
        shown = shown_endpoint(urljoin(endpoint, location.strip()))
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return "(an unusable Location)"
    if "%" in shown:  # percent-encoded text could hide a key from the scrubber: no path
        scheme, _, rest = shown.partition("://")
        host = rest.split("/", 1)[0]
        shown = "(a percent-encoded Location)" if "%" in host else f"{scheme}://{host}/..."
    return _printable(shown, 300)


def _printable(text: str, limit: int) -> str:
    """An endpoint's header for a log line: no control characters, bounded."""
    return "".join(c if c.isprintable() else "?" for c in text[:limit])


def _backoff(initial: float, attempt: int) -> float:
    return float(initial * 2 ** (attempt - 1) * random.uniform(0.8, 1.2))


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), within
    [0, ``MAX_RETRY_AFTER``]; None when absent or unusable (NaN, infinity, garbage)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:  # HTTP dates are GMT; a naive one must not be read as local
            when = when.replace(tzinfo=timezone.utc)
        try:
            seconds = when.timestamp() - time.time()
        except (OverflowError, OSError, ValueError):
            return None
    if not math.isfinite(seconds):
        return None
    return min(MAX_RETRY_AFTER, max(0.0, seconds))
