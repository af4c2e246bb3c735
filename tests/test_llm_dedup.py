"""Which spans ``core.dedup`` takes for one LLM call: the same response id, or, for a span
without one, the same trace and answer text; never two calls whose ids differ."""

from __future__ import annotations

from typing import Any

from reconify_otel.core.dedup import RecentCalls, call_key

TRACE = 0x4BF92F3577B34DA6A3CE929D0E0E4736
OTHER_TRACE = 0x0AF7651916CD43DD8448EB211C80319C


def chat(response_id: str | None, text: str | None, usage: int | None = 7) -> dict[str, Any]:
    """A chat payload; the id, usage and finish reason differ between conventions."""
    message = {"role": "assistant", "content": text}
    return {
        "reconify": {"format": "openai", "type": "chat"},
        "response": {
            "id": response_id,
            "choices": [{"index": 0, "message": message, "finish_reason": None}],
            "usage": {"total_tokens": usage} if usage is not None else None,
        },
    }


def seen(recent: RecentCalls, payload: dict[str, Any], trace: int = TRACE) -> bool:
    """True when ``recent`` takes the span for a call already sent."""
    kind = (payload["reconify"]["format"], payload["reconify"]["type"])
    response = payload["response"]
    return not recent.first_time(call_key(kind, response, response["id"], trace))


def test_the_same_response_id_is_one_call() -> None:
    recent = RecentCalls()
    assert not seen(recent, chat("chatcmpl-1", "Hi"))
    assert seen(recent, chat("chatcmpl-1", "Hi", usage=None), OTHER_TRACE)


def test_a_span_without_an_id_after_the_providers_span() -> None:
    recent = RecentCalls()
    assert not seen(recent, chat("chatcmpl-1", "Hi"))
    assert seen(recent, chat(None, "Hi", usage=None))  # the framework's span around it
    assert not seen(recent, chat(None, "Hi"), OTHER_TRACE)  # another trace: another call


def test_a_span_without_an_id_before_the_providers_span() -> None:
    recent = RecentCalls()
    assert not seen(recent, chat(None, "Hi", usage=None))
    assert seen(recent, chat("chatcmpl-1", "Hi"))
    # The id-less span is claimed: a second call with the same words is its own.
    assert not seen(recent, chat("chatcmpl-2", "Hi"))


def test_two_ids_are_two_calls_even_with_the_same_answer_in_one_trace() -> None:
    recent = RecentCalls()
    assert not seen(recent, chat("chatcmpl-1", "Yes"))
    assert not seen(recent, chat("chatcmpl-2", "Yes"))
    assert seen(recent, chat(None, "Yes"))


def test_spans_without_ids_or_texts_match_only_the_whole_answer() -> None:
    recent = RecentCalls()
    assert not seen(recent, chat(None, None))
    assert seen(recent, chat(None, None))
    assert not seen(recent, chat(None, None, usage=8))  # another answer: another call
    assert not seen(recent, chat("chatcmpl-1", None))  # content off: only ids can match


def test_tool_calls_and_anthropic_blocks_are_the_answer() -> None:
    recent = RecentCalls()
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather"}}
    tools = chat("chatcmpl-1", None)
    tools["response"]["choices"][0]["message"]["tool_calls"] = [call]
    assert not seen(recent, tools)
    bare = chat(None, None, usage=None)
    bare["response"]["choices"][0]["message"]["tool_calls"] = [dict(call, id="fc_1")]
    assert seen(recent, bare)
    anthropic = {"reconify": {"format": "anthropic", "type": "chat"}}
    blocks = [{"type": "text", "text": "Hi"}, {"type": "tool_use", "name": "get_weather"}]
    assert not seen(recent, dict(anthropic, response={"id": "msg_1", "content": blocks}))
    assert seen(recent, dict(anthropic, response={"id": None, "content": blocks}))


def test_the_window_forgets_the_oldest() -> None:
    recent = RecentCalls(window=2)  # two calls: four keys
    for n in range(3):
        assert not seen(recent, chat(f"chatcmpl-{n}", f"answer {n}"))
    assert len(recent) == 4
    assert not seen(recent, chat("chatcmpl-0", "answer 0"))
    assert seen(recent, chat("chatcmpl-2", "answer 2"))
