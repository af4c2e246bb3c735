"""A recorded OpenAI Assistants conversation served back to the real ``openai`` SDK.

OpenAI shut the public Assistants API down, so the demo (and the tests) drive the SDK
against this loopback server. ``_AssistantsServer`` and the answer helpers are shared with
the simulated Assistants API of the test doubles (``reconify_otel_testing``).
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from reconify_otel.offline.cassette import Interaction, load_cassette
from reconify_otel.offline.loopback import LoopbackHandler, LoopbackServer

JSON = dict[str, Any]

# Sent with every answer: the SDK's poll helpers honour it instead of sleeping 1 s.
_POLL_HEADERS = {"openai-poll-after-ms": "1"}


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


_MESSAGES_LIST = re.compile(r"/v1/threads/[^/]+/messages")


class ReplayAssistantsAPI(_AssistantsServer):
    """Replays a VCR.py cassette of real Assistants API traffic.

    Requests match recorded ones on (method, path), ignoring host and query. Each
    match gets the next recorded answer for that key and the last one again once
    they run out, which is how polling recordings (many ``GET runs/{id}``) replay.
    ``GET /v1/threads/{id}/messages`` is cut from the recorded list so that
    ``run_id``, ``order``, ``after``, ``before`` and ``limit`` work as on OpenAI.
    Unrecorded requests get a 404 in OpenAI's error shape.
    """

    def __init__(self, cassette_path: str | Path, port: int = 0) -> None:
        super().__init__(port)
        self.cassette_path = Path(cassette_path)
        self._load_lock = threading.Lock()
        self._interactions: list[Interaction] = []
        self._by_key: dict[tuple[str, str], list[Interaction]] | None = None
        self._served: dict[tuple[str, str], int] = {}

    @property
    def interactions(self) -> list[Interaction]:
        """The cassette's interactions in recorded order (parsed on first use)."""
        self._load()
        return list(self._interactions)

    def _load(self) -> dict[tuple[str, str], list[Interaction]]:
        with self._load_lock:
            if self._by_key is None:
                self._interactions = load_cassette(self.cassette_path)
                by_key: dict[tuple[str, str], list[Interaction]] = {}
                for item in self._interactions:
                    by_key.setdefault((item.method, item.path), []).append(item)
                self._by_key = by_key
            return self._by_key

    def start(self) -> ReplayAssistantsAPI:
        self._load()  # a broken cassette should fail here, not as a 500 later
        super().start()
        return self

    def __enter__(self) -> ReplayAssistantsAPI:
        return self.start()

    def _answer(self, method: str, path: str, query: dict[str, str], body: Any) -> _Answer:
        key = (method, path)
        recorded = self._load().get(key)
        if not recorded:
            return _error(404, f"No recorded answer for {method} {path}", code="not_recorded")
        with self._load_lock:
            index = self._served.get(key, 0)
            self._served[key] = index + 1
        item = recorded[min(index, len(recorded) - 1)]
        if method == "GET" and _MESSAGES_LIST.fullmatch(path) and item.status == 200:
            return self._messages_page(recorded[-1], query)
        return _Answer(item.status, item.body, item.content_type or "application/json")

    @staticmethod
    def _messages_page(item: Interaction, query: dict[str, str]) -> _Answer:
        listing = json.loads(item.body)
        data: list[JSON] = list(listing.get("data") or [])
        if item.query.get("order", "desc") != "asc":
            data.reverse()  # back to creation order, so same-second ties stay right
        run_id = query.get("run_id")
        if run_id:
            data = [message for message in data if message.get("run_id") == run_id]
        return _json_answer(_paginate(data, query))
