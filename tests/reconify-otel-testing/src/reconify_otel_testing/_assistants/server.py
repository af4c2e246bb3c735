"""The HTTP side both stand-ins share: request log, answers in OpenAI's shapes, SSE."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, cast

from .._http import LoopbackHandler, LoopbackServer

JSON = dict[str, Any]

# Sent with every answer: the SDK's poll helpers honour it instead of sleeping 1 s.
_POLL_HEADERS = {"openai-poll-after-ms": "1"}
_SSE_TYPE = "text/event-stream; charset=utf-8"


@dataclass(frozen=True)
class RecordedRequest:
    """A request as the stand-in saw it, for assertions on what the client sent."""

    method: str
    path: str
    query: dict[str, str]
    json: Any | None


@dataclass
class _Answer:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=lambda: dict(_POLL_HEADERS))


def _json_answer(obj: Any, status: int = 200) -> _Answer:
    return _Answer(status, json.dumps(obj).encode("utf-8"))


def _error(
    status: int,
    message: str,
    kind: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
) -> _Answer:
    """An error in OpenAI's shape, so the SDK raises the matching ``APIStatusError``."""
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return _json_answer(body, status)


def _sse(events: Iterable[tuple[str, Any]]) -> _Answer:
    """A whole server-sent event stream, ended with ``done``/``[DONE]`` as OpenAI does."""
    parts = [
        f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"
        for name, data in events
    ]
    parts.append("event: done\ndata: [DONE]\n\n")
    return _Answer(200, "".join(parts).encode("utf-8"), _SSE_TYPE)


def _parse_json(body: bytes) -> Any | None:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def _paginate(items: list[JSON], query: dict[str, str], default_order: str = "desc") -> JSON:
    """A cursor page as OpenAI lists it: ``order`` by creation, ``after``/``before``, ``limit``.

    ``items`` come in creation order; ties on ``created_at`` (same second) keep it,
    reversed for ``desc``, as the real API does.
    """
    ordered = sorted(items, key=lambda item: int(item.get("created_at") or 0))
    if query.get("order", default_order) != "asc":
        ordered.reverse()
    ids = [item.get("id") for item in ordered]
    after, before = query.get("after"), query.get("before")
    if after in ids:
        ordered = ordered[ids.index(after) + 1 :]
    if before in ids:
        ordered = ordered[: [item.get("id") for item in ordered].index(before)]
    try:
        limit = max(1, min(100, int(query.get("limit", "20"))))
    except ValueError:
        limit = 20
    page = ordered[:limit]
    return {
        "object": "list",
        "data": page,
        "first_id": page[0]["id"] if page else None,
        "last_id": page[-1]["id"] if page else None,
        "has_more": len(ordered) > limit,
    }


class _AssistantsHandler(LoopbackHandler):
    """Reads the request, logs it, asks the server for an answer, sends it whole."""

    def _serve(self) -> None:
        server = cast(_AssistantsServer, self.owner)
        body = self.read_body()
        query = {key: values[-1] for key, values in self.query.items()}
        payload = _parse_json(body)
        path = self.path_only
        server._record(RecordedRequest(self.command, path, query, payload))
        try:
            answer = server._answer(self.command, path, query, payload)
        except Exception as exc:  # a stand-in bug should surface as a 500, not a hang
            answer = _error(500, f"{type(exc).__name__}: {exc}", "server_error")
        self.send_whole(answer.status, answer.body, answer.content_type, answer.headers)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()


class _AssistantsServer(LoopbackServer):
    """Shared plumbing: ``base_url`` and the request log."""

    handler_class = _AssistantsHandler

    def __init__(self, port: int = 0) -> None:
        super().__init__(port)
        self._log_lock = threading.Lock()
        self._requests: list[RecordedRequest] = []

    @property
    def base_url(self) -> str:
        """What to pass as ``OpenAI(base_url=...)``."""
        return f"{self.url}/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in arrival order (a copy)."""
        with self._log_lock:
            return list(self._requests)

    def _record(self, request: RecordedRequest) -> None:
        with self._log_lock:
            self._requests.append(request)

    def _answer(self, method: str, path: str, query: dict[str, str], body: Any) -> _Answer:
        raise NotImplementedError


# --------------------------------------------------------------------------- replay
