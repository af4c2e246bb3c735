"""The simulated Assistants API (``SimulatedAssistantsAPI``) streaming, with async clients
and concurrent conversations, driven by the real openai SDK over loopback HTTP."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import openai
import pytest
from reconify_otel_testing.assistants_api import (
    PROMPT_OVERHEAD,
    SimulatedAssistantsAPI,
)

from .assistants_helpers import (
    QUESTION,
    QUESTION_USAGE,
    STREAM_ORDER,
    STREAM_TAIL,
    TUTOR,
    WEATHER_TOOL,
    AsyncRecorder,
    Recorder,
    async_client_for,
    client_for,
    sim_setup,
    text_of,
    usage_of,
)


def test_sim_call_functions_option_streams_tool_round_trip() -> None:
    with SimulatedAssistantsAPI(call_functions=True) as api:
        client = client_for(api)
        assistant, thread = sim_setup(client, tools=[WEATHER_TOOL])
        first = Recorder()
        with client.beta.threads.runs.stream(
            thread_id=thread.id, assistant_id=assistant.id, event_handler=first
        ) as stream:
            stream.until_done()
            run = stream.get_final_run()
        assert run.status == "requires_action"
        assert first.names == [
            "thread.run.created",
            "thread.run.queued",
            "thread.run.in_progress",
            "thread.run.step.created",
            "thread.run.step.in_progress",
            "thread.run.step.delta",
            "thread.run.step.delta",
            "thread.run.requires_action",
        ]
        call = run.required_action.submit_tool_outputs.tool_calls[0]
        second = Recorder()
        with client.beta.threads.runs.submit_tool_outputs_stream(
            thread_id=thread.id,
            run_id=run.id,
            tool_outputs=[{"tool_call_id": call.id, "output": "rain"}],
            event_handler=second,
        ) as stream:
            stream.until_done()
            final = stream.get_final_run()
        assert final.status == "completed"
        assert "".join(second.deltas) == f"You said: {QUESTION} (tool output: rain)"
        assert second.names[:4] == [
            "thread.run.queued",
            "thread.run.in_progress",
            "thread.run.step.completed",
            "thread.run.step.created",
        ]
        assert second.names[-3:] == STREAM_TAIL
        with pytest.raises(openai.BadRequestError):
            client.beta.threads.runs.submit_tool_outputs(
                thread_id=thread.id, run_id=run.id, tool_outputs=[]
            )


def test_sim_stream_event_order_and_forms(sim: SimulatedAssistantsAPI) -> None:
    client = client_for(sim)
    assistant, thread = sim_setup(client)
    handler = Recorder()
    with client.beta.threads.runs.stream(
        thread_id=thread.id, assistant_id=assistant.id, event_handler=handler
    ) as stream:
        stream.until_done()
        run = stream.get_final_run()
    assert handler.names[:7] == STREAM_ORDER and handler.names[-3:] == STREAM_TAIL
    assert handler.names[7:-3] == ["thread.message.delta"] * 17
    assert "".join(handler.deltas) == f"You said: {QUESTION}"
    assert (run.status, usage_of(run)) == ("completed", QUESTION_USAGE)

    client.beta.threads.messages.create(thread_id=thread.id, role="user", content="again")
    with client.beta.threads.runs.create_and_stream(
        thread_id=thread.id, assistant_id=assistant.id
    ) as s:
        names = [event.event for event in s]
        messages = s.get_final_messages()
    assert names[:7] == STREAM_ORDER and names[-3:] == STREAM_TAIL
    assert [text_of(m) for m in messages] == ["You said: again"]

    client.beta.threads.messages.create(thread_id=thread.id, role="user", content="raw")
    raw = client.beta.threads.runs.create(
        thread_id=thread.id, assistant_id=assistant.id, stream=True
    )
    events = list(raw)
    assert [e.event for e in events][-1] == "thread.run.completed"
    assert events[-1].data.usage.total_tokens == PROMPT_OVERHEAD + 1 + 3
    assert (
        client.beta.threads.messages.list(thread_id=thread.id, limit=1).data[0].run_id
        == events[0].data.id
    )


def test_sim_create_and_run_stream_and_poll(sim: SimulatedAssistantsAPI) -> None:
    client = client_for(sim)
    assistant = client.beta.assistants.create(model="gpt-4o-mini", instructions=TUTOR)
    handler = Recorder()
    with client.beta.threads.create_and_run_stream(
        assistant_id=assistant.id,
        thread={"messages": [{"role": "user", "content": "hello there"}]},
        event_handler=handler,
    ) as stream:
        stream.until_done()
        run = stream.get_final_run()
    assert handler.names[0] == "thread.created" and handler.names[1:8] == STREAM_ORDER
    assert (run.status, run.instructions, "".join(handler.deltas)) == (
        "completed",
        TUTOR,
        "You said: hello there",
    )
    polled = client.beta.threads.create_and_run_poll(
        assistant_id=assistant.id, thread={"messages": [{"role": "user", "content": "bye"}]}
    )
    assert polled.status == "completed" and polled.thread_id != run.thread_id
    reply = client.beta.threads.messages.list(thread_id=polled.thread_id, limit=1).data[0]
    assert text_of(reply) == "You said: bye"
    assert sim.requests[-2].path == f"/v1/threads/{polled.thread_id}/runs/{polled.id}"


def test_sim_async_client_flows(sim: SimulatedAssistantsAPI) -> None:
    async def flow() -> tuple[Any, list[str], Any]:
        client = async_client_for(sim)
        assistant = await client.beta.assistants.create(model="gpt-4o-mini", tools=[WEATHER_TOOL])
        thread = await client.beta.threads.create()
        await client.beta.threads.messages.create(thread_id=thread.id, role="user", content="hi")
        polled = await client.beta.threads.runs.create_and_poll(
            thread_id=thread.id, assistant_id=assistant.id
        )
        sim.script_next_runs("requires_action")
        await client.beta.threads.messages.create(thread_id=thread.id, role="user", content="tool")
        handler = AsyncRecorder()
        async with client.beta.threads.runs.stream(
            thread_id=thread.id, assistant_id=assistant.id, event_handler=handler
        ) as stream:
            await stream.until_done()
            pending = await stream.get_final_run()
        call = pending.required_action.submit_tool_outputs.tool_calls[0]
        async with client.beta.threads.runs.submit_tool_outputs_stream(
            thread_id=thread.id,
            run_id=pending.id,
            tool_outputs=[{"tool_call_id": call.id, "output": "42"}],
        ) as stream:
            names = [event.event async for event in stream]
            final = await stream.get_final_run()
        assert handler.names[-1] == "thread.run.requires_action"
        return polled, names, final

    polled, names, final = asyncio.run(flow())
    assert (polled.status, usage_of(polled)) == (
        "completed",
        (PROMPT_OVERHEAD + 1, 3, PROMPT_OVERHEAD + 4),
    )
    assert names[-1] == "thread.run.completed" and final.status == "completed"


def test_sim_concurrent_conversations(sim: SimulatedAssistantsAPI) -> None:
    client = client_for(sim)
    assistant = client.beta.assistants.create(model="gpt-4o-mini")

    def converse(n: int) -> str:
        thread = client.beta.threads.create(messages=[{"role": "user", "content": f"number {n}"}])
        client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
        return text_of(client.beta.threads.messages.list(thread_id=thread.id, limit=1).data[0])

    with ThreadPoolExecutor(max_workers=8) as pool:
        replies = list(pool.map(converse, range(16)))
    assert replies == [f"You said: number {n}" for n in range(16)]
    run_ids = {r.path.rsplit("/", 1)[-1] for r in sim.requests if "/runs/" in r.path}
    assert len(run_ids) == 16
