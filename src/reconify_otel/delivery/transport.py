"""Sending encoded payloads to Reconify over one pooled keep-alive ``requests.Session``.

Modelled on opentelemetry-exporter-otlp-proto-http: retry only 429, 502, 503, 504,
connection errors and timeouts, with jittered exponential backoff that a
``Retry-After`` replaces, all attempts within one deadline, and a backoff sleep that
``close()`` interrupts. Never raises: every payload ends with a ``Result``.
"""

from __future__ import annotations

import email.utils
import gzip
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

import requests
from opentelemetry.instrumentation.utils import suppress_instrumentation

from reconify_otel.runtime.counters import Counters
from reconify_otel.runtime.forksafe import reset_after_fork
from reconify_otel.runtime.logs import RateLimitedLog
from reconify_otel.settings import Settings

logger = logging.getLogger("reconify_otel")

RETRYABLE_STATUS = frozenset({429, 502, 503, 504})
# One more sending thread per this much round trip: below it, threads cost more than they save.
_SECONDS_PER_THREAD = 0.001
T = TypeVar("T")


class Outcome(str, Enum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"  # a permanent answer: not retried
    FAILED = "failed"  # transient failures until the deadline ran out
    SHUT_DOWN = "shut_down"  # the transport closed before delivery


@dataclass(frozen=True, slots=True)
class Result:
    outcome: Outcome
    status: int | None = None
    attempts: int = 0
    retry_after: float | None = None  # the last Retry-After the endpoint asked for


class Transport:
    initial_backoff = 1.0

    def __init__(self, settings: Settings, counters: Counters | None = None) -> None:
        self._settings = settings
        self._counters = counters if counters is not None else Counters("transport")
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._log = RateLimitedLog(logger)
        self._start()
        reset_after_fork(self)

    def _start(self) -> None:
        self._pid = os.getpid()
        self._session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(
            pool_connections=1, pool_maxsize=self._settings.concurrency, max_retries=0
        )
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        # The environment is read once here, not on every request as ``trust_env`` does
        # (a .netrc lookup and a scan of os.environ per POST cost ~10% of throughput):
        # HTTPS_PROXY / NO_PROXY and REQUESTS_CA_BUNDLE keep working.
        self._session.trust_env = False
        self._session.proxies = requests.utils.get_environ_proxies(self._settings.endpoint)
        self._session.verify = (  # never off
            self._settings.ca_bundle
            or os.environ.get("REQUESTS_CA_BUNDLE")
            or os.environ.get("CURL_CA_BUNDLE")
            or True
        )
        self._session.headers.update(
            {"User-Agent": self._settings.user_agent, "Content-Type": "application/json"}
        )
        self._pool: ThreadPoolExecutor | None = None
        # Round-trip estimate (s); starts as a WAN would look, then follows the endpoint.
        self._latency = 0.05

    def _after_fork(self) -> None:
        # The parent's pool threads and sockets do not exist in the child.
        self._lock = threading.Lock()
        self._start()

    def send_all(self, bodies: Sequence[bytes]) -> list[Result]:
        """Send each body (one interaction each); results in the same order."""
        if self._closed.is_set():
            return [Result(Outcome.SHUT_DOWN) for _ in bodies]
        return self.map(self.send, bodies)

    def map(self, work: Callable[[T], Result], items: Sequence[T]) -> list[Result]:
        """``work`` over ``items`` with as many threads as the endpoint's latency repays.

        A request costs about half a millisecond of CPU here; on loopback extra threads
        only fight over the GIL, across a WAN each one waits. So the calling thread
        works, and helpers join it in proportion to the observed round trip, up to
        ``concurrency``. Workers pull from one shared iterator: no barrier between groups.
        """
        wanted = min(len(items), self._parallelism())
        if wanted <= 1:
            return [work(item) for item in items]
        results: list[Result | None] = [None] * len(items)
        pending = iter(enumerate(items))
        lock = threading.Lock()

        def worker() -> None:
            while True:
                with lock:
                    nxt = next(pending, None)
                if nxt is None:
                    return
                results[nxt[0]] = work(nxt[1])

        helpers = []
        pool = self._executor()
        try:
            for _ in range(wanted - 1):
                if pool is not None:
                    helpers.append(pool.submit(worker))
        except RuntimeError:
            pass  # interpreter exit: no new threads; the calling thread does it all
        worker()
        for helper in helpers:
            helper.result()
        return [r if r is not None else Result(Outcome.SHUT_DOWN) for r in results]

    def _parallelism(self) -> int:
        return max(1, min(self._settings.concurrency, int(self._latency / _SECONDS_PER_THREAD)))

    def send(self, body: bytes) -> Result:
        # Worker threads start with an empty context: suppress tracing of our own
        # HTTP calls here, or an instrumented ``requests`` traces the exporter forever.
        with suppress_instrumentation():
            return self._send(body)

    def _send(self, body: bytes) -> Result:
        settings = self._settings
        deadline = time.monotonic() + settings.timeout
        headers = {}
        if settings.compression == "gzip":
            body = gzip.compress(body, compresslevel=6)
            headers["Content-Encoding"] = "gzip"
        attempt = 0
        status: int | None = None
        retry_after: float | None = None
        while not self._closed.is_set():
            attempt += 1
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            retry_after = None
            began = time.monotonic()
            try:
                response = self._session.post(
                    settings.endpoint, data=body, headers=headers, timeout=remaining
                )
            except requests.RequestException as error:
                status = None
                self._log.warning(
                    f"conn:{type(error).__name__}",
                    "Reconify endpoint unreachable (%s); retrying",
                    type(error).__name__,
                )
            else:
                self._latency += (time.monotonic() - began - self._latency) * 0.2
                status = response.status_code
                if 200 <= status < 300:
                    if _accepted(response):
                        return Result(Outcome.ACCEPTED, status, attempt)
                    self._log.warning(
                        "rejected-2xx",
                        "Reconify answered %s but did not accept the payload: %.200s",
                        status,
                        self._scrubbed(response.text[:1000]),
                    )
                    return Result(Outcome.REJECTED, status, attempt)
                if status not in RETRYABLE_STATUS:
                    self._log.warning(
                        f"status:{status}",
                        "Reconify answered %s; the payload is not retried: %.200s",
                        status,
                        self._scrubbed(response.text[:1000]),
                    )
                    return Result(Outcome.REJECTED, status, attempt)
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
            delay = (
                retry_after if retry_after is not None else _backoff(self.initial_backoff, attempt)
            )
            if time.monotonic() + delay >= deadline:
                break
            self._counters.add("retries")
            self._closed.wait(delay)
        if self._closed.is_set():
            return Result(Outcome.SHUT_DOWN, status, attempt, retry_after)
        self._log.warning(
            f"gave-up:{status}",
            "Reconify delivery failed after %d attempts within %.1fs (last status %s)",
            attempt,
            settings.timeout,
            status,
        )
        return Result(Outcome.FAILED, status, attempt, retry_after)

    def _scrubbed(self, text: str) -> str:
        """An answer's text for a log line, with our keys masked should it echo them."""
        for secret in self._settings.secrets:
            if len(secret) >= 4:  # a one-letter test key would mask every such letter
                text = text.replace(secret, "***")
        return text

    def _executor(self) -> ThreadPoolExecutor | None:
        with self._lock:
            if self._closed.is_set():
                return None
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=self._settings.concurrency, thread_name_prefix="reconify-send"
                )
            return self._pool

    def close(self) -> None:
        """Stop retrying at once, let in-flight requests end, release the pool. Idempotent."""
        self._closed.set()
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        self._session.close()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()


def _accepted(response: requests.Response) -> bool:
    """Reconify says ``{"status": "ok"}``; another JSON status is a rejection."""
    try:
        answer = response.json()
    except ValueError:
        return True
    return not (isinstance(answer, dict) and "status" in answer and answer["status"] != "ok")


def _backoff(initial: float, attempt: int) -> float:
    return float(initial * 2 ** (attempt - 1) * random.uniform(0.8, 1.2))


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
