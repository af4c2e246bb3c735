"""``ReplayAssistantsAPI``: a recorded VCR.py cassette served back to the real SDK."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

from ..cassette import Interaction, load_cassette
from .server import JSON, _Answer, _AssistantsServer, _error, _json_answer, _paginate

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
