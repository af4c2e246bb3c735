"""The simulated Assistants API (``SimulatedAssistantsAPI``), driven by the real openai SDK
over loopback HTTP: objects, polling, usage, tool calls, outcomes, cancelling. Streams,
async clients and concurrency are in test_loopback_assistants_streams.py, the replay
stand-in in test_loopback_assistants_replay.py."""

from __future__ import annotations

import openai
import pytest
from reconify_otel_testing.assistants_api import (
    PROMPT_OVERHEAD,
    SimulatedAssistantsAPI,
)

from .assistants_helpers import (
    INSTRUCTIONS,
    QUESTION,
    QUESTION_USAGE,
    WEATHER_TOOL,
    client_for,
    sim_setup,
    text_of,
    usage_of,
)


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
