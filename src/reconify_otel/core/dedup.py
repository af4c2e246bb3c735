"""Exactly one payload per LLM call, however many spans recorded it.

Two instrumentations active at once (traceloop and OpenInference, say) or a framework
span around the provider's span give several spans for one call. They share the
provider's response id; a span without one (a framework's) shares the trace and the
answer's texts with the provider's span, or is the parent of the span that was sent, or
(OpenInference's LangChain spans, whose provider spans start traces of their own) ran
around a span of another instrumentation that answered the same texts. Two spans that
both carry ids are the same call only when the ids match: one trace may ask twice and
get the same words back. The window is bounded: duplicates arrive close together, so the
oldest keys are forgotten first. The provider's span ends first, so it is the one sent.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import weakref
from collections import OrderedDict
from typing import Any, Final

from reconify_otel.core.payload import CallKey

DEFAULT_WINDOW: Final = 10_000  # calls
_Entry = tuple[bool, int | None]  # see RecentCalls._keys


def call_key(
    kind: tuple[str, str],
    response: Any,
    response_id: str | None,
    trace_id: int,
    span_id: int = 0,
    recorded: tuple[int, int, int, str] | None = None,
    request: Any = None,
) -> CallKey:
    """The provider's response id when there is one, and the trace plus the answer's texts.
    A span with neither (OpenInference with content hidden) is a call of its own: two such
    calls in one trace often answer alike (model, usage) and must not be taken for one.
    ``span_id`` 0: the record is no span (the handler's); without an id and texts its key is
    the trace plus the whole answer. ``kind``: Reconify's (format, type) of the call.
    ``recorded``: the span's parent span id, start, end and instrumentation scope;
    ``request``: the call's request, whose question joins the answer across traces."""
    prefix = f"{kind[0]}:{kind[1]}"
    texts = _answer_texts(response)
    if texts:
        # hash(), not a digest: cheap on every call, and the window lives in one process.
        answer: str | None = f"{prefix}:trace:{trace_id:032x}:{hash(tuple(texts)):x}"
    elif not response_id and not span_id:
        answer = f"{prefix}:trace:{trace_id:032x}:all:{_digest(response)}"
    else:
        answer = None
    span = trace_id << 64 | span_id if span_id else None
    parent = window = any_trace = None
    if recorded is not None:
        parent_id, start, end, scope = recorded
        parent = trace_id << 64 | parent_id if parent_id else None
        if texts:
            asked = hash((tuple(texts), _question(request)))
            any_trace, window = f"{prefix}:texts:{asked:x}", (start, end, scope)
    by_id = f"{prefix}:id:{response_id}" if response_id else None
    return CallKey(by_id, answer, span, parent, any_trace, window, prefix)


def _question(request: Any) -> str | None:
    """The last user message's text (a legacy completion's prompt, Cohere's ``message``,
    Gemini's last user ``contents``, the prompt of a Bedrock body sent): with the answer,
    what tells one call from another that answered alike ("Yes") at the same time."""
    if not isinstance(request, dict):
        return None
    if isinstance(request.get("body"), str) and "modelId" in request:  # Bedrock's, as sent
        return _question(_parsed(request["body"]))
    for key in ("prompt", "message", "inputText"):
        if isinstance(request.get(key), str):
            return str(request[key])
    if "contents" in request:
        return _gemini_question(request["contents"])
    for message in reversed(_dicts(request.get("messages"))):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                texts = [b.get("text") for b in _dicts(content)]
                content = "".join(t for t in texts if isinstance(t, str))
            return content if isinstance(content, str) else None
    return None


def _gemini_question(contents: Any) -> str | None:
    """Gemini's ``contents``: a text (the SDK's), or turns whose last user one's text
    parts are the question (a turn of the SDK given as text is one)."""
    if isinstance(contents, str):
        return contents
    for turn in reversed(contents if isinstance(contents, list) else []):
        if isinstance(turn, str):
            return turn
        if isinstance(turn, dict) and turn.get("role") in (None, "user"):
            return _joined_parts(turn)
    return None


def _joined_parts(content: Any) -> str:
    """A Gemini content's text parts joined, thoughts left out: instrumentations record
    an answer's parts apart or as one text, and thoughts or not."""
    parts = _dicts(_dict(content).get("parts"))
    texts = [p.get("text") for p in parts if not p.get("thought")]
    return "".join(t for t in texts if isinstance(t, str))


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
    found.append(response.get("text"))  # Cohere's v1 answer
    found += [call.get("name") for call in _dicts(response.get("tool_calls"))]
    for message in _dicts([response.get("message")]):  # Cohere's v2 answer (log_chat)
        content = message.get("content")
        if isinstance(content, list):
            blocks = [b.get("text") for b in _dicts(content)]
            content = "".join(t for t in blocks if isinstance(t, str))
        found.append(content)
        for call in _dicts(message.get("tool_calls")):
            found += [f.get("name") for f in _dicts([call.get("function")])]
    body = response.get("body")  # Bedrock's ``{requestId, body}``: Converse's, or the model's
    if isinstance(body, dict):
        found += _answer_texts(body)
    for message in _dicts([_dict(response.get("output")).get("message")]):  # Converse
        for block in _dicts(message.get("content")):
            found.append(block.get("text") or _dict(block.get("toolUse")).get("name"))
    for candidate in _dicts(response.get("candidates")):  # Gemini
        content = candidate.get("content")
        found.append(_joined_parts(content))
        for part in _dicts(_dict(content).get("parts")):
            called = part.get("functionCall") or part.get("function_call")
            found.append(_dict(called).get("name"))
    return [text for text in found if isinstance(text, str) and text]


def _parsed(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


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
        # key -> (whether a span without a response id left it and no span with one has
        # claimed it since: only then may a span with an id match by its answer; the span
        # that left it first, whose own resends are no duplicates).
        self._keys: OrderedDict[str, _Entry] = OrderedDict()
        # Spans that are the parent of a call seen (trace << 64 | span id), and when and by
        # which instrumentation each recent answer's texts were recorded.
        self._parents: OrderedDict[int, tuple[str | None, str | None, str | None]] = OrderedDict()
        self._windows: OrderedDict[str, list[tuple[int, int, str]]] = OrderedDict()
        self._lock = threading.Lock()
        _instances.add(self)

    def _after_fork(self) -> None:
        # A fork while another thread held the lock must not leave the child stuck.
        self._lock = threading.Lock()

    def first_time(self, key: CallKey) -> bool:
        """True the first time a call is seen within the window (or again from the span
        that was first); remembers it."""
        with self._lock:
            keys = self._keys
            by_id = self._left_by_another(key.response_id, key.span)
            by_answer = self._left_by_another(key.answer, key.span)
            if key.response_id is not None:
                claimed = by_answer if by_answer is not None and by_answer[0] else None
                original = by_id or claimed
            else:
                original = by_answer
            # A repeat's keys belong to the span that was sent, so only that one's resends
            # pass.
            owner = key.span if original is None else original[1]
            for name in (key.response_id, key.answer):
                if name is not None:
                    no_id, first = keys.get(name, (True, owner))
                    keys[name] = (key.response_id is None and no_id, first)
                    keys.move_to_end(name)
            while len(keys) > self._capacity:
                keys.popitem(last=False)
            around = self._around_a_call(key)
            self._remember_around(key)
            return original is None and not around

    def _around_a_call(self, key: CallKey) -> bool:
        """A span around a call already seen: its parent, of the same kind, with the same
        question and answer where both hold them, and the same provider id where both hold
        one (botocore's Bedrock span holds none, traceloop's around it the model's); or,
        without the provider's id, one of another instrumentation (any trace) that ran
        within it, or alongside it for nine tenths of the shorter (botocore's span of a
        Bedrock stream starts a trace of its own and ends just after traceloop's), with
        the same ones."""
        child = self._parents.get(key.span) if key.span is not None else None
        if child is not None:
            kind, texts, child_id = child
            same_texts = texts is None or key.texts is None or texts == key.texts
            same_id = child_id is None or key.response_id is None or child_id == key.response_id
            if kind == key.kind and same_texts and same_id:
                return True
        if key.response_id is not None or key.texts is None or key.window is None:
            return False
        start, end, scope = key.window
        return any(
            inner_scope != scope and _alongside(start, end, inner_start, inner_end)
            for inner_start, inner_end, inner_scope in self._windows.get(key.texts, ())
        )

    def _remember_around(self, key: CallKey) -> None:
        if key.parent is not None:
            self._parents[key.parent] = (key.kind, key.texts, key.response_id)
            self._parents.move_to_end(key.parent)
            if len(self._parents) > self._capacity:
                self._parents.popitem(last=False)
        if key.texts is not None and key.window is not None:
            windows = self._windows.setdefault(key.texts, [])
            windows.append(key.window)
            del windows[:-8]  # a few calls with the same words at once, not more
            self._windows.move_to_end(key.texts)
            if len(self._windows) > self._capacity:
                self._windows.popitem(last=False)

    def _left_by_another(self, name: str | None, span: int | None) -> _Entry | None:
        entry = self._keys.get(name) if name is not None else None
        if entry is None or (span is not None and entry[1] == span):
            return None
        return entry

    def __len__(self) -> int:
        return len(self._keys)


def _alongside(start: int, end: int, inner_start: int, inner_end: int) -> bool:
    """One span within the other, or the two overlapping for 90% of the shorter."""
    if start <= inner_start and inner_end <= end:
        return True
    shared = min(end, inner_end) - max(start, inner_start)
    return shared > 0 and 10 * shared >= 9 * min(end - start, inner_end - inner_start)


_instances: weakref.WeakSet[RecentCalls] = weakref.WeakSet()


def _reset_in_child() -> None:
    for calls in list(_instances):
        calls._after_fork()


os.register_at_fork(after_in_child=_reset_in_child)
