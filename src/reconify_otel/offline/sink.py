"""A Reconify-compatible sink on 127.0.0.1 with scriptable faults.

The exporter's retry, back-off and delivery guarantees can only be checked against an
endpoint that misbehaves on cue, so this sink answers like Reconify (200
``{"status": "ok"}``) until told to fail, and records only what it accepted: a payload
that got a fault was not delivered, and counting it would hide lost data.

Run ``python -m reconify_otel.offline.sink [--port 0] [--hold-ms 20]`` to serve from a
separate process (benchmarks), so the sink's threads do not compete with the client's.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import zlib
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from reconify_otel.offline.loopback import LoopbackHandler, LoopbackServer

__all__ = ["Answer", "Attempt", "Received", "ReconifySink", "main"]

AnswerKind = Literal["ok", "status", "reply", "hang", "drop", "slow"]

_OK_BODY = b'{"status":"ok"}'
_ERROR_BODY = b'{"status":"error"}'
# Control endpoints; every other path behaves like Reconify's track endpoint.
_RESET_PATH = "/reset"
_STATS_PATH = "/stats"
_HEALTH_PATH = "/healthz"


def _is_ok_body(body: bytes) -> bool:
    try:
        parsed = json.loads(body)
    except ValueError:
        return False
    return isinstance(parsed, dict) and parsed.get("status") == "ok"


@dataclass(frozen=True)
class Answer:
    """How the sink answers one request; build with the class methods, not directly."""

    kind: AnswerKind
    code: int | None = 200
    body: bytes = _OK_BODY
    headers: Mapping[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @classmethod
    def ok(cls) -> Answer:
        """Accept the payload, as Reconify does."""
        return cls("ok")

    @classmethod
    def status(
        cls, code: int, body: bytes = b"", headers: Mapping[str, str] | None = None
    ) -> Answer:
        """Answer a raw status, e.g. ``status(429, headers={"Retry-After": "1"})``."""
        return cls("status", code, body, dict(headers or {}))

    @classmethod
    def reply(cls, code: int, json_obj: Any) -> Answer:
        """Answer a JSON body; ``reply(200, {"status": "error"})`` is a 2xx rejection."""
        return cls("reply", code, json.dumps(json_obj).encode())

    @classmethod
    def hang(cls, seconds: float) -> Answer:
        """Read the request, never answer, close after ``seconds`` (or when the sink stops)."""
        return cls("hang", None, b"", {}, seconds)

    @classmethod
    def drop(cls) -> Answer:
        """Reset the connection without answering."""
        return cls("drop", None, b"")

    @classmethod
    def slow(cls, seconds: float) -> Answer:
        """Record the payload, then answer 200 ok after ``seconds``.

        A client that gives up first has still delivered: the duplicate-on-retry case.
        """
        return cls("slow", seconds=seconds)

    @property
    def accepted(self) -> bool:
        """Whether a client should count this answer as delivery (2xx and status "ok")."""
        if self.kind in ("ok", "slow"):
            return True
        if self.kind in ("status", "reply") and self.code is not None:
            return 200 <= self.code < 300 and _is_ok_body(self.body)
        return False


@dataclass(frozen=True)
class Received:
    """One accepted payload; ``body_size`` is bytes on the wire (compressed if it was)."""

    payload: dict[str, Any]
    headers: dict[str, str]
    path: str
    body_size: int
    at: float  # time.monotonic() on arrival


@dataclass(frozen=True)
class Attempt:
    """One POST as the client saw it, for checking retry counts and back-off spacing."""

    path: str
    kind: AnswerKind | Literal["invalid"]
    status: int | None  # None when no answer was sent (hang, drop)
    at: float  # time.monotonic() on arrival


class _SinkHandler(LoopbackHandler):
    @property
    def sink(self) -> ReconifySink:
        return cast(ReconifySink, self.owner)

    def do_GET(self) -> None:
        path = self.path_only
        if path == _HEALTH_PATH:
            self.send_whole(200, _OK_BODY)
        elif path == _STATS_PATH:
            self.send_whole(200, json.dumps(self.sink.stats()).encode())
        else:
            self.send_whole(404, b'{"status":"not found"}')

    def do_POST(self) -> None:
        sink = self.sink
        path = self.path_only
        if path == _RESET_PATH:
            self.read_body()
            sink.clear()
            self.send_whole(200, _OK_BODY)
            return
        arrived = time.monotonic()
        raw_size = int(self.headers.get("Content-Length") or 0)
        try:
            payload = json.loads(self.read_body())
        except (ValueError, OSError, EOFError, zlib.error):
            payload = None
        if not isinstance(payload, dict):
            # A malformed body is a client bug, not a fault: it must not eat a scripted answer.
            sink._note_attempt(Attempt(path, "invalid", 400, arrived), invalid=True)
            self.send_whole(400, b'{"status":"error","error":"body is not a JSON object"}')
            return
        answer = sink._next_answer()
        status = answer.code if answer.kind not in ("hang", "drop") else None
        sink._note_attempt(Attempt(path, answer.kind, status, arrived))
        if answer.accepted:
            sink._record(Received(payload, dict(self.headers.items()), path, raw_size, arrived))
            sink._pause(answer.seconds + sink.hold_ms / 1000.0)
        if answer.kind == "hang":
            sink._pause(answer.seconds)
            self.close_connection = True
        elif answer.kind == "drop":
            self.drop_connection()
        else:
            self.send_whole(answer.code or 200, answer.body, headers=dict(answer.headers))


class ReconifySink(LoopbackServer):
    """Loopback Reconify endpoint: records accepted payloads, injects scripted faults.

    Thread-safe: tests script faults from their own thread while clients post.
    Answer precedence per request: an active outage, then scripted answers, then the default.
    """

    handler_class = _SinkHandler

    def __init__(
        self,
        port: int = 0,
        host: str = "127.0.0.1",
        *,
        hold_ms: float = 0.0,
        keep_payloads: bool = True,
    ) -> None:
        super().__init__(port, host)
        self.hold_ms = hold_ms
        # False for long benchmark runs: count accepted payloads without keeping them.
        self.keep_payloads = keep_payloads
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._received: list[Received] = []
        self._attempt_log: list[Attempt] = []
        self._accepted = 0
        self._attempts = 0
        self._invalid = 0
        self._script: deque[Answer] = deque()
        self._default = Answer.ok()
        self._outage_until = 0.0
        self._outage_answer = Answer.ok()

    # -- lifecycle ------------------------------------------------------------------

    def start(self) -> ReconifySink:
        super().start()
        return self

    def stop(self) -> None:
        # Set first so hanging and holding handlers return instead of outliving the sink.
        self._stopping.set()
        super().stop()

    def serve_forever(self) -> None:
        try:
            super().serve_forever()
        finally:
            self._stopping.set()

    def __enter__(self) -> ReconifySink:
        return self.start()

    # -- what arrived ----------------------------------------------------------------

    @property
    def received(self) -> list[Received]:
        """Accepted requests in arrival order (a copy; empty when ``keep_payloads`` is off)."""
        with self._cond:
            return list(self._received)

    @property
    def payloads(self) -> list[dict[str, Any]]:
        """Accepted payloads in arrival order."""
        with self._cond:
            return [r.payload for r in self._received]

    @property
    def accepted(self) -> int:
        """Accepted payload count, kept even when ``keep_payloads`` is off."""
        with self._cond:
            return self._accepted

    @property
    def attempts(self) -> int:
        """Every POST to a track path: accepted, faulted and invalid."""
        with self._cond:
            return self._attempts

    @property
    def attempt_log(self) -> list[Attempt]:
        """Every POST with the answer it got (a copy; empty when ``keep_payloads`` is off)."""
        with self._cond:
            return list(self._attempt_log)

    @property
    def invalid(self) -> int:
        """POSTs refused with 400 because the body was not a JSON object."""
        with self._cond:
            return self._invalid

    def stats(self) -> dict[str, int]:
        with self._cond:
            return {
                "accepted": self._accepted,
                "attempts": self._attempts,
                "invalid": self._invalid,
            }

    def clear(self) -> None:
        """Forget what arrived; the fault script, default and outage stay."""
        with self._cond:
            self._received.clear()
            self._attempt_log.clear()
            self._accepted = self._attempts = self._invalid = 0

    def wait_for(self, count: int, timeout: float = 5.0) -> bool:
        """Block until at least ``count`` payloads were accepted; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._accepted >= count, timeout)

    def wait_for_attempts(self, count: int, timeout: float = 5.0) -> bool:
        """Block until at least ``count`` POSTs arrived, faulted or not; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._attempts >= count, timeout)

    # -- faults ----------------------------------------------------------------------

    def script(self, *answers: Answer) -> None:
        """Queue one-shot answers for the next requests, after any still queued."""
        with self._cond:
            self._script.extend(answers)

    @property
    def scripted_left(self) -> int:
        with self._cond:
            return len(self._script)

    def set_default(self, answer: Answer) -> None:
        """The answer used when no outage is on and the script is empty."""
        with self._cond:
            self._default = answer

    def outage(self, seconds: float, status: int = 503, retry_after: float | None = None) -> None:
        """Answer every request with ``status`` for ``seconds``, then back to normal.

        Time-based rather than count-based, because a client's retry count during an
        outage depends on its back-off, which is what the test is measuring.
        """
        headers = {} if retry_after is None else {"Retry-After": _retry_after(retry_after)}
        with self._cond:
            self._outage_answer = Answer.status(status, _ERROR_BODY, headers)
            self._outage_until = time.monotonic() + seconds

    def end_outage(self) -> None:
        with self._cond:
            self._outage_until = 0.0

    # -- used by the handler ---------------------------------------------------------

    def _next_answer(self) -> Answer:
        with self._cond:
            if time.monotonic() < self._outage_until:
                return self._outage_answer
            if self._script:
                return self._script.popleft()
            return self._default

    def _note_attempt(self, attempt: Attempt, *, invalid: bool = False) -> None:
        with self._cond:
            self._attempts += 1
            if invalid:
                self._invalid += 1
            if self.keep_payloads:
                self._attempt_log.append(attempt)
            self._cond.notify_all()

    def _record(self, received: Received) -> None:
        with self._cond:
            self._accepted += 1
            if self.keep_payloads:
                self._received.append(received)
            self._cond.notify_all()

    def _pause(self, seconds: float) -> None:
        """Sleep that ends early when the sink stops, so no handler outlives it."""
        if seconds > 0:
            self._stopping.wait(seconds)


def _retry_after(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)


def main(argv: list[str] | None = None) -> int:
    """Serve a sink until SIGTERM/SIGINT (see ``sink_cli``; ``--show`` prints payloads)."""
    from reconify_otel.offline.sink_cli import main as serve

    return serve(argv)


if __name__ == "__main__":
    sys.exit(main())
