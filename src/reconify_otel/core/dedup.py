"""Exactly one payload per LLM call, however many spans recorded it.

Two instrumentations active at once (traceloop and OpenInference, say) or a framework
span around the provider's span give several spans for one call. They share the
provider's response id; a span without one (a framework's) shares the trace and the
answer's texts with the provider's span. Two spans that both carry ids are the same call
only when the ids match: one trace may ask twice and get the same words back. The window
is bounded: duplicates arrive close together, so the oldest keys are forgotten first.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import weakref
from collections import OrderedDict
from typing import Any, Final

from reconify_otel.core.payload import CallKey, Payload

DEFAULT_WINDOW: Final = 10_000  # calls


def call_key(payload: Payload, response_id: str | None, trace_id: int) -> CallKey:
    """The provider's response id when there is one, and the trace plus the answer's texts
    (without texts, and without an id: the trace plus the whole answer)."""
    kind = payload.get("reconify") or {}
    prefix = f"{kind.get('format')}:{kind.get('type')}"
    texts = _answer_texts(payload.get("response"))
    if texts:
        # hash(), not a digest: cheap on every call, and the window lives in one process.
        answer: str | None = f"{prefix}:trace:{trace_id:032x}:{hash(tuple(texts)):x}"
    elif not response_id:
        answer = f"{prefix}:trace:{trace_id:032x}:all:{_digest(payload.get('response'))}"
    else:
        answer = None
    return CallKey(f"{prefix}:id:{response_id}" if response_id else None, answer)


def _answer_texts(response: Any) -> list[str]:
    """What the model said (texts, tool names), as every convention records it alike."""
    if not isinstance(response, dict):
        return []
    found: list[Any] = []
    for choice in _dicts(response.get("choices")):  # OpenAI chat and legacy completions
        found.append(choice.get("text"))
        for message in _dicts([choice.get("message")]):
            found.append(message.get("content"))
            for call in _dicts(message.get("tool_calls")):
                found += [f.get("name") for f in _dicts([call.get("function")])]
    for block in _dicts(response.get("content")):  # Anthropic
        found.append(block.get("text") or block.get("name"))
    return [text for text in found if isinstance(text, str) and text]


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:32]


class RecentCalls:
    """The keys of the most recent calls, thread-safe (the bridge maps on several threads)."""

    def __init__(self, window: int = DEFAULT_WINDOW) -> None:
        """``window``: how many calls to remember; up to two keys each (id and answer)."""
        self._capacity = 2 * window
        # key -> whether a span without a response id left it (and no span with one has
        # claimed it since): only then may a span with an id match by its answer.
        self._keys: OrderedDict[str, bool] = OrderedDict()
        self._lock = threading.Lock()
        _instances.add(self)

    def _after_fork(self) -> None:
        # A fork while another thread held the lock must not leave the child stuck.
        self._lock = threading.Lock()

    def first_time(self, key: CallKey) -> bool:
        """True the first time a call is seen within the window; remembers it."""
        with self._lock:
            keys = self._keys
            if key.response_id is not None:
                claimed = key.answer is not None and keys.get(key.answer) is True
                repeat = key.response_id in keys or claimed
            else:
                repeat = key.answer in keys
            for name in (key.response_id, key.answer):
                if name is not None:
                    keys[name] = key.response_id is None and keys.get(name, True)
                    keys.move_to_end(name)
            while len(keys) > self._capacity:
                keys.popitem(last=False)
            return not repeat

    def __len__(self) -> int:
        return len(self._keys)


_instances: weakref.WeakSet[RecentCalls] = weakref.WeakSet()


def _reset_in_child() -> None:
    for calls in list(_instances):
        calls._after_fork()


os.register_at_fork(after_in_child=_reset_in_child)
