"""Exactly one payload per call when a framework's span records it too, without the
provider's response id: the parent of the call sent is that call; in another trace, a span
of another instrumentation that ran within it with the same answer is that call; the same
words from the same instrumentation, or outside its time, are another call."""

from __future__ import annotations

from typing import Any

from reconify_otel.core.dedup import RecentCalls, call_key

KIND = ("openai", "chat")
TRACE, OTHER_TRACE = 0x4BF92F3577B34DA6A3CE929D0E0E4736, 0x0AF7651916CD43DD8448EB211C80319C
LANGCHAIN, OPENAI = (
    "openinference.instrumentation.langchain",
    "openinference.instrumentation.openai",
)


def answer(text: str, response_id: str | None = None) -> dict[str, Any]:
    return {"id": response_id, "choices": [{"message": {"content": text}}]}


def ask(question: str) -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "user", "content": question}]}


def first_time(
    recent: RecentCalls,
    text: str,
    *,
    trace: int = TRACE,
    span: int,
    parent: int = 0,
    window: tuple[int, int] = (0, 10),
    scope: str = OPENAI,
    response_id: str | None = None,
) -> bool:
    recorded = (parent, *window, scope)
    key = call_key(KIND, answer(text, response_id), response_id, trace, span, recorded)
    return recent.first_time(key)


def test_the_parent_of_a_call_sent_is_that_call_even_without_its_text() -> None:
    """traceloop's LangChain span of a streamed call, content off: no id, no text."""
    recent = RecentCalls()
    assert first_time(recent, "hi", span=2, parent=1, response_id="chatcmpl-1")
    parent_key = call_key(KIND, {}, None, TRACE, 1, (0, 0, 20, LANGCHAIN))
    assert not recent.first_time(parent_key)
    # The same span id in another trace is another span.
    other = call_key(KIND, {}, None, OTHER_TRACE, 1, (0, 0, 20, LANGCHAIN))
    assert recent.first_time(other)


def test_a_span_around_another_instrumentations_same_answer_is_that_call() -> None:
    """OpenInference's LangChain span: the provider's ChatCompletion is in a trace of its
    own, within the LangChain span's time, with the same answer."""
    recent = RecentCalls()
    assert first_time(recent, "a joke", trace=OTHER_TRACE, span=9, window=(12, 18))
    assert not first_time(recent, "a joke", span=1, window=(10, 20), scope=LANGCHAIN)


def test_the_same_words_outside_its_time_or_from_its_own_instrumentation_are_another_call() -> None:
    recent = RecentCalls()
    assert first_time(recent, "OK", trace=OTHER_TRACE, span=9, window=(30, 40))
    assert first_time(recent, "OK", span=1, window=(10, 20), scope=LANGCHAIN)  # before it
    # Two concurrent calls of one instrumentation (LiteLLM's, no ids) answering alike.
    assert first_time(recent, "OK", trace=3, span=5, window=(100, 110), scope=LANGCHAIN)
    assert first_time(recent, "OK", trace=4, span=6, window=(99, 120), scope=LANGCHAIN)


def test_another_question_answered_alike_at_the_same_time_is_another_call() -> None:
    """Two callers asking different things, both answered "Yes", from two instrumentations
    in two traces: the question tells them apart."""
    recent = RecentCalls()
    inner = call_key(KIND, answer("Yes"), None, OTHER_TRACE, 9, (0, 12, 18, OPENAI), ask("A?"))
    outer = call_key(KIND, answer("Yes"), None, TRACE, 1, (0, 10, 20, LANGCHAIN), ask("B?"))
    assert recent.first_time(inner) and recent.first_time(outer)


def test_a_parent_that_is_another_call_is_sent() -> None:
    """An application span LiteLLM wrote an Anthropic call on, around an OpenAI call of
    the openai instrumentation: two calls."""
    recent = RecentCalls()
    child = call_key(KIND, answer("A", "chatcmpl-1"), "chatcmpl-1", TRACE, 2, (1, 0, 5, OPENAI))
    assert recent.first_time(child)
    anthropic = {"id": None, "content": [{"type": "text", "text": "B"}]}
    parent = call_key(("anthropic", "chat"), anthropic, None, TRACE, 1, (0, 0, 9, "litellm"))
    assert recent.first_time(parent)
    # Of the same kind but another answer: another call too.
    other = call_key(KIND, answer("C"), None, TRACE, 1, (0, 0, 9, "litellm"))
    assert recent.first_time(other)


def test_a_span_with_the_providers_id_is_matched_by_id_only() -> None:
    recent = RecentCalls()
    assert first_time(recent, "x", trace=OTHER_TRACE, span=9, window=(12, 18), response_id="a")
    assert first_time(recent, "x", span=1, window=(10, 20), scope=LANGCHAIN, response_id="b")


def test_memory_stays_bounded_under_many_calls_and_many_alike() -> None:
    recent = RecentCalls(window=100)
    for n in range(1_000):
        first_time(recent, f"answer {n}", trace=n + 1, span=n + 1, parent=n + 10_000)
    for n in range(1_000):
        first_time(recent, "same words", trace=n + 5_000, span=1, window=(n, n + 1))
    assert len(recent._parents) <= 200 and len(recent._windows) <= 200
    assert max(len(w) for w in recent._windows.values()) <= 8
