"""Streamed calls, logged as the object the unstreamed call would have returned.

Reconify's modules log a stream when it is consumed to its end: texts and tool-call
arguments joined, usage from the final chunk when the provider sent one. A stream the
application abandons half-way (``close()``, leaving its ``with`` block, or dropping it)
is logged as far as it was received, with ``finish_reason`` null: the user saw that
much, and the null says the answer did not finish. A stream abandoned before its first
chunk holds no answer and is counted as ``skipped_no_answer``; one that raised sends
nothing, like any call that raised.

The stream object the application gets is the SDK's own: only its private iterator is
swapped for one that sees each chunk first (as the instrumentation does for runs).
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from reconify_otel.core.llm.genai import CHAT, COMPLETION, RESPONSES
from reconify_otel.core.llm.shapes import chat_choice, tool_call
from reconify_otel.core.run_attributes import to_dict

Answer = dict[str, Any]


def is_stream(result: Any) -> bool:
    """An ``openai`` ``Stream`` / ``AsyncStream`` (also behind an instrumentation's proxy)."""
    return hasattr(result, "_iterator") and hasattr(result, "response")


def _field(value: Any, name: str) -> Any:
    """A field of an SDK object (or of a dict): read directly, as dumping every chunk to a
    dict would cost the application's thread more than the chunk itself."""
    return value.get(name) if isinstance(value, dict) else getattr(value, name, None)


class _Choices:
    """What chat and legacy completion chunks share: the head (id, created, model) of the
    first chunk, per choice the texts and the last finish reason, the latest usage."""

    def __init__(self) -> None:
        self.head: Answer | None = None
        self.texts: dict[int, list[str]] = {}
        self.finish: dict[int, Any] = {}
        self.usage: Any = None

    def add(self, chunk: Any, text_of: Callable[[Any], Any]) -> list[tuple[int, Any]]:
        """Take one chunk; its (choice index, choice) pairs, for what else a kind reads."""
        if self.head is None:
            self.head = {key: _field(chunk, key) for key in ("id", "created", "model")}
        self.usage = _field(chunk, "usage") or self.usage
        choices = []
        for choice in _field(chunk, "choices") or ():
            index = _field(choice, "index") or 0
            text = text_of(choice)
            self.texts.setdefault(index, [])
            if isinstance(text, str) and text:
                self.texts[index].append(text)
            self.finish[index] = _field(choice, "finish_reason") or self.finish.get(index)
            choices.append((index, choice))
        return choices

    def answer(self, kind: str, choices: list[Answer]) -> Answer:
        return {
            **(self.head or {}),
            "object": kind,
            "choices": choices,
            "usage": to_dict(self.usage),
        }

    def finish_reason(self, index: int, finished: bool) -> Any:
        return self.finish.get(index) if finished else None


class _Chat:
    """``chat.completions`` chunks: texts and each tool call's arguments joined."""

    def __init__(self) -> None:
        self._choices = _Choices()
        self._calls: dict[int, dict[int, Answer]] = {}

    def add(self, chunk: Any) -> None:
        for index, choice in self._choices.add(chunk, _delta_text):
            for call in _field(_field(choice, "delta"), "tool_calls") or ():
                calls = self._calls.setdefault(index, {})
                into = calls.setdefault(_field(call, "index") or 0, {"arguments": []})
                function = _field(call, "function")
                for key, value in (("id", _field(call, "id")), ("name", _field(function, "name"))):
                    into[key] = into.get(key) or value
                into["arguments"].append(_field(function, "arguments") or "")

    def answer(self, finished: bool) -> Answer | None:
        if self._choices.head is None:
            return None
        choices = []
        for index, texts in sorted(self._choices.texts.items()):
            message: Answer = {"role": "assistant", "content": "".join(texts) if texts else None}
            calls = [
                tool_call(c.get("id"), c.get("name"), "".join(c["arguments"]))
                for _, c in sorted(self._calls.get(index, {}).items())
            ]
            choices.append(chat_choice(index, message["content"], calls, None))
            choices[-1]["finish_reason"] = self._choices.finish_reason(index, finished)
        return self._choices.answer("chat.completion", choices)


class _Completion:
    """Legacy ``completions`` chunks: each choice's text joined (the SDK has no helper)."""

    def __init__(self) -> None:
        self._choices = _Choices()

    def add(self, chunk: Any) -> None:
        self._choices.add(chunk, lambda choice: _field(choice, "text"))

    def answer(self, finished: bool) -> Answer | None:
        if self._choices.head is None:
            return None
        choices = [
            {
                "index": index,
                "text": "".join(texts),
                "finish_reason": self._choices.finish_reason(index, finished),
            }
            for index, texts in sorted(self._choices.texts.items())
        ]
        return self._choices.answer("text_completion", choices)


def _delta_text(choice: Any) -> Any:
    return _field(_field(choice, "delta"), "content")


class _Responses:
    """Responses API events: the final event carries the whole ``Response``; before it,
    the latest snapshot plus the output items done and the text received so far."""

    def __init__(self) -> None:
        self._snapshot: Answer | None = None
        self._items: list[Any] = []
        self._partial: dict[str, list[str]] = {}

    def add(self, event: Any) -> None:
        kind = _field(event, "type")
        if kind == "response.output_text.delta":
            texts = self._partial.setdefault(str(_field(event, "item_id")), [])
            texts.append(_field(event, "delta") or "")
        elif _field(event, "response") is not None:
            self._snapshot = to_dict(_field(event, "response"))
        elif kind == "response.output_item.done":
            item = to_dict(_field(event, "item"))
            if item is not None:
                self._items.append(item)
                self._partial.pop(str(item.get("id")), None)

    def answer(self, finished: bool) -> Answer | None:
        if self._snapshot is None:
            return None
        if finished and self._snapshot.get("status") != "in_progress":
            return self._snapshot
        received = [
            {"type": "message", "content": [{"type": "output_text", "text": "".join(texts)}]}
            for texts in self._partial.values()
        ]
        # Not completed: the chat shape's finish_reason reads null for this status.
        return dict(self._snapshot, status="in_progress", output=self._items + received)


_ACCUMULATORS: dict[str, Callable[[], _Chat | _Completion | _Responses]] = {
    CHAT: _Chat,
    COMPLETION: _Completion,
    RESPONSES: _Responses,
}


class StreamLog:
    """One streamed call: chunks go in; ``on_answer(answer)`` runs once, at the end or on
    abandonment (None: nothing was received). Our failures go to ``on_error``."""

    def __init__(
        self,
        flavor: str,
        on_answer: Callable[[Answer | None], None],
        on_error: Callable[[], None],
    ) -> None:
        self._accumulator = _ACCUMULATORS[flavor]()
        self._on_answer = on_answer
        self._on_error = on_error
        self._lock = threading.Lock()
        self._over = False

    def add(self, chunk: Any) -> None:
        try:
            self._accumulator.add(chunk)
        except Exception:
            self._on_error()

    def end(self, finished: bool) -> None:
        """Log what was received, once: ``finished`` when the stream ran to its end."""
        with self._lock:
            if self._over:
                return
            self._over = True
        try:
            self._on_answer(self._accumulator.answer(finished))
        except Exception:
            self._on_error()

    def failed(self) -> None:
        """The stream raised: the call failed, nothing is sent."""
        with self._lock:
            self._over = True


def observe(stream: Any, log: StreamLog) -> None:
    """Swap ``stream``'s private iterator for one that feeds ``log``; log an abandoned
    stream when it is closed or garbage-collected."""
    inner = stream._iterator

    def chunks() -> Iterator[Any]:
        try:
            for chunk in inner:
                log.add(chunk)
                yield chunk
        except Exception:
            log.failed()
            raise
        log.end(finished=True)

    async def async_chunks() -> AsyncIterator[Any]:
        try:
            async for chunk in inner:
                log.add(chunk)
                yield chunk
        except Exception:
            log.failed()
            raise
        log.end(finished=True)

    stream._iterator = async_chunks() if hasattr(inner, "__anext__") else chunks()
    _on_close(stream, log)
    # An object without weak references is logged at close() or at its end only.
    with contextlib.suppress(TypeError):
        weakref.finalize(stream, log.end, False)


def _on_close(stream: Any, log: StreamLog) -> None:
    """``close()`` (also run by ``with``/``async with`` exit) ends the log first."""
    close = stream.close

    if hasattr(stream, "__aenter__"):

        async def async_close() -> None:
            log.end(finished=False)
            await close()

        stream.close = async_close
        return

    def sync_close() -> None:
        log.end(finished=False)
        close()

    stream.close = sync_close
