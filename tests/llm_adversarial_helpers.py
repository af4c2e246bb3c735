"""Shared by the tests/test_llm_adversarial_*.py modules."""

from __future__ import annotations

import dataclasses

from reconify_otel.offline.replay import RecordedCall

from .handler_llm_helpers import calls_of

# One recorded, unstreamed chat completion.
CHAT = next(c for c in calls_of("openai__test_chat__test_chat") if not c.streamed)


def numbered(call: RecordedCall, count: int) -> list[RecordedCall]:
    """``count`` copies of a recorded call, each answered with its own response id
    (``chat-0``, ``chat-1``...): as many distinct calls as a test needs."""
    answer_id = call.answer()["id"]  # type: ignore[index]
    return [
        dataclasses.replace(call, body=call.body.replace(answer_id.encode(), f"chat-{n}".encode()))
        for n in range(count)
    ]
