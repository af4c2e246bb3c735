"""``SimulatedAssistantsAPI``: a stateful, deterministic Assistants API (v2) in memory."""

from __future__ import annotations

import random
import re
import threading
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from .runs import RunLifecycle
from .server import JSON, _Answer, _AssistantsServer, _error, _json_answer, _paginate
from .state import RunOutcome, _check_outcomes, _default_reply, _now, _Route, _RunState


class SimulatedAssistantsAPI(_AssistantsServer, RunLifecycle):
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

    def script_next_runs(self, *outcomes: RunOutcome) -> None:
        """Queue the outcomes of the next runs created, one per run, in order."""
        _check_outcomes(outcomes)
        with self._lock:
            self._script.extend(outcomes)

    def _answer(self, method: str, path: str, query: dict[str, str], body: Any) -> _Answer:
        payload: JSON = body if isinstance(body, dict) else {}
        for verb, pattern, route in self._routes:
            match = pattern.fullmatch(path)
            if verb == method and match:
                with self._lock:
                    return route(match, query, payload)
        return _error(404, f"Invalid URL ({method} {path})")

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
