"""The recorded-traffic stand-in (``ReplayAssistantsAPI``), driven by the real openai SDK
over loopback HTTP: each recorded flow replays as OpenAI answered it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from openai import OpenAI

from reconify_otel.offline.assistants import RecordedRequest, ReplayAssistantsAPI

from .assistants_helpers import (
    INSTRUCTIONS,
    QUESTION,
    STREAM_ORDER,
    STREAM_TAIL,
    TUTOR,
    Recorder,
    async_client_for,
    client_for,
    text_of,
    usage_of,
)

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
