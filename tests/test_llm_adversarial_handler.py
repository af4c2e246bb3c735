"""The handler's wrapped client and ``log_chat`` under what applications really do: many
threads and asyncio tasks at once, each with its own user; junk times and requests.
Real openai SDK on the loopback replay, the real sink; exact counts."""

from __future__ import annotations

import asyncio
import math
import threading
from typing import Any

import pytest
from openai import AsyncOpenAI, OpenAI

import reconify_otel
from reconify_otel.offline.replay import LlmReplay
from reconify_otel.offline.sink import ReconifySink

from .handler_llm_helpers import handler_for
from .llm_adversarial_helpers import CHAT, numbered

OPENAI_KEY = "sk-handler-adversarial-3f9a"
THREADS, CALLS_EACH = 4, 8


def users_by_answer(payloads: list[dict[str, Any]]) -> dict[str, str]:
    return {p["response"]["id"]: p["user"]["userId"] for p in payloads}


def test_threads_each_get_their_own_calls_and_users(sink: ReconifySink) -> None:
    called: dict[str, str] = {}
    lock = threading.Lock()
    with LlmReplay(numbered(CHAT, THREADS * CALLS_EACH)) as replay:
        client = OpenAI(base_url=replay.base_url, api_key=OPENAI_KEY, max_retries=0)
        handler = handler_for(client, sink.url)

        def work(user: str) -> None:
            with reconify_otel.user({"userId": user}):
                for _ in range(CALLS_EACH):
                    answer = client.chat.completions.create(**CHAT.request)
                    with lock:
                        called[answer.id] = user

        threads = [threading.Thread(target=work, args=(f"u{n}",)) for n in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert handler.close(timeout=10)
    assert len(called) == THREADS * CALLS_EACH
    assert len(sink.payloads) == THREADS * CALLS_EACH  # exactly one payload per call
    assert users_by_answer(sink.payloads) == called
    stats = {k: v for k, v in handler.stats().items() if v}
    assert stats == {"accepted": THREADS * CALLS_EACH}


def test_asyncio_tasks_each_get_their_own_calls_and_users(sink: ReconifySink) -> None:
    count = THREADS * CALLS_EACH

    async def main(client: AsyncOpenAI) -> dict[str, str]:
        async def one(user: str) -> tuple[str, str]:
            with reconify_otel.user({"userId": user}):
                answer = await client.chat.completions.create(**CHAT.request)
                return answer.id, user

        return dict(await asyncio.gather(*(one(f"t{n}") for n in range(count))))

    with LlmReplay(numbered(CHAT, count)) as replay:
        client = AsyncOpenAI(base_url=replay.base_url, api_key=OPENAI_KEY, max_retries=0)
        handler = handler_for(client, sink.url)
        called = asyncio.run(main(client))
        assert handler.close(timeout=10)
    assert len(called) == count
    assert users_by_answer(sink.payloads) == called


@pytest.mark.parametrize("bad_time", [math.inf, -math.inf, math.nan], ids=["inf", "-inf", "nan"])
def test_a_non_finite_time_is_now_and_the_call_is_sent(bad_time: float, sink: ReconifySink) -> None:
    handler = handler_for(None, sink.url)
    started = 1_774_963_843_123
    assert handler.log_chat(CHAT.request, CHAT.answer(), started, bad_time) is True
    assert handler.close(timeout=5)
    (payload,) = sink.payloads
    assert payload["timestamps"]["request"] == started
    assert payload["timestamps"]["response"] > started  # now, not the junk
    assert {k: v for k, v in handler.stats().items() if v} == {"accepted": 1}


def test_a_request_json_cannot_write_is_bad_input(sink: ReconifySink) -> None:
    """README: ``False`` (and ``skipped_bad_input``) for something it cannot log."""
    handler = handler_for(None, sink.url)
    circular: dict[str, Any] = dict(CHAT.request)
    circular["metadata"] = circular
    assert handler.log_chat(circular, CHAT.answer()) is False
    assert handler.log_chat({("model",): "gpt-4o", "messages": []}, CHAT.answer()) is False
    assert handler.close(timeout=5)
    assert sink.attempts == 0
    assert {k: v for k, v in handler.stats().items() if v} == {"skipped_bad_input": 2}
