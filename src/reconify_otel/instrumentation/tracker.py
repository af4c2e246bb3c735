"""Run bookkeeping: from what the app's own calls return, decide when a run is complete.

Pure (no openai, no OpenTelemetry): hooks feed it plain dicts, it hands each finished
run exactly once to ``emit``. Every structure is a ``BoundedDict``, so memory stays flat
however many runs a process makes; one lock guards them, held only for dict work, never
while emitting or awaiting, which makes it safe from threads and asyncio tasks alike.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reconify_otel import identity
from reconify_otel.core.run_attributes import TERMINAL_STATUSES
from reconify_otel.identity import Captured
from reconify_otel.instrumentation.bounded import BoundedDict
from reconify_otel.runtime.logs import RateLimitedLog

logger = logging.getLogger("reconify_otel")

Message = dict[str, Any]

# Taken once, never released: the first completed run emitted without its answer is
# explained at INFO, once per process (the exporter counts each as ``skipped_no_answer``).
_unlisted_answer_once = threading.Lock()


@dataclass
class RunStart:
    """The request side, known before the run exists (taken just before the create call)."""

    start_ns: int
    context: Any = None  # the caller's OpenTelemetry context, opaque here
    thread_id: str | None = None
    inline: Message | None = None  # the user's message passed inline with the run request
    run_id: str | None = None  # known up front when a stream resumes a run (tool outputs)
    # The user and session current when the app started the run (``identity``).
    identity: Captured = field(default_factory=lambda: ({}, {}))


@dataclass
class _Record:
    start: RunStart
    run: Message
    request: Message | None
    answers: dict[str, Message] = field(default_factory=dict)
    terminal_ns: int | None = None


@dataclass(frozen=True)
class FinishedRun:
    """Everything one span needs; ``error`` is an API exception that ended the run."""

    run: Message
    request: Message | None
    answers: list[Message]
    assistant: Message | None
    start_ns: int
    end_ns: int
    context: Any = None
    error: BaseException | None = None
    identity: Captured = ({}, {})


@dataclass(frozen=True)
class Limits:
    max_runs: int = 10_000  # runs in flight at once
    max_threads: int = 10_000  # threads whose last user message is remembered
    max_assistants: int = 1_000
    max_done: int = 10_000  # recently finished run ids, so a run never gives two spans
    user_message_ttl: float = 600.0  # a user message older than this is not a run's input
    run_ttl: float = 3600.0  # a run silent for longer is dropped
    answer_grace: float = 10.0  # a terminal run waits this long for its answer to be listed


def inline_user_message(messages: Any, thread_id: str | None) -> Message | None:
    """The last user message of ``additional_messages`` / ``thread.messages``, as a thread.message.

    Its id and ``created_at`` are unknown until a list shows the stored message.
    """
    if not isinstance(messages, (list, tuple)):
        return None
    users = [m for m in messages if isinstance(m, Mapping) and m.get("role") == "user"]
    if not users:
        return None
    last = users[-1]
    content = last.get("content")
    if isinstance(content, str):
        blocks: list[Any] = [{"type": "text", "text": {"value": content, "annotations": []}}]
    else:
        blocks = [dict(b) for b in content or [] if isinstance(b, Mapping)]
        for block in blocks:
            if block.get("type") == "text" and isinstance(block.get("text"), str):
                block["text"] = {"value": block["text"], "annotations": []}
    return {
        "id": None,
        "object": "thread.message",
        "created_at": None,
        "assistant_id": None,
        "thread_id": thread_id,
        "run_id": None,
        "role": "user",
        "content": blocks,
        "attachments": list(last.get("attachments") or []),
        "metadata": dict(last.get("metadata") or {}),
    }


def _text(message: Mapping[str, Any]) -> str:
    parts = []
    for block in message.get("content") or []:
        text = block.get("text") if isinstance(block, Mapping) else None
        if isinstance(text, Mapping):
            parts.append(str(text.get("value")))
    return "\n".join(parts)


class RunTracker:
    def __init__(
        self,
        emit: Callable[[FinishedRun], None],
        limits: Limits = Limits(),
        clock: Callable[[], float] = time.monotonic,
        now_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self._emit = emit
        self.limits = limits
        self._clock = clock
        self._now_ns = now_ns
        self._lock = threading.Lock()
        self._log = RateLimitedLog(logger)
        self._runs: BoundedDict[str, _Record] = BoundedDict(limits.max_runs, limits.run_ttl, clock)
        self._waiting: BoundedDict[str, float] = BoundedDict(limits.max_runs, None, clock)
        self._done: BoundedDict[str, bool] = BoundedDict(limits.max_done, None, clock)
        self._active: BoundedDict[str, str] = BoundedDict(limits.max_threads, limits.run_ttl, clock)
        self._users: BoundedDict[str, Message] = BoundedDict(
            limits.max_threads, limits.user_message_ttl, clock
        )
        self._assistants: BoundedDict[str, Message] = BoundedDict(limits.max_assistants)

    # -- what the app told the API ----------------------------------------------------

    def begin(
        self,
        context: Any = None,
        thread_id: str | None = None,
        inline_messages: Any = None,
        run_id: str | None = None,
    ) -> RunStart:
        return RunStart(
            self._now_ns(),
            context,
            thread_id,
            inline_user_message(inline_messages, thread_id),
            run_id,
            identity.span_attributes(),
        )

    def remember_assistant(self, assistant: Message) -> None:
        if isinstance(assistant.get("id"), str):
            with self._lock:
                self._assistants.put(assistant["id"], assistant)

    def assistant(self, assistant_id: Any) -> Message | None:
        with self._lock:
            return self._assistants.get(assistant_id) if isinstance(assistant_id, str) else None

    def remember_user_message(self, message: Message) -> None:
        thread_id = message.get("thread_id")
        if message.get("role") == "user" and isinstance(thread_id, str):
            with self._lock:
                self._users.put(thread_id, message)

    # -- what the API answered --------------------------------------------------------

    def created(self, start: RunStart, run: Message) -> None:
        """A run object answered a run-creating call (or a stream's first run event)."""
        run_id = run.get("id")
        if not isinstance(run_id, str):
            return
        with self._lock:
            if run_id in self._done:
                return
            if self._runs.get(run_id) is None:
                thread_id = run.get("thread_id") or start.thread_id
                request = start.inline
                if request is not None:
                    request = {**request, "thread_id": thread_id}
                elif isinstance(thread_id, str):
                    request = self._users.get(thread_id)
                self._track(run_id, _Record(start, run, request))
                if isinstance(thread_id, str):
                    self._active.put(thread_id, run_id)
        self.observe_run(run)

    def observe_run(self, run: Message) -> None:
        """Any sighting of a run object: retrieve, poll, stream events, cancel."""
        finished = None
        with self._lock:
            record = self._runs.get(run.get("id"))  # type: ignore[arg-type]
            if record is None:
                return
            if run.get("usage") is None and record.run.get("usage") is not None:
                run = {**run, "usage": record.run["usage"]}
            record.run = run
            if run.get("status") in TERMINAL_STATUSES and record.terminal_ns is None:
                record.terminal_ns = self._now_ns()
                self._waiting.put(run["id"], self._clock())
            finished = self._finish_if_ready(record)
        self._deliver(finished)

    def observe_messages(self, thread_id: Any, messages: Iterable[Message]) -> None:
        """A listed page: this run's answers, and the stored form of its user message."""
        page = list(messages)
        done: list[FinishedRun] = []
        with self._lock:
            active = self._runs.get(self._active.get(thread_id) or "")
            if active is not None:
                self._adopt_request(active, page)
            for message in page:
                record = self._answered(message)
                if record is not None:
                    done.extend(self._finish_if_ready(record) or [])
        for item in done:
            self._deliver([item])

    def observe_message(self, message: Message) -> None:
        """A streamed ``thread.message.completed`` (or ``.incomplete``)."""
        with self._lock:
            record = self._answered(message)
            finished = self._finish_if_ready(record) if record is not None else None
        self._deliver(finished)

    def observe_event(self, start: RunStart, name: str, data: Message | None) -> None:
        """One server-sent event of a run stream."""
        if data is None:
            return
        if name == "thread.run.created" or (
            name.startswith("thread.run.") and not name.startswith("thread.run.step")
        ):
            self.created(start, data)
        elif name in ("thread.message.completed", "thread.message.incomplete"):
            self.observe_message(data)

    def fail(self, start: RunStart | None, run_id: Any, error: BaseException) -> None:
        """An API call for this run raised: the run ends now, as an error."""
        with self._lock:
            record = self._runs.pop(run_id) if isinstance(run_id, str) else None
            if isinstance(run_id, str):
                self._waiting.pop(run_id)
            if record is None:
                if start is None:
                    return
                seed = {"id": run_id, "thread_id": start.thread_id}
                record = _Record(start, seed, start.inline)
            finished = self._finish(record, error)
        self._deliver(finished)

    # -- time -------------------------------------------------------------------------

    def flush_due(self, everything: bool = False) -> None:
        """Emit terminal runs whose answer never showed up within the grace period."""
        out: list[FinishedRun] = []
        unlisted: list[str] = []
        with self._lock:
            limit = self._clock() - self.limits.answer_grace
            for run_id, since in self._waiting.items():
                if not everything and since > limit:
                    break
                record = self._runs.pop(run_id)
                self._waiting.pop(run_id)
                if record is not None:
                    out.extend(self._finish(record))
                    if not record.answers and record.run.get("status") == "completed":
                        unlisted.append(run_id)
            for run_id, _record in self._runs.expired():
                self._waiting.pop(run_id)
                self._log.warning("run-ttl", "run %s dropped: no final state seen", run_id)
        if unlisted and _unlisted_answer_once.acquire(blocking=False):
            logger.info(
                "reconify_otel: run %s completed, but the app did not list its answer within "
                "answer_grace (%.0f s) or before shutdown, so it is not sent to Reconify: the "
                "instrumentation learns a polled run's answer from the app's own "
                "messages.list(thread_id, run_id=...). Logged once per process.",
                unlisted[0],
                self.limits.answer_grace,
            )
        for item in out:
            self._deliver([item])

    def sizes(self) -> dict[str, int]:
        with self._lock:
            return {
                "runs": len(self._runs),
                "waiting": len(self._waiting),
                "done": len(self._done),
                "threads": len(self._users),
                "active": len(self._active),
                "assistants": len(self._assistants),
            }

    # -- internals (lock held) -------------------------------------------------------------

    def _track(self, run_id: str, record: _Record) -> None:
        for old_id, _ in self._runs.put(run_id, record):
            self._waiting.pop(old_id)
            self._log.warning("run-cap", "too many runs in flight; run %s dropped", old_id)

    def _answered(self, message: Message) -> _Record | None:
        if message.get("role") != "assistant" or not isinstance(message.get("id"), str):
            return None
        record = self._runs.get(message.get("run_id"))  # type: ignore[arg-type]
        if record is not None:
            record.answers[message["id"]] = message
        return record

    def _adopt_request(self, record: _Record, page: list[Message]) -> None:
        """Prefer the stored user message over one rebuilt from inline content."""
        current = record.request
        if current is not None and current.get("id") is not None:
            return
        created = int(record.run.get("created_at") or 0) or None
        candidates = [
            m
            for m in page
            if m.get("role") == "user"
            and (created is None or int(m.get("created_at") or 0) <= created)
            and (current is None or _text(m) == _text(current))
        ]
        if candidates:
            record.request = max(candidates, key=lambda m: int(m.get("created_at") or 0))

    def _finish_if_ready(self, record: _Record) -> list[FinishedRun] | None:
        if record.terminal_ns is None:
            return None
        answered = any(m.get("status") != "in_progress" for m in record.answers.values())
        if record.run.get("status") == "completed" and not answered:
            return None
        self._runs.pop(record.run["id"])
        self._waiting.pop(record.run["id"])
        return self._finish(record)

    def _finish(self, record: _Record, error: BaseException | None = None) -> list[FinishedRun]:
        run_id = record.run.get("id")
        if isinstance(run_id, str):
            if run_id in self._done:
                return []
            self._done.put(run_id, True)
        answers = sorted(record.answers.values(), key=lambda m: int(m.get("created_at") or 0))
        # The run is over when its output is known (polling: when the answer is listed);
        # with no answer ever listed, when it was seen finished.
        unanswered = error is None and not answers and record.terminal_ns is not None
        end_ns = record.terminal_ns if unanswered and record.terminal_ns else self._now_ns()
        assistant = self._assistants.get(record.run.get("assistant_id"))  # type: ignore[arg-type]
        return [
            FinishedRun(
                record.run,
                record.request,
                answers,
                assistant,
                record.start.start_ns,
                max(end_ns, record.start.start_ns),
                record.start.context,
                error,
                record.start.identity,
            )
        ]

    def _deliver(self, finished: list[FinishedRun] | None) -> None:
        for item in finished or ():
            try:
                self._emit(item)
            except Exception:
                self._log.log(logging.ERROR, "emit", "reconify_otel: emit failed", exc_info=True)
