"""The Assistants API stand-ins, driven by the real openai SDK over loopback HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import openai
import pytest
from openai import AssistantEventHandler, AsyncAssistantEventHandler, AsyncOpenAI, OpenAI
from reconify_otel_testing.assistants_api import (
    PROMPT_OVERHEAD,
    RecordedRequest,
    ReplayAssistantsAPI,
    SimulatedAssistantsAPI,
)

QUESTION = "I need to solve the equation `3x + 11 = 14`. Can you help me?"
INSTRUCTIONS = "Please address the user as Jane Doe. The user has a premium account."
TUTOR = "You are a personal math tutor. Write and run code to answer math questions."
WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"input": {"type": "string"}}},
    },
}
STREAM_ORDER = [
    "thread.run.created",
    "thread.run.queued",
    "thread.run.in_progress",
    "thread.run.step.created",
    "thread.run.step.in_progress",
    "thread.message.created",
    "thread.message.in_progress",
]
STREAM_TAIL = ["thread.message.completed", "thread.run.step.completed", "thread.run.completed"]


def client_for(api: ReplayAssistantsAPI | SimulatedAssistantsAPI) -> OpenAI:
    return OpenAI(base_url=api.base_url, api_key="sk-test", max_retries=0)


def async_client_for(api: ReplayAssistantsAPI | SimulatedAssistantsAPI) -> AsyncOpenAI:
    return AsyncOpenAI(base_url=api.base_url, api_key="sk-test", max_retries=0)


def usage_of(run: Any) -> tuple[int, int, int]:
    return (run.usage.prompt_tokens, run.usage.completion_tokens, run.usage.total_tokens)


def text_of(message: Any) -> str:
    return str(message.content[0].text.value)


class Recorder(AssistantEventHandler):
    """Keeps event names and text deltas, to check order and reassembly."""

    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []
        self.deltas: list[str] = []

    def on_event(self, event: Any) -> None:
        self.names.append(event.event)

    def on_text_delta(self, delta: Any, snapshot: Any) -> None:
        self.deltas.append(delta.value or "")


class AsyncRecorder(AsyncAssistantEventHandler):
    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    async def on_event(self, event: Any) -> None:
        self.names.append(event.event)


# ----------------------------------------------------------------------------- replay


@pytest.fixture
def replay(recordings_dir: Path, request: pytest.FixtureRequest) -> Iterator[ReplayAssistantsAPI]:
    with ReplayAssistantsAPI(recordings_dir / request.param) as api:
        yield api


def start_conversation(client: OpenAI) -> tuple[Any, Any, Any]:
    assistant = client.beta.assistants.create(
        model="gpt-4o-mini",
        instructions=TUTOR,
        name="Math Tutor",
        tools=[{"type": "code_interpreter"}],
    )
    thread = client.beta.threads.create()
    message = client.beta.threads.messages.create(
        thread_id=thread.id, role="user", content=QUESTION
    )
    return assistant, thread, message


@pytest.mark.parametrize("replay", ["test_new_assistant.yaml"], indirect=True)
def test_replay_manual_polling(replay: ReplayAssistantsAPI) -> None:
    client = client_for(replay)
    assistant, thread, message = start_conversation(client)
    assert (thread.id, message.id) == (
        "thread_YqClQbqizTwAw9b6MZcodIJN",
        "msg_3ay26qHk1PtdiciDQHx5c8bJ",
    )
    run = client.beta.threads.runs.create(
        thread_id=thread.id, assistant_id=assistant.id, instructions=INSTRUCTIONS
    )
    assert (run.id, run.status) == ("run_FEFAUboptcjXZ5dto9CKLzF8", "queued")
    polls = 0
    while run.status in ("queued", "in_progress"):
        run = client.beta.threads.runs.retrieve(thread_id=thread.id, run_id=run.id)
        polls += 1
    assert (run.status, polls, usage_of(run)) == ("completed", 14, (381, 89, 470))
    messages = client.beta.threads.messages.list(thread_id=thread.id, order="asc")
    assert [m.id for m in messages.data] == [
        "msg_3ay26qHk1PtdiciDQHx5c8bJ",
        "msg_Vna43KJlQql4OtXtkOUYeT33",
    ]
    assert text_of(messages.data[1]) == (
        "The solution to the equation \\( 3x + 11 = 14 \\) is \\( x = 1 \\)."
    )
    assert client.beta.assistants.retrieve(assistant.id).id == "asst_qQvNSM3qEfhTQNJeS9JRyV5n"
    # Exhausted polling answers repeat the last one.
    again = client.beta.threads.runs.retrieve(thread_id=thread.id, run_id=run.id)
    assert again.status == "completed"


@pytest.mark.parametrize("replay", ["test_new_assistant_with_polling.yaml"], indirect=True)
def test_replay_create_and_poll_and_filtered_messages(replay: ReplayAssistantsAPI) -> None:
    client = client_for(replay)
    assistant, thread, message = start_conversation(client)
    assert (thread.id, message.id) == (
        "thread_erGl66dVoAO1EY2Mp3lvn9JB",
        "msg_KXmJuJ3n0yNzkof0jQk2iWEj",
    )
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, instructions=INSTRUCTIONS
    )
    assert (run.id, run.status) == ("run_31fgVjfVXHHOJZbQnBWJXhlN", "completed")
    assert usage_of(run) == (381, 88, 469)
    last = client.beta.threads.messages.list(thread_id=thread.id, limit=1, run_id=run.id)
    assert [m.id for m in last.data] == ["msg_HK3aVWLIOnojFNHPtnCPaIRI"]
    assert last.data[0].role == "assistant" and last.has_more is False
    newest_first = client.beta.threads.messages.list(thread_id=thread.id)
    assert [m.id for m in newest_first.data] == [
        "msg_HK3aVWLIOnojFNHPtnCPaIRI",
        "msg_KXmJuJ3n0yNzkof0jQk2iWEj",
    ]
    page = client.beta.threads.messages.list(thread_id=thread.id, order="asc", limit=1)
    assert ([m.id for m in page.data], page.has_more) == (["msg_KXmJuJ3n0yNzkof0jQk2iWEj"], True)
    polls = [r for r in replay.requests if r.method == "GET" and "/runs/" in r.path]
    assert len(polls) == 19
    recorded = replay.interactions
    assert (len(recorded), recorded[0].path, recorded[-1].path) == (
        25,
        "/v1/assistants",
        f"/v1/assistants/{assistant.id}",
    )
    assert replay.requests[3] == RecordedRequest(
        "POST",
        f"/v1/threads/{thread.id}/runs",
        {},
        {"assistant_id": assistant.id, "instructions": INSTRUCTIONS, "stream": False},
    )
    assert replay.requests[-3].query == {"limit": "1", "run_id": run.id}


@pytest.mark.parametrize("replay", ["test_streaming_new_assistant.yaml"], indirect=True)
def test_replay_create_and_stream_with_handler(replay: ReplayAssistantsAPI) -> None:
    client = client_for(replay)
    assistant, thread, message = start_conversation(client)
    assert (thread.id, message.id) == (
        "thread_1HjgF1qM3kuRK2aviYYaLlxF",
        "msg_2FFY2QSijHEY7sEAuwes7Thl",
    )
    assert client.beta.assistants.retrieve(assistant.id).id == assistant.id
    handler = Recorder()
    with client.beta.threads.runs.create_and_stream(
        thread_id=thread.id,
        assistant_id=assistant.id,
        instructions=INSTRUCTIONS,
        event_handler=handler,
    ) as stream:
        stream.until_done()
        run = stream.get_final_run()
        messages = stream.get_final_messages()
    assert (run.id, run.status, usage_of(run)) == (
        "run_PS0ksndVoX7DxtmdXn66ZMXU",
        "completed",
        (381, 88, 469),
    )
    assert [m.id for m in messages] == ["msg_jgiXcjHqUsRCj2RmdC13r5xN"]
    assert "".join(handler.deltas) == text_of(messages[0])
    assert handler.names[:5] == STREAM_ORDER[:5]
    assert handler.names[-3:] == STREAM_TAIL


@pytest.mark.parametrize("replay", ["test_streaming_new_assistant.yaml"], indirect=True)
def test_replay_runs_stream_iterated_without_handler(replay: ReplayAssistantsAPI) -> None:
    client = client_for(replay)
    assistant, thread, _ = start_conversation(client)
    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id) as stream:
        names = [event.event for event in stream]
    assert names[0] == "thread.run.created" and names[-1] == "thread.run.completed"
    assert names.count("thread.message.delta") == 24
    assert replay.requests[-1].json == {"assistant_id": assistant.id, "stream": True}


@pytest.mark.parametrize("replay", ["test_new_assistant_with_polling.yaml"], indirect=True)
def test_replay_async_client_and_unknown_request(replay: ReplayAssistantsAPI) -> None:
    async def flow() -> tuple[Any, Any]:
        client = async_client_for(replay)
        assistant = await client.beta.assistants.create(model="gpt-4o-mini")
        thread = await client.beta.threads.create()
        await client.beta.threads.messages.create(thread_id=thread.id, role="user", content="x")
        run = await client.beta.threads.runs.create_and_poll(
            thread_id=thread.id, assistant_id=assistant.id
        )
        last = await client.beta.threads.messages.list(thread_id=thread.id, limit=1, run_id=run.id)
        return run, last

    run, last = asyncio.run(flow())
    assert (run.id, run.status, usage_of(run)) == (
        "run_31fgVjfVXHHOJZbQnBWJXhlN",
        "completed",
        (381, 88, 469),
    )
    assert last.data[0].id == "msg_HK3aVWLIOnojFNHPtnCPaIRI"
    with pytest.raises(openai.NotFoundError) as caught:
        client_for(replay).beta.threads.retrieve("thread_unknown")
    assert caught.value.status_code == 404
    assert (
        isinstance(caught.value.body, dict) and caught.value.body["type"] == "invalid_request_error"
    )


# -------------------------------------------------------------------------- simulated


@pytest.fixture
def sim() -> Iterator[SimulatedAssistantsAPI]:
    with SimulatedAssistantsAPI() as api:
        yield api


def sim_setup(client: OpenAI, tools: list[dict[str, Any]] | None = None) -> tuple[Any, Any]:
    assistant = client.beta.assistants.create(
        model="gpt-4o-mini", instructions=TUTOR, name="Tutor", tools=tools or []
    )
    thread = client.beta.threads.create()
    client.beta.threads.messages.create(thread_id=thread.id, role="user", content=QUESTION)
    return assistant, thread


QUESTION_USAGE = (PROMPT_OVERHEAD + 15, 17, PROMPT_OVERHEAD + 15 + 17)  # QUESTION has 15 words


def test_sim_objects_polling_and_usage(sim: SimulatedAssistantsAPI) -> None:
    client = client_for(sim)
    assistant, thread = sim_setup(client)
    assert assistant.id.startswith("asst_") and assistant.object == "assistant"
    run = client.beta.threads.runs.create(
        thread_id=thread.id, assistant_id=assistant.id, instructions=INSTRUCTIONS
    )
    assert (run.status, run.instructions, run.usage, run.model) == (
        "queued",
        INSTRUCTIONS,
        None,
        "gpt-4o-mini",
    )
    statuses = [
        client.beta.threads.runs.retrieve(thread_id=thread.id, run_id=run.id).status
        for _ in range(3)
    ]
    assert statuses == ["in_progress", "completed", "completed"]
    done = client.beta.threads.runs.retrieve(thread_id=thread.id, run_id=run.id)
    assert usage_of(done) == QUESTION_USAGE
    assert done.completed_at is not None and done.started_at is not None
    messages = client.beta.threads.messages.list(thread_id=thread.id, order="asc").data
    assert [(m.role, m.run_id, m.assistant_id) for m in messages] == [
        ("user", None, None),
        ("assistant", run.id, assistant.id),
    ]
    assert text_of(messages[1]) == f"You said: {QUESTION}"
    assert messages[1].id.startswith("msg_") and isinstance(messages[1].created_at, int)
    steps = client.beta.threads.runs.steps.list(thread_id=thread.id, run_id=run.id).data
    assert [(s.type, s.status) for s in steps] == [("message_creation", "completed")]
    assert steps[0].step_details.message_creation.message_id == messages[1].id
    assert [r.id for r in client.beta.threads.runs.list(thread_id=thread.id).data] == [run.id]


def test_sim_create_and_poll_additional_messages_and_listing(sim: SimulatedAssistantsAPI) -> None:
    client = client_for(sim)
    assistant = client.beta.assistants.create(model="gpt-4o-mini")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "one two"}])
    first = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    assert (first.status, usage_of(first)) == (
        "completed",
        (PROMPT_OVERHEAD + 2, 4, PROMPT_OVERHEAD + 6),
    )
    second = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id,
        assistant_id=assistant.id,
        additional_messages=[{"role": "user", "content": [{"type": "text", "text": "three"}]}],
    )
    assert second.status == "completed"
    last = client.beta.threads.messages.list(thread_id=thread.id, limit=1, run_id=second.id)
    assert [text_of(m) for m in last.data] == ["You said: three"]
    newest = client.beta.threads.messages.list(thread_id=thread.id).data
    assert [text_of(m) for m in newest] == [
        "You said: three",
        "three",
        "You said: one two",
        "one two",
    ]
    page = client.beta.threads.messages.list(thread_id=thread.id, order="asc", limit=2)
    assert page.has_more is True
    rest = client.beta.threads.messages.list(
        thread_id=thread.id, order="asc", after=page.data[-1].id
    )
    assert [text_of(m) for m in rest.data] == ["three", "You said: three"]
    before = client.beta.threads.messages.list(
        thread_id=thread.id, order="asc", before=rest.data[0].id
    )
    assert [m.id for m in before.data] == [m.id for m in page.data]
    polls = [r for r in sim.requests if r.method == "GET" and f"/runs/{first.id}" in r.path]
    assert len(polls) == 2
    assert (
        client.beta.threads.messages.retrieve(last.data[0].id, thread_id=thread.id).id
        == last.data[0].id
    )


def test_sim_custom_reply_and_poll_count() -> None:
    with SimulatedAssistantsAPI(reply=lambda text: text.upper(), polls_to_finish=1) as api:
        client = client_for(api)
        assistant, thread = sim_setup(client)
        run = client.beta.threads.runs.create_and_poll(
            thread_id=thread.id, assistant_id=assistant.id
        )
        reply = client.beta.threads.messages.list(thread_id=thread.id, limit=1).data[0]
        assert (run.status, text_of(reply)) == ("completed", QUESTION.upper())
        assert len([r for r in api.requests if r.method == "GET"]) == 2


def test_sim_tool_call_then_submit_and_poll(sim: SimulatedAssistantsAPI) -> None:
    client = client_for(sim)
    assistant, thread = sim_setup(client, tools=[WEATHER_TOOL])
    sim.script_next_runs("requires_action")
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    assert run.status == "requires_action"
    call = run.required_action.submit_tool_outputs.tool_calls[0]
    assert (call.type, call.function.name, call.function.arguments) == (
        "function",
        "get_weather",
        f'{{"input": "{QUESTION}"}}',
    )
    assert call.id.startswith("call_")
    done = client.beta.threads.runs.submit_tool_outputs_and_poll(
        thread_id=thread.id,
        run_id=run.id,
        tool_outputs=[{"tool_call_id": call.id, "output": "sunny 21C"}],
    )
    assert done.status == "completed" and done.required_action is None
    reply = client.beta.threads.messages.list(thread_id=thread.id, limit=1, run_id=run.id).data[0]
    assert text_of(reply) == f"You said: {QUESTION} (tool output: sunny 21C)"
    assert usage_of(done) == (PROMPT_OVERHEAD + 15 + 2, 21, PROMPT_OVERHEAD + 17 + 21)
    steps = client.beta.threads.runs.steps.list(
        thread_id=thread.id, run_id=run.id, order="asc"
    ).data
    assert [(s.type, s.status) for s in steps] == [
        ("tool_calls", "completed"),
        ("message_creation", "completed"),
    ]
    assert steps[0].step_details.tool_calls[0].function.output == "sunny 21C"


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


def test_sim_scripted_failures(sim: SimulatedAssistantsAPI) -> None:
    client = client_for(sim)
    assistant, thread = sim_setup(client)
    sim.script_next_runs("failed", "cancelled", "expired", "incomplete", "completed")
    results = [
        client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
        for _ in range(5)
    ]
    assert [r.status for r in results] == [
        "failed",
        "cancelled",
        "expired",
        "incomplete",
        "completed",
    ]
    failed, cancelled, expired, incomplete, completed = results
    assert (failed.last_error.code, failed.last_error.message) == (
        "server_error",
        "Sorry, something went wrong.",
    )
    assert failed.failed_at is not None and failed.usage is None
    assert cancelled.cancelled_at is not None and expired.expires_at is not None
    assert incomplete.incomplete_details.reason == "max_completion_tokens"
    partial = client.beta.threads.messages.list(thread_id=thread.id, limit=1, run_id=incomplete.id)
    assert partial.data[0].status == "incomplete"
    assert text_of(partial.data[0]) == "You said: I need to solve the equation"
    assert incomplete.usage.completion_tokens == 8
    assert completed.completed_at is not None
    for run in results[:3]:
        none = client.beta.threads.messages.list(thread_id=thread.id, run_id=run.id)
        assert none.data == []
    with pytest.raises(ValueError):
        sim.script_next_runs("exploded")  # type: ignore[arg-type]


def test_sim_constructor_outcomes_and_error_text() -> None:
    with SimulatedAssistantsAPI(
        outcomes=["failed"], error_code="rate_limit_exceeded", error_message="slow down"
    ) as api:
        client = client_for(api)
        assistant, thread = sim_setup(client)
        run = client.beta.threads.runs.create_and_poll(
            thread_id=thread.id, assistant_id=assistant.id
        )
        assert (run.status, run.last_error.code, run.last_error.message) == (
            "failed",
            "rate_limit_exceeded",
            "slow down",
        )
        again = client.beta.threads.runs.create_and_poll(
            thread_id=thread.id, assistant_id=assistant.id
        )
        assert again.status == "completed"


def test_sim_cancel_and_active_run_rules(sim: SimulatedAssistantsAPI) -> None:
    client = client_for(sim)
    assistant, thread = sim_setup(client)
    run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
    with pytest.raises(openai.BadRequestError):
        client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
    with pytest.raises(openai.BadRequestError):
        client.beta.threads.messages.create(thread_id=thread.id, role="user", content="more")
    assert (
        client.beta.threads.runs.cancel(thread_id=thread.id, run_id=run.id).status == "cancelling"
    )
    final = client.beta.threads.runs.poll(run.id, thread.id)
    assert final.status == "cancelled" and final.cancelled_at is not None
    with pytest.raises(openai.BadRequestError):
        client.beta.threads.runs.cancel(thread_id=thread.id, run_id=run.id)
    with pytest.raises(openai.NotFoundError):
        client.beta.threads.runs.retrieve(thread_id=thread.id, run_id="run_missing")
    with pytest.raises(openai.NotFoundError):
        client.beta.threads.runs.create(thread_id=thread.id, assistant_id="asst_missing")
    with pytest.raises(openai.NotFoundError) as caught:
        client.get("/nowhere", cast_to=object)
    assert caught.value.body == {
        "message": "Invalid URL (GET /v1/nowhere)",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }


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
