"""The LLM calls of one ``OpenAI`` / ``AsyncOpenAI`` client, logged as Reconify's handler
logs them: ``chat.completions.create``, ``completions.create`` and ``responses.create``
(and so the SDK's ``.stream()`` helpers, which call them), and the ``parse`` methods.

Only that client instance changes: each of its resources gets instance attributes
(``create``, ``parse``) that call the SDK's own method and hand what it returned to the handler;
the openai classes (and so every other client) stay as they are, and ``restore()``
deletes the attributes again. The application's call runs with its own arguments, its
result and exceptions pass through untouched (a call that raised sends nothing), and a
failure of ours is reported to ``on_error``, never raised.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable
from typing import Any

from reconify_otel import identity
from reconify_otel.core.conventions import Kind
from reconify_otel.core.llm.genai import CHAT, COMPLETION, RESPONSES
from reconify_otel.handler.calls import request_text
from reconify_otel.handler.streams import StreamLog, is_stream, observe

# Where each call lives on a client (resource, method), and which call it is.
METHODS = (
    ("chat.completions", "create", CHAT),
    ("chat.completions", "parse", CHAT),
    ("completions", "create", COMPLETION),
    ("responses", "create", RESPONSES),
    ("responses", "parse", RESPONSES),
)

# (flavor, request JSON, answer or None, start ns, end ns, identity at the call) -> queued
LogCall = Callable[[Kind, str, Any, int, int, identity.Captured], bool]


class ClientCalls:
    """The wrapped ``create`` methods of one client, and how to take them off again."""

    def __init__(self, client: Any, log_call: LogCall, on_error: Callable[[], None]) -> None:
        self._log_call = log_call
        self._on_error = on_error
        self._wrapped: list[tuple[Any, str, Any]] = []
        # Off after restore(): a wrapper the SDK still holds (the cached ``with_raw_response``
        # binds ``create`` when first used) then passes calls straight through.
        self._active = True
        for path, method, flavor in METHODS:
            resource = _resource(client, path)
            original = getattr(resource, method, None)
            if callable(original):
                wrapper = self._wrapper(original, flavor)
                setattr(resource, method, wrapper)
                self._wrapped.append((resource, method, wrapper))

    @property
    def wrapped(self) -> int:
        return len(self._wrapped)

    def restore(self) -> None:
        """The client's own methods again (where nobody wrapped over ours)."""
        self._active = False
        for resource, method, wrapper in self._wrapped:
            if vars(resource).get(method) is wrapper:
                delattr(resource, method)
        self._wrapped.clear()

    def _wrapper(self, original: Any, flavor: Kind) -> Any:
        """One wrapper for sync and async clients: the SDK's async ``create`` is a plain
        function returning a coroutine, which is awaited here before its result is seen."""

        @functools.wraps(original)
        def create(*args: Any, **kwargs: Any) -> Any:
            if not self._active:
                return original(*args, **kwargs)
            started = self._started(kwargs)
            result = original(*args, **kwargs)
            if inspect.isawaitable(result):
                return self._awaited(flavor, started, result)
            self._returned(flavor, started, result)
            return result

        return create

    async def _awaited(
        self, flavor: Kind, started: tuple[int, str, identity.Captured] | None, pending: Any
    ) -> Any:
        result = await pending
        self._returned(flavor, started, result)
        return result

    def _started(self, kwargs: dict[str, Any]) -> tuple[int, str, identity.Captured] | None:
        """What must be taken before the call: the time, the request as sent (the app may
        change its ``messages`` list while a stream runs) and the caller's user/session."""
        try:
            return time.time_ns(), request_text(kwargs), identity.span_attributes()
        except Exception:
            self._on_error()
            return None

    def _returned(
        self, flavor: Kind, started: tuple[int, str, identity.Captured] | None, result: Any
    ) -> None:
        if started is None:
            return
        start_ns, request, captured = started
        try:
            if type(result).__name__ == "LegacyAPIResponse":  # ``with_raw_response``
                if getattr(result, "_stream", False):
                    return  # a raw stream is read by the application, not through the SDK
                result = result.parse()  # cached: the application's parse() gets the same
            if is_stream(result):

                def answered(answer: Any) -> None:
                    self._log_call(flavor, request, answer, start_ns, time.time_ns(), captured)

                observe(result, StreamLog(flavor, answered, self._on_error))
            else:
                self._log_call(flavor, request, result, start_ns, time.time_ns(), captured)
        except Exception:
            self._on_error()


def _resource(client: Any, path: str) -> Any:
    """``client.chat.completions`` and the like; None where this SDK has no such resource."""
    found = client
    for name in path.split("."):
        try:
            found = getattr(found, name)
        except Exception:  # an SDK without it, or a client whose property raises
            return None
    return found
