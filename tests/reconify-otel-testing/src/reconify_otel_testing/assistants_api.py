"""Loopback stand-ins for the OpenAI Assistants API (``OpenAI-Beta: assistants=v2``).

OpenAI shut the public Assistants API down, so the real ``openai`` SDK is driven
against these servers instead:

* :class:`ReplayAssistantsAPI` replays a recorded VCR.py cassette, so tests see
  byte for byte what OpenAI really answered.
* :class:`SimulatedAssistantsAPI` keeps assistants, threads, messages, runs and
  run steps in memory, for flows no recording covers (tool calls, failures,
  streaming of every kind, async clients, many turns).

Both log every request they receive (:attr:`requests`) and send
``openai-poll-after-ms: 1`` so the SDK's polling helpers do not sleep a second
between polls.

Example::

    with SimulatedAssistantsAPI() as api:
        client = OpenAI(base_url=api.base_url, api_key="sk-test")
        ...
"""

from __future__ import annotations

import copy
import json
import random
import re
import string
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from ._http import LoopbackHandler, LoopbackServer
from .cassette import Interaction, load_cassette

__all__ = [
    "PROMPT_OVERHEAD",
    "RUN_OUTCOMES",
    "RecordedRequest",
    "ReplayAssistantsAPI",
    "RunOutcome",
    "SimulatedAssistantsAPI",
]

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


# ------------------------------------------------------------------------ simulation

RunOutcome = Literal["completed", "requires_action", "failed", "cancelled", "expired", "incomplete"]
RUN_OUTCOMES: frozenset[str] = frozenset(
    ("completed", "requires_action", "failed", "cancelled", "expired", "incomplete")
)
_ACTIVE = frozenset(("queued", "in_progress", "requires_action", "cancelling"))

#: Added to the word count of the user's text to make ``prompt_tokens``.
PROMPT_OVERHEAD = 10


def _words(text: str) -> int:
    return len(text.split())


def _now() -> int:
    return int(time.time())


def _usage(prompt: int, completion: int) -> JSON:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_token_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


def _default_reply(user_text: str) -> str:
    return f"You said: {user_text}"


def _content_blocks(content: Any) -> list[JSON]:
    """Message content as the API stores it: strings become text blocks."""
    if isinstance(content, str):
        return [{"type": "text", "text": {"value": content, "annotations": []}}]
    blocks: list[JSON] = []
    for part in content or []:
        if not isinstance(part, dict):
            continue
        if part.get("type") == "text":
            text = part.get("text")
            value = text.get("value", "") if isinstance(text, dict) else str(text or "")
            blocks.append({"type": "text", "text": {"value": value, "annotations": []}})
        elif part.get("type") == "image_url":
            image = dict(part.get("image_url") or {})
            image.setdefault("detail", "auto")
            blocks.append({"type": "image_url", "image_url": image})
        elif part.get("type") == "image_file":
            image = dict(part.get("image_file") or {})
            image.setdefault("detail", "auto")
            blocks.append({"type": "image_file", "image_file": image})
    return blocks


def _text_of(message: JSON) -> str:
    return " ".join(
        block["text"]["value"] for block in message.get("content", []) if block["type"] == "text"
    )


def _function_names(tools: list[JSON]) -> list[str]:
    return [
        str(tool.get("function", {}).get("name", "function"))
        for tool in tools
        if tool.get("type") == "function"
    ]


def _chunks(text: str) -> list[str]:
    """Delta pieces like OpenAI's: a word each, carrying its leading space."""
    words = text.split(" ")
    return [words[0]] + [" " + word for word in words[1:]]


@dataclass
class _RunState:
    """What the simulation knows about a run beyond the public run object."""

    outcome: str
    polls_left: int
    user_text: str
    tool_outputs: list[str] = field(default_factory=list)
    tool_step_id: str | None = None


class _Events:
    """Collects SSE events; snapshots objects because they keep changing afterwards."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.items: list[tuple[str, Any]] = []

    def emit(self, name: str, data: Any) -> None:
        if self.enabled:
            self.items.append((name, copy.deepcopy(data)))


_Route = Callable[[re.Match[str], dict[str, str], JSON], _Answer]


class SimulatedAssistantsAPI(_AssistantsServer):
    """A deterministic, stateful, in-memory Assistants API (v2) for the real SDK.

    Behaviour, all deterministic:

    * A run is created ``queued``; each ``GET runs/{id}`` advances it, reaching
      its outcome on poll number ``polls_to_finish`` (default 2: one
      ``in_progress`` answer, then the outcome).  Streamed runs (``stream: true``)
      finish within the one response.
    * A completed run adds an assistant message with that ``run_id``; its text is
      ``reply(user_text)`` where ``user_text`` is the thread's last user message
      when the run was created.  Usage: ``prompt_tokens = PROMPT_OVERHEAD + words
      of user_text (+ words of tool outputs)``, ``completion_tokens = words of the
      reply``, ``total_tokens`` their sum.
    * Outcomes are scripted per run, in run-creation order:
      ``api.script_next_runs("failed", "completed")`` (or ``outcomes=`` here).
      Unscripted runs end with ``default_outcome``, or, with
      ``call_functions=True``, in ``requires_action`` when they have function
      tools.  ``"requires_action"`` calls every function tool of the run with
      arguments ``{"input": user_text}``; after ``submit_tool_outputs`` the run
      completes and the reply ends with ``" (tool output: <outputs>)"``.
      ``"failed"`` sets ``last_error`` to ``{error_code, error_message}``;
      ``"incomplete"`` keeps the first half of the reply and sets
      ``incomplete_details.reason = "max_completion_tokens"``.
    * As on OpenAI, a thread with an active run refuses new runs and messages
      (400); ``runs.cancel`` answers ``cancelling`` and the next poll ``cancelled``.
    * ``created_at`` is ``int(time.time())``; ids (``asst_``, ``thread_``,
      ``msg_``, ``run_``, ``step_``, ``call_``) come from a seeded generator.
    """

    def __init__(
        self,
        *,
        reply: Callable[[str], str] = _default_reply,
        polls_to_finish: int = 2,
        outcomes: Iterable[RunOutcome] = (),
        default_outcome: RunOutcome = "completed",
        call_functions: bool = False,
        error_code: str = "server_error",
        error_message: str = "Sorry, something went wrong.",
        model: str = "gpt-4o-mini",
        seed: int = 0,
        port: int = 0,
    ) -> None:
        super().__init__(port)
        _check_outcomes([default_outcome])
        self.reply = reply
        self.polls_to_finish = max(1, polls_to_finish)
        self.default_outcome: str = default_outcome
        self.call_functions = call_functions
        self.error_code = error_code
        self.error_message = error_message
        self.model = model
        self._lock = threading.RLock()
        self._random = random.Random(seed)
        self._issued: set[str] = set()
        self._script: deque[str] = deque()
        self.script_next_runs(*outcomes)
        self.assistants: dict[str, JSON] = {}
        self.threads: dict[str, JSON] = {}
        self.messages: dict[str, list[JSON]] = {}  # thread id -> messages, creation order
        self.runs: dict[str, JSON] = {}
        self.steps: dict[str, list[JSON]] = {}  # run id -> steps, creation order
        self._states: dict[str, _RunState] = {}
        self._routes: list[tuple[str, re.Pattern[str], _Route]] = [
            ("POST", re.compile(r"/v1/assistants"), self._create_assistant),
            ("GET", re.compile(r"/v1/assistants"), self._list_assistants),
            ("GET", re.compile(r"/v1/assistants/([^/]+)"), self._get_assistant),
            ("DELETE", re.compile(r"/v1/assistants/([^/]+)"), self._delete_assistant),
            ("POST", re.compile(r"/v1/threads"), self._create_thread),
            ("POST", re.compile(r"/v1/threads/runs"), self._create_thread_and_run),
            ("GET", re.compile(r"/v1/threads/([^/]+)"), self._get_thread),
            ("POST", re.compile(r"/v1/threads/([^/]+)"), self._update_thread),
            ("DELETE", re.compile(r"/v1/threads/([^/]+)"), self._delete_thread),
            ("POST", re.compile(r"/v1/threads/([^/]+)/messages"), self._create_message),
            ("GET", re.compile(r"/v1/threads/([^/]+)/messages"), self._list_messages),
            ("GET", re.compile(r"/v1/threads/([^/]+)/messages/([^/]+)"), self._get_message),
            ("POST", re.compile(r"/v1/threads/([^/]+)/runs"), self._create_run),
            ("GET", re.compile(r"/v1/threads/([^/]+)/runs"), self._list_runs),
            ("GET", re.compile(r"/v1/threads/([^/]+)/runs/([^/]+)"), self._get_run),
            ("POST", re.compile(r"/v1/threads/([^/]+)/runs/([^/]+)/cancel"), self._cancel_run),
            (
                "POST",
                re.compile(r"/v1/threads/([^/]+)/runs/([^/]+)/submit_tool_outputs"),
                self._submit_tool_outputs,
            ),
            ("GET", re.compile(r"/v1/threads/([^/]+)/runs/([^/]+)/steps"), self._list_steps),
            (
                "GET",
                re.compile(r"/v1/threads/([^/]+)/runs/([^/]+)/steps/([^/]+)"),
                self._get_step,
            ),
        ]

    def __enter__(self) -> SimulatedAssistantsAPI:
        self.start()
        return self

    # -- scripting ---------------------------------------------------------------

    def script_next_runs(self, *outcomes: RunOutcome) -> None:
        """Queue the outcomes of the next runs created, one per run, in order."""
        _check_outcomes(outcomes)
        with self._lock:
            self._script.extend(outcomes)

    # -- dispatch ----------------------------------------------------------------

    def _answer(self, method: str, path: str, query: dict[str, str], body: Any) -> _Answer:
        payload: JSON = body if isinstance(body, dict) else {}
        for verb, pattern, route in self._routes:
            match = pattern.fullmatch(path)
            if verb == method and match:
                with self._lock:
                    return route(match, query, payload)
        return _error(404, f"Invalid URL ({method} {path})")

    def _new_id(self, prefix: str) -> str:
        alphabet = string.ascii_letters + string.digits
        while True:
            candidate = prefix + "_" + "".join(self._random.choices(alphabet, k=24))
            if candidate not in self._issued:
                self._issued.add(candidate)
                return candidate

    # -- assistants --------------------------------------------------------------

    def _create_assistant(self, _m: re.Match[str], _q: dict[str, str], body: JSON) -> _Answer:
        tools = list(body.get("tools") or [])
        resources = body.get("tool_resources") or {}
        if not resources and any(tool.get("type") == "code_interpreter" for tool in tools):
            resources = {"code_interpreter": {"file_ids": []}}
        assistant: JSON = {
            "id": self._new_id("asst"),
            "object": "assistant",
            "created_at": _now(),
            "name": body.get("name"),
            "description": body.get("description"),
            "model": body.get("model") or self.model,
            "instructions": body.get("instructions"),
            "tools": tools,
            "top_p": body.get("top_p", 1.0),
            "temperature": body.get("temperature", 1.0),
            "reasoning_effort": body.get("reasoning_effort"),
            "tool_resources": resources,
            "metadata": body.get("metadata") or {},
            "response_format": body.get("response_format") or "auto",
        }
        self.assistants[assistant["id"]] = assistant
        return _json_answer(assistant)

    def _list_assistants(self, _m: re.Match[str], query: dict[str, str], _b: JSON) -> _Answer:
        return _json_answer(_paginate(list(self.assistants.values()), query))

    def _get_assistant(self, match: re.Match[str], _q: dict[str, str], _b: JSON) -> _Answer:
        assistant = self.assistants.get(match[1])
        if assistant is None:
            return _error(404, f"No assistant found with id '{match[1]}'.")
        return _json_answer(assistant)

    def _delete_assistant(self, match: re.Match[str], _q: dict[str, str], _b: JSON) -> _Answer:
        if self.assistants.pop(match[1], None) is None:
            return _error(404, f"No assistant found with id '{match[1]}'.")
        return _json_answer({"id": match[1], "object": "assistant.deleted", "deleted": True})

    # -- threads -----------------------------------------------------------------

    def _new_thread(self, body: JSON) -> JSON:
        thread: JSON = {
            "id": self._new_id("thread"),
            "object": "thread",
            "created_at": _now(),
            "metadata": body.get("metadata") or {},
            "tool_resources": body.get("tool_resources") or {},
        }
        self.threads[thread["id"]] = thread
        self.messages[thread["id"]] = []
        for message in body.get("messages") or []:
            self._new_message(thread["id"], message)
        return thread

    def _create_thread(self, _m: re.Match[str], _q: dict[str, str], body: JSON) -> _Answer:
        return _json_answer(self._new_thread(body))

    def _get_thread(self, match: re.Match[str], _q: dict[str, str], _b: JSON) -> _Answer:
        thread = self.threads.get(match[1])
        if thread is None:
            return _error(404, f"No thread found with id '{match[1]}'.")
        return _json_answer(thread)

    def _update_thread(self, match: re.Match[str], _q: dict[str, str], body: JSON) -> _Answer:
        thread = self.threads.get(match[1])
        if thread is None:
            return _error(404, f"No thread found with id '{match[1]}'.")
        if "metadata" in body:
            thread["metadata"] = body["metadata"] or {}
        return _json_answer(thread)

    def _delete_thread(self, match: re.Match[str], _q: dict[str, str], _b: JSON) -> _Answer:
        if self.threads.pop(match[1], None) is None:
            return _error(404, f"No thread found with id '{match[1]}'.")
        return _json_answer({"id": match[1], "object": "thread.deleted", "deleted": True})

    # -- messages ----------------------------------------------------------------

    def _new_message(
        self,
        thread_id: str,
        body: JSON,
        *,
        role: str | None = None,
        assistant_id: str | None = None,
        run_id: str | None = None,
        status: str = "completed",
    ) -> JSON:
        now = _now()
        message: JSON = {
            "id": self._new_id("msg"),
            "object": "thread.message",
            "created_at": now,
            "assistant_id": assistant_id,
            "thread_id": thread_id,
            "run_id": run_id,
            "status": status,
            "incomplete_details": None,
            "incomplete_at": None,
            "completed_at": now if status == "completed" else None,
            "role": role or body.get("role") or "user",
            "content": _content_blocks(body.get("content")),
            "attachments": body.get("attachments") or [],
            "metadata": body.get("metadata") or {},
        }
        self.messages[thread_id].append(message)
        return message

    def _active_run(self, thread_id: str) -> JSON | None:
        for run in self.runs.values():
            if run["thread_id"] == thread_id and run["status"] in _ACTIVE:
                return run
        return None

    def _create_message(self, match: re.Match[str], _q: dict[str, str], body: JSON) -> _Answer:
        thread_id = match[1]
        if thread_id not in self.threads:
            return _error(404, f"No thread found with id '{thread_id}'.")
        active = self._active_run(thread_id)
        if active is not None:
            return _error(
                400, f"Can't add messages to {thread_id} while a run {active['id']} is active."
            )
        return _json_answer(self._new_message(thread_id, body))

    def _list_messages(self, match: re.Match[str], query: dict[str, str], _b: JSON) -> _Answer:
        if match[1] not in self.threads:
            return _error(404, f"No thread found with id '{match[1]}'.")
        items = self.messages[match[1]]
        if query.get("run_id"):
            items = [message for message in items if message["run_id"] == query["run_id"]]
        return _json_answer(_paginate(items, query))

    def _get_message(self, match: re.Match[str], _q: dict[str, str], _b: JSON) -> _Answer:
        for message in self.messages.get(match[1], []):
            if message["id"] == match[2]:
                return _json_answer(message)
        return _error(404, f"No message found with id '{match[2]}'.")

    # -- runs --------------------------------------------------------------------

    def _start_run(self, thread_id: str, body: JSON) -> JSON | _Answer:
        """Create a run (and its ``additional_messages``); an error answer if refused."""
        assistant = self.assistants.get(str(body.get("assistant_id")))
        if assistant is None:
            return _error(404, f"No assistant found with id '{body.get('assistant_id')}'.")
        if thread_id not in self.threads:
            return _error(404, f"No thread found with id '{thread_id}'.")
        active = self._active_run(thread_id)
        if active is not None:
            return _error(400, f"Thread {thread_id} already has an active run {active['id']}.")
        tools = list(body["tools"] if body.get("tools") is not None else assistant["tools"])
        if self._script:
            outcome = self._script[0]
        elif self.call_functions and _function_names(tools):
            outcome = "requires_action"
        else:
            outcome = self.default_outcome
        if outcome == "requires_action" and not _function_names(tools):
            return _error(400, "Scripted 'requires_action' but the run has no function tool.")
        if self._script:
            self._script.popleft()
        for extra in body.get("additional_messages") or []:
            self._new_message(thread_id, extra)
        instructions = body.get("instructions")
        if instructions is None:
            instructions = assistant["instructions"]
        if body.get("additional_instructions"):
            instructions = f"{instructions or ''}\n{body['additional_instructions']}".strip()
        user_messages = [m for m in self.messages[thread_id] if m["role"] == "user"]
        now = _now()
        run: JSON = {
            "id": self._new_id("run"),
            "object": "thread.run",
            "created_at": now,
            "assistant_id": assistant["id"],
            "thread_id": thread_id,
            "status": "queued",
            "started_at": None,
            "expires_at": now + 600,
            "cancelled_at": None,
            "failed_at": None,
            "completed_at": None,
            "required_action": None,
            "last_error": None,
            "model": body.get("model") or assistant["model"],
            "instructions": instructions,
            "tools": tools,
            "tool_resources": assistant["tool_resources"],
            "metadata": body.get("metadata") or {},
            "temperature": body.get("temperature", assistant["temperature"]),
            "top_p": body.get("top_p", assistant["top_p"]),
            "reasoning_effort": body.get("reasoning_effort"),
            "max_completion_tokens": body.get("max_completion_tokens"),
            "max_prompt_tokens": body.get("max_prompt_tokens"),
            "truncation_strategy": body.get("truncation_strategy")
            or {"type": "auto", "last_messages": None},
            "incomplete_details": None,
            "usage": None,
            "response_format": body.get("response_format") or assistant["response_format"],
            "tool_choice": body.get("tool_choice") or "auto",
            "parallel_tool_calls": body.get("parallel_tool_calls", True),
        }
        self.runs[run["id"]] = run
        self.steps[run["id"]] = []
        self._states[run["id"]] = _RunState(
            outcome=outcome,
            polls_left=self.polls_to_finish,
            user_text=_text_of(user_messages[-1]) if user_messages else "",
        )
        return run

    def _begin(self, run: JSON, events: _Events, created: bool) -> None:
        """Emit the opening run events and mark the run started (streaming path)."""
        if created:
            events.emit("thread.run.created", run)
        events.emit("thread.run.queued", run)
        run["status"] = "in_progress"
        run["started_at"] = run["started_at"] or _now()
        events.emit("thread.run.in_progress", run)

    def _create_run(self, match: re.Match[str], _q: dict[str, str], body: JSON) -> _Answer:
        started = self._start_run(match[1], body)
        if isinstance(started, _Answer):
            return started
        if not body.get("stream"):
            return _json_answer(started)
        events = _Events(True)
        self._begin(started, events, created=True)
        self._finish(started, events)
        return _sse(events.items)

    def _create_thread_and_run(self, _m: re.Match[str], _q: dict[str, str], body: JSON) -> _Answer:
        if str(body.get("assistant_id")) not in self.assistants:
            return _error(404, f"No assistant found with id '{body.get('assistant_id')}'.")
        thread = self._new_thread(body.get("thread") or {})
        started = self._start_run(thread["id"], body)
        if isinstance(started, _Answer):
            del self.threads[thread["id"]], self.messages[thread["id"]]  # refused: leave no trace
            return started
        if not body.get("stream"):
            return _json_answer(started)
        events = _Events(True)
        events.emit("thread.created", thread)
        self._begin(started, events, created=True)
        self._finish(started, events)
        return _sse(events.items)

    def _find_run(self, thread_id: str, run_id: str) -> JSON | None:
        run = self.runs.get(run_id)
        return run if run is not None and run["thread_id"] == thread_id else None

    def _get_run(self, match: re.Match[str], _q: dict[str, str], _b: JSON) -> _Answer:
        run = self._find_run(match[1], match[2])
        if run is None:
            return _error(404, f"No run found with id '{match[2]}'.")
        self._advance(run)
        return _json_answer(run)

    def _list_runs(self, match: re.Match[str], query: dict[str, str], _b: JSON) -> _Answer:
        if match[1] not in self.threads:
            return _error(404, f"No thread found with id '{match[1]}'.")
        runs = [run for run in self.runs.values() if run["thread_id"] == match[1]]
        return _json_answer(_paginate(runs, query))

    def _cancel_run(self, match: re.Match[str], _q: dict[str, str], _b: JSON) -> _Answer:
        run = self._find_run(match[1], match[2])
        if run is None:
            return _error(404, f"No run found with id '{match[2]}'.")
        if run["status"] not in _ACTIVE:
            return _error(400, f"Cannot cancel run with status '{run['status']}'.")
        run["status"] = "cancelling"
        return _json_answer(run)

    def _submit_tool_outputs(self, match: re.Match[str], _q: dict[str, str], body: JSON) -> _Answer:
        run = self._find_run(match[1], match[2])
        if run is None:
            return _error(404, f"No run found with id '{match[2]}'.")
        if run["status"] != "requires_action":
            return _error(400, f'Runs in status "{run["status"]}" do not accept tool outputs.')
        calls = run["required_action"]["submit_tool_outputs"]["tool_calls"]
        outputs = {
            str(item.get("tool_call_id")): str(item.get("output", ""))
            for item in body.get("tool_outputs") or []
        }
        expected = [call["id"] for call in calls]
        if sorted(outputs) != sorted(expected):
            return _error(
                400, f"Expected tool outputs for call_ids {expected}, got {sorted(outputs)}"
            )
        state = self._states[run["id"]]
        state.tool_outputs = [outputs[call_id] for call_id in expected]
        state.outcome = "completed"
        state.polls_left = self.polls_to_finish
        now = _now()
        step = self._step(run["id"], state.tool_step_id)
        if step is not None:
            for call in step["step_details"]["tool_calls"]:
                call["function"]["output"] = outputs.get(call["id"])
            step["status"] = "completed"
            step["completed_at"] = now
        run["required_action"] = None
        run["status"] = "queued"
        if not body.get("stream"):
            return _json_answer(run)
        events = _Events(True)
        self._begin(run, events, created=False)
        if step is not None:
            events.emit("thread.run.step.completed", step)
        self._finish(run, events)
        return _sse(events.items)

    # -- run steps ---------------------------------------------------------------

    def _step(self, run_id: str, step_id: str | None) -> JSON | None:
        for step in self.steps.get(run_id, []):
            if step["id"] == step_id:
                return step
        return None

    def _new_step(self, run: JSON, kind: str, details: JSON) -> JSON:
        step: JSON = {
            "id": self._new_id("step"),
            "object": "thread.run.step",
            "created_at": _now(),
            "run_id": run["id"],
            "assistant_id": run["assistant_id"],
            "thread_id": run["thread_id"],
            "type": kind,
            "status": "in_progress",
            "cancelled_at": None,
            "completed_at": None,
            "expires_at": run["expires_at"],
            "failed_at": None,
            "last_error": None,
            "step_details": details,
            "usage": None,
        }
        self.steps[run["id"]].append(step)
        return step

    def _list_steps(self, match: re.Match[str], query: dict[str, str], _b: JSON) -> _Answer:
        if self._find_run(match[1], match[2]) is None:
            return _error(404, f"No run found with id '{match[2]}'.")
        return _json_answer(_paginate(self.steps[match[2]], query))

    def _get_step(self, match: re.Match[str], _q: dict[str, str], _b: JSON) -> _Answer:
        step = self._step(match[2], match[3]) if self._find_run(match[1], match[2]) else None
        if step is None:
            return _error(404, f"No run step found with id '{match[3]}'.")
        return _json_answer(step)

    # -- run lifecycle -----------------------------------------------------------

    def _advance(self, run: JSON) -> None:
        """One poll's worth of progress: queued -> in_progress -> outcome."""
        if run["status"] == "cancelling":
            self._end_pending_steps(run, "cancelled")
            run["status"] = "cancelled"
            run["cancelled_at"] = _now()
            run["expires_at"] = None
            return
        if run["status"] not in ("queued", "in_progress"):
            return
        state = self._states[run["id"]]
        state.polls_left -= 1
        run["started_at"] = run["started_at"] or _now()
        if state.polls_left > 0:
            run["status"] = "in_progress"
        else:
            run["status"] = "in_progress"
            self._finish(run, _Events(False))

    def _end_pending_steps(self, run: JSON, status: str) -> None:
        for step in self.steps.get(run["id"], []):
            if step["status"] == "in_progress":
                step["status"] = status
                step[f"{status}_at"] = _now()

    def _finish(self, run: JSON, events: _Events) -> None:
        """Take an in-progress run to its scripted outcome, emitting what OpenAI streams."""
        state = self._states[run["id"]]
        now = _now()
        outcome = state.outcome
        prompt = PROMPT_OVERHEAD + _words(state.user_text)
        prompt += sum(_words(output) for output in state.tool_outputs)
        if outcome == "requires_action":
            self._call_tools(run, state, events)
            return
        if outcome in ("completed", "incomplete"):
            text = self.reply(state.user_text)
            if state.tool_outputs:
                text = f"{text} (tool output: {', '.join(state.tool_outputs)})"
            if outcome == "incomplete":
                words = text.split(" ")
                text = " ".join(words[: max(1, len(words) // 2)])
            usage = _usage(prompt, _words(text))
            self._write_message(run, text, outcome, usage, events)
            run["usage"] = usage
            if outcome == "completed":
                run["completed_at"] = now
            else:
                run["incomplete_details"] = {"reason": "max_completion_tokens"}
        elif outcome == "failed":
            self._end_pending_steps(run, "failed")
            run["failed_at"] = now
            run["last_error"] = {"code": self.error_code, "message": self.error_message}
        elif outcome == "cancelled":
            self._end_pending_steps(run, "cancelled")
            run["cancelled_at"] = now
        elif outcome == "expired":
            self._end_pending_steps(run, "expired")
        run["status"] = outcome
        if outcome != "expired":
            run["expires_at"] = None
        events.emit(f"thread.run.{outcome}", run)

    def _call_tools(self, run: JSON, state: _RunState, events: _Events) -> None:
        """Stop the run in ``requires_action`` with one call per function tool."""
        step = self._new_step(run, "tool_calls", {"type": "tool_calls", "tool_calls": []})
        state.tool_step_id = step["id"]
        events.emit("thread.run.step.created", step)
        events.emit("thread.run.step.in_progress", step)
        arguments = json.dumps({"input": state.user_text})
        calls: list[JSON] = []
        for index, name in enumerate(_function_names(run["tools"])):
            call_id = self._new_id("call")
            calls.append(
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": name, "arguments": arguments},
                }
            )
            step["step_details"]["tool_calls"].append(
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": name, "arguments": arguments, "output": None},
                }
            )
            first = {"name": name, "arguments": "", "output": None}
            for delta in (
                {"index": index, "id": call_id, "type": "function", "function": first},
                {"index": index, "type": "function", "function": {"arguments": arguments}},
            ):
                events.emit(
                    "thread.run.step.delta",
                    {
                        "id": step["id"],
                        "object": "thread.run.step.delta",
                        "delta": {"step_details": {"type": "tool_calls", "tool_calls": [delta]}},
                    },
                )
        run["status"] = "requires_action"
        run["required_action"] = {
            "type": "submit_tool_outputs",
            "submit_tool_outputs": {"tool_calls": calls},
        }
        events.emit("thread.run.requires_action", run)

    def _write_message(
        self, run: JSON, text: str, outcome: str, usage: JSON, events: _Events
    ) -> None:
        """Add the assistant's reply to the thread through a message-creation step."""
        message = self._new_message(
            run["thread_id"],
            {"content": []},
            role="assistant",
            assistant_id=run["assistant_id"],
            run_id=run["id"],
            status="in_progress",
        )
        step = self._new_step(
            run,
            "message_creation",
            {"type": "message_creation", "message_creation": {"message_id": message["id"]}},
        )
        events.emit("thread.run.step.created", step)
        events.emit("thread.run.step.in_progress", step)
        events.emit("thread.message.created", message)
        events.emit("thread.message.in_progress", message)
        for number, piece in enumerate(_chunks(text)):
            block: JSON = {"index": 0, "type": "text", "text": {"value": piece}}
            if number == 0:
                block["text"]["annotations"] = []
            events.emit(
                "thread.message.delta",
                {
                    "id": message["id"],
                    "object": "thread.message.delta",
                    "delta": {"content": [block]},
                },
            )
        now = _now()
        message["content"] = _content_blocks(text)
        if outcome == "incomplete":
            message["status"] = "incomplete"
            message["incomplete_at"] = now
            message["incomplete_details"] = {"reason": "max_tokens"}
            events.emit("thread.message.incomplete", message)
        else:
            message["status"] = "completed"
            message["completed_at"] = now
            events.emit("thread.message.completed", message)
        step["status"] = "completed"
        step["completed_at"] = now
        step["usage"] = usage
        events.emit("thread.run.step.completed", step)


def _check_outcomes(outcomes: Iterable[str]) -> None:
    for outcome in outcomes:
        if outcome not in RUN_OUTCOMES:
            raise ValueError(f"unknown run outcome {outcome!r}; use one of {sorted(RUN_OUTCOMES)}")
