"""A simulated run's life: created, polled or streamed, tool calls, and its outcome."""

from __future__ import annotations

import json
import re

from .server import JSON, _Answer, _error, _json_answer, _paginate, _sse
from .state import (
    _ACTIVE,
    PROMPT_OVERHEAD,
    SimulationState,
    _chunks,
    _content_blocks,
    _Events,
    _function_names,
    _now,
    _RunState,
    _text_of,
    _usage,
    _words,
)


class RunLifecycle(SimulationState):
    """The run and run-step routes, and how a run advances to its scripted outcome."""

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

    def _list_steps(self, match: re.Match[str], query: dict[str, str], _b: JSON) -> _Answer:
        if self._find_run(match[1], match[2]) is None:
            return _error(404, f"No run found with id '{match[2]}'.")
        return _json_answer(_paginate(self.steps[match[2]], query))

    def _get_step(self, match: re.Match[str], _q: dict[str, str], _b: JSON) -> _Answer:
        step = self._step(match[2], match[3]) if self._find_run(match[1], match[2]) else None
        if step is None:
            return _error(404, f"No run step found with id '{match[3]}'.")
        return _json_answer(step)

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
