"""The simulation's state: what it stores, how it makes ids, threads, messages and steps."""

from __future__ import annotations

import copy
import random
import re
import string
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from .server import JSON, _Answer

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


def _check_outcomes(outcomes: Iterable[str]) -> None:
    for outcome in outcomes:
        if outcome not in RUN_OUTCOMES:
            raise ValueError(f"unknown run outcome {outcome!r}; use one of {sorted(RUN_OUTCOMES)}")


class SimulationState:
    """Stores and builders that the run lifecycle and the HTTP routes both use.

    ``SimulatedAssistantsAPI.__init__`` sets every attribute declared here.
    """

    reply: Callable[[str], str]
    polls_to_finish: int
    default_outcome: str
    call_functions: bool
    error_code: str
    error_message: str
    model: str
    assistants: dict[str, JSON]
    threads: dict[str, JSON]
    messages: dict[str, list[JSON]]  # thread id -> messages, creation order
    runs: dict[str, JSON]
    steps: dict[str, list[JSON]]  # run id -> steps, creation order
    _lock: threading.RLock
    _random: random.Random
    _issued: set[str]
    _script: deque[str]
    _states: dict[str, _RunState]

    def _new_id(self, prefix: str) -> str:
        alphabet = string.ascii_letters + string.digits
        while True:
            candidate = prefix + "_" + "".join(self._random.choices(alphabet, k=24))
            if candidate not in self._issued:
                self._issued.add(candidate)
                return candidate

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

    def _find_run(self, thread_id: str, run_id: str) -> JSON | None:
        run = self.runs.get(run_id)
        return run if run is not None and run["thread_id"] == thread_id else None

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
