"""The bridge's ASGI application.

Plain ASGI rather than Starlette: three routes do not need a framework, the body is
read chunk by chunk so the size cap holds before a byte more is buffered, and the
only dependency left is the server (uvicorn).

Order of checks, cheapest first and none of them reading the body: ambiguous framing
(400, connection closed; the served bridge refuses it before h11 reads the head, this is
for other servers), without a token the Host header (403), path (404), method (405),
token (401), content type and encoding (415); then the body (413, 408; 429 past the
memory budget), load (429), and in a worker thread decoding (400, 413) and forwarding
(200, 503).

``POST /v1/logs`` takes the GenAI log events of calls (``otlp_logs``) the same way, each
check the same; they are decoded and kept in the decoding thread, never in a worker, and
have slots of their own: trace requests waiting for events (``arrivals``) hold workers
and slots, and must not keep out the events they wait for.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import math
import traceback
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from reconify_otel.bridge import wire
from reconify_otel.bridge.budget import Charge, MemoryBudget, OverBudget
from reconify_otel.bridge.config import MAX_RETRY_AFTER, BridgeConfig, loopback_host_header
from reconify_otel.bridge.forward import DedupWindow, Forwarder
from reconify_otel.delivery.pipeline import Pipeline
from reconify_otel.runtime.counters import Counters, Event
from reconify_otel.runtime.logs import RateLimitedLog
from reconify_otel.settings import Settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

TRACES_PATH = "/v1/traces"
LOGS_PATH = "/v1/logs"
HEALTH_PATH = "/healthz"

logger = logging.getLogger("reconify_otel.bridge")


class _Answer(Exception):
    """An early HTTP answer raised from inside request handling."""

    def __init__(
        self, status: int, message: str, retry_after: float | None = None, close: bool = False
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after
        self.close = close


class BridgeApp:
    """OTLP/HTTP traces (and the GenAI log events of their calls) in, Reconify interactions
    out. Owns its delivery ``Pipeline``, closed at ASGI lifespan shutdown, after the server
    has drained in-flight requests."""

    def __init__(self, settings: Settings, config: BridgeConfig) -> None:
        self.settings = settings
        self.config = config
        self.counters = Counters("bridge")
        self._log = RateLimitedLog(logger)
        self.window = DedupWindow(config.dedup_window)
        # With the bridge's counters, so that retries show in /healthz.
        self._pipeline = Pipeline(settings, self.counters)  # the undelivered: handed back
        self._forwarder = Forwarder(
            settings,
            self._pipeline,
            self.window,
            self.counters,
            config.retry_after,
            config.events_wait,
            # Waiting holds a slot: one is always left for requests that need not wait.
            max_waiters=max(1, config.max_in_flight - 1),
        )
        self.budget = MemoryBudget(config.max_request_memory)
        self._token = config.token.reveal().encode() if config.token is not None else None
        # One thread per admitted request: decoding and sending never block the loop.
        self._workers = ThreadPoolExecutor(config.max_in_flight, "reconify-bridge")
        # Decoding holds the GIL, so one thread loses nothing; and one thread is one malloc
        # arena: what a large body freed is reused by the next, not kept per thread
        # (8 worker threads each kept a parsed body's worth, +100 MiB beyond the budget).
        self._decoder = ThreadPoolExecutor(1, "reconify-bridge-decode")
        self._in_flight = 0
        self._logs_in_flight = 0

    def close(self) -> None:
        """Stop sending (a pending retry ends at once) and release threads. Idempotent."""
        self._pipeline.close()
        self._workers.shutdown(wait=False, cancel_futures=True)
        self._decoder.shutdown(wait=False, cancel_futures=True)

    @property
    def closed(self) -> bool:
        return self._pipeline.closed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        content_type = wire.media_type(headers.get("content-type", ""))
        framing = wire.framing_error((name.lower(), value) for name, value in scope["headers"])
        charge = self.budget.charge()
        try:
            if framing is not None:  # what follows on this connection cannot be trusted
                raise _Answer(400, framing, close=True)
            if self._token is None and not _names_this_machine(scope["headers"]):
                raise _Answer(403, "without a token the bridge answers only Host: localhost")
            if scope["path"] == HEALTH_PATH and scope["method"] in ("GET", "HEAD"):
                health = json.dumps({"status": "ok", **self.stats()}).encode()
                await _respond(send, 200, health, wire.JSON)
                return
            self._check_request(scope, headers, content_type)
            # A slot is taken only once the body is in, and reading it has a deadline:
            # clients that stall mid-upload cannot starve the ones that send.
            body = await self._read_body_in_time(headers, receive, charge)
            logs = scope["path"] == LOGS_PATH
            self._admit(logs)
            try:
                loop = asyncio.get_running_loop()
                if logs:
                    answer = await loop.run_in_executor(
                        self._decoder, self._keep_events, body, content_type, headers, charge
                    )
                    del body
                else:
                    request = await loop.run_in_executor(
                        self._decoder, self._decode, body, content_type, headers, charge
                    )
                    del body
                    answer = await loop.run_in_executor(
                        self._workers, self._forward, request, content_type
                    )
                    del request
            finally:
                self._leave(logs)
        except _Answer as early:
            self.counters.add(Event.answered(early.status))
            payload, kind = wire.encode_error(content_type, early.status, early.message)
            await _respond(send, early.status, payload, kind, early.retry_after, early.close)
            return
        except _Disconnected:
            return
        finally:
            charge.release()
        self.counters.add(Event.HTTP_200)
        await _respond(send, 200, answer, wire.answer_type(content_type))

    async def _read_body_in_time(
        self, headers: dict[str, str], receive: Receive, charge: Charge
    ) -> bytearray:
        try:
            return await asyncio.wait_for(
                self._read_body(headers, receive, charge), self.config.body_timeout
            )
        except asyncio.TimeoutError:
            self.counters.add(Event.BODY_TIMEOUTS)
            raise _Answer(408, "request body not received in time") from None

    def _check_request(self, scope: Scope, headers: dict[str, str], content_type: str) -> None:
        if scope["path"] not in (TRACES_PATH, LOGS_PATH):
            raise _Answer(
                404, f"no such path; OTLP traces go to POST {TRACES_PATH}, logs to {LOGS_PATH}"
            )
        if scope["method"] != "POST":
            raise _Answer(405, f"{scope['path']} accepts POST only")
        if self._token is not None and not _token_matches(headers, self._token):
            raise _Answer(401, "missing or wrong Authorization: Bearer token")
        if content_type not in wire.CONTENT_TYPES:
            raise _Answer(415, f"Content-Type must be {' or '.join(wire.CONTENT_TYPES)}")
        if headers.get("content-encoding", "").strip().lower() not in wire.ENCODINGS:
            raise _Answer(415, "Content-Encoding must be gzip, deflate or none")

    async def _read_body(
        self, headers: dict[str, str], receive: Receive, charge: Charge
    ) -> bytearray:
        limit = self.config.max_body_bytes
        over = _Answer(413, f"body over {limit} bytes")
        declared = headers.get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > limit:
            raise over
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected
            chunk = message.get("body", b"")
            if len(body) + len(chunk) > limit:
                raise over
            self._take(charge, len(chunk))
            body += chunk
            if not message.get("more_body", False):
                return body

    def _take(self, charge: Charge, size: int) -> None:
        try:
            charge.take(size)
        except OverBudget as over:
            self.counters.add(Event.OVER_MEMORY)
            if over.alone:
                raise _Answer(413, "request over RECONIFY_BRIDGE_MAX_REQUEST_MEMORY") from None
            raise _Answer(429, "bridge busy, retry later", retry_after=1.0) from None

    def _decode(
        self,
        body: bytearray,
        content_type: str,
        headers: dict[str, str],
        charge: Charge,
        into: Any = None,
    ) -> Any:
        """In the decoding thread: the request (``into``, by default an
        ``ExportTraceServiceRequest``), else ``_Answer`` (400, 413, 429)."""
        encoding = headers.get("content-encoding", "").strip().lower()
        try:
            return wire.decode_into(
                into if into is not None else ExportTraceServiceRequest(),
                body,
                content_type,
                encoding,
                self.config.max_decompressed_bytes,
                lambda size: self._take(charge, size),
            )
        except wire.TooLarge as error:
            raise _Answer(413, str(error)) from None
        except wire.BadRequest as error:
            raise _Answer(400, str(error)) from None

    def _admit(self, logs: bool) -> None:
        """Take a slot (logs requests have their own), else 429."""
        taken = self._logs_in_flight if logs else self._in_flight
        if taken >= self.config.max_in_flight:
            self.counters.add(Event.OVERLOADED)
            raise _Answer(429, "bridge busy, retry later", retry_after=1.0)
        if logs:
            self._logs_in_flight += 1
        else:
            self._in_flight += 1

    def _leave(self, logs: bool) -> None:
        if logs:
            self._logs_in_flight -= 1
        else:
            self._in_flight -= 1

    def _keep_events(
        self, body: bytearray, content_type: str, headers: dict[str, str], charge: Charge
    ) -> bytes:
        """In the decoding thread: quick (a name check per record), and no worker is
        needed, so spans waiting in every worker still get their events."""
        request = self._decode(body, content_type, headers, charge, ExportLogsServiceRequest())
        try:
            self._forwarder.receive_logs(request)  # reads them all, then keeps them
        except Exception as error:
            raise self._internal_fault(error) from None
        return wire.encode_message(content_type, ExportLogsServiceResponse())[0]

    def _forward(self, request: ExportTraceServiceRequest, content_type: str) -> bytes:
        """In a worker thread: send what the batch holds; the 200 answer, else 503."""
        try:
            verdict = self._forwarder.forward(request)
        except Exception as error:
            raise self._internal_fault(error) from None
        if verdict.retry_after is not None:
            # 503, never 500: the Collector retries 503 and drops the batch on 500.
            raise _Answer(503, "Reconify is unavailable; retry later", verdict.retry_after)
        return wire.encode_response(content_type, verdict.rejected, verdict.message)[0]

    def _internal_fault(self, error: Exception) -> _Answer:
        """A fault of the bridge's own (mapping never raises; nothing else should): counted
        as ``internal_errors`` and answered 503 with ``Retry-After``, as an outage is, never
        uvicorn's 500, on which the Collector drops the batch. A retry loses nothing: the
        spans not settled were released with their events (``Forwarder.forward``), those
        delivered are not sent again, and a logs request keeps its events only once all are
        read. One that fails every time costs the Collector's retries (backing off, up to
        its ``max_elapsed_time``), then the batch: what a 500 would cost at once."""
        self.counters.add(Event.INTERNAL_ERRORS)
        where = traceback.extract_tb(error.__traceback__)[-1:]
        self._log.log(
            logging.ERROR,
            "internal",
            "bridge fault (%s at %s); answered 503",  # never the message: it may hold data
            type(error).__name__,
            ", ".join(f"{Path(f.filename).name}:{f.lineno}" for f in where) or "?",
        )
        return _Answer(503, "bridge fault; retry later", self.config.retry_after)

    def stats(self) -> dict[str, int]:
        """Counters for /healthz: requests by status, spans by outcome; never a key."""
        held = self._forwarder.events_held()  # counts the expired as events_unjoined
        counts = self.counters.snapshot()
        return {
            "events_unjoined": 0,
            **counts,
            "in_flight": self._in_flight + self._logs_in_flight,
            "dedup_entries": len(self.window),
            "request_memory": self.budget.used,
            "events_held": held,
        }


class _Disconnected(Exception):
    """The client went away before its body arrived; nothing to answer."""


def _names_this_machine(headers: list[tuple[bytes, bytes]]) -> bool:
    """One Host header, naming this machine (a second one could name another)."""
    hosts = [value for name, value in headers if name.lower() == b"host"]
    return len(hosts) == 1 and loopback_host_header(hosts[0].decode("latin-1"))


def _token_matches(headers: dict[str, str], token: bytes) -> bool:
    scheme, _, given = headers.get("authorization", "").partition(" ")
    # compare_digest: the time taken does not tell how much of a guess was right.
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token)


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    content_type: str,
    retry_after: float | None = None,
    close: bool = False,
) -> None:
    headers = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    if retry_after is not None:
        # Capped: Reconify's "come back tomorrow" must not park the Collector's queue.
        seconds = max(1, math.ceil(min(retry_after, MAX_RETRY_AFTER)))
        headers.append((b"retry-after", str(seconds).encode()))
    if close:  # the server closes the connection after this answer
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
