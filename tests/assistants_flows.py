"""Every documented Assistants flow, written once for ``OpenAI`` and ``AsyncOpenAI``
(``Client`` adapts the calls), for the instrumentation tests to run against the
simulated API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from openai import AssistantEventHandler, AsyncAssistantEventHandler, AsyncOpenAI, OpenAI
from reconify_otel_testing.assistants_api import SimulatedAssistantsAPI

TOOL = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}


# -- one adapter so each flow is written once for OpenAI and AsyncOpenAI ----------------


class Client:
    def __init__(self, api: SimulatedAssistantsAPI, is_async: bool) -> None:
        self.is_async = is_async
        cls = AsyncOpenAI if is_async else OpenAI
        self.raw: Any = cls(base_url=api.base_url, api_key="sk-test", max_retries=0)
        self.beta = self.raw.beta

    async def __call__(self, value: Any) -> Any:
        return await value if self.is_async else value

    async def consume(self, manager: Any, how: str = "until_done") -> Any:
        """Run a stream manager the way the app chose: until_done or iterate its events."""
        if self.is_async:
            async with manager as stream:
                if how == "iterate":
                    return [event async for event in stream]
                await stream.until_done()
                return None
        with manager as stream:
            if how == "iterate":
                return list(stream)
            stream.until_done()
            return None

    async def iterate(self, stream: Any) -> list[Any]:
        if self.is_async:
            return [event async for event in stream]
        return list(stream)

    def reconify_handler(self) -> Any:
        """Reconify's documented handler: list the output at ``thread.run.completed``."""
        client = self.raw
        if self.is_async:

            class AsyncHandler(AsyncAssistantEventHandler):
                async def on_event(self, event: Any) -> None:
                    if event.event == "thread.run.completed":
                        self.listed = await client.beta.threads.messages.list(
                            thread_id=event.data.thread_id, limit=1, run_id=event.data.id
                        )

            return AsyncHandler()

        class Handler(AssistantEventHandler):
            def on_event(self, event: Any) -> None:
                if event.event == "thread.run.completed":
                    self.listed = client.beta.threads.messages.list(
                        thread_id=event.data.thread_id, limit=1, run_id=event.data.id
                    )

        return Handler()

    def handler(self) -> Any:
        return AsyncAssistantEventHandler() if self.is_async else AssistantEventHandler()


@dataclass
class Setup:
    c: Client
    assistant: Any
    thread: Any


async def assistant_and_thread(c: Client, tools: list[Any] | None = None) -> Setup:
    assistant = await c(
        c.beta.assistants.create(name="Tutor", model="gpt-4o-mini", tools=tools or [])
    )
    thread = await c(c.beta.threads.create())
    return Setup(c, assistant, thread)


async def ask(s: Setup, text: str = "What are the store hours?") -> Any:
    return await s.c(
        s.c.beta.threads.messages.create(thread_id=s.thread.id, role="user", content=text)
    )


# Each flow returns how many runs it made; the server's state says what they must carry.


async def flow_retrieve_loop(s: Setup) -> None:
    await ask(s)
    run = await s.c(
        s.c.beta.threads.runs.create(thread_id=s.thread.id, assistant_id=s.assistant.id)
    )
    while run.status not in ("completed", "failed", "cancelled", "expired", "incomplete"):
        run = await s.c(s.c.beta.threads.runs.retrieve(run.id, thread_id=s.thread.id))
    await s.c(s.c.beta.threads.messages.list(thread_id=s.thread.id, order="asc"))


async def flow_create_and_poll(s: Setup) -> None:
    await ask(s)
    run = await s.c(
        s.c.beta.threads.runs.create_and_poll(thread_id=s.thread.id, assistant_id=s.assistant.id)
    )
    await s.c(s.c.beta.threads.messages.list(thread_id=s.thread.id, limit=1, run_id=run.id))
    await s.c(s.c.beta.threads.messages.list(thread_id=s.thread.id))  # again: no 2nd payload


async def flow_stream_reconify_handler(s: Setup) -> None:
    await ask(s)
    handler = s.c.reconify_handler()
    await s.c.consume(
        s.c.beta.threads.runs.stream(
            thread_id=s.thread.id, assistant_id=s.assistant.id, event_handler=handler
        )
    )
    assert handler.listed.data[0].role == "assistant"


async def flow_stream_iterate(s: Setup) -> None:
    await ask(s)
    events = await s.c.consume(
        s.c.beta.threads.runs.stream(thread_id=s.thread.id, assistant_id=s.assistant.id),
        "iterate",
    )
    assert events[-1].event == "thread.run.completed"


async def flow_stream_until_done(s: Setup) -> None:
    await ask(s)
    await s.c.consume(
        s.c.beta.threads.runs.stream(thread_id=s.thread.id, assistant_id=s.assistant.id)
    )


async def flow_create_and_stream_handler(s: Setup) -> None:
    await ask(s)
    await s.c.consume(
        s.c.beta.threads.runs.create_and_stream(
            thread_id=s.thread.id, assistant_id=s.assistant.id, event_handler=s.c.handler()
        )
    )


async def flow_create_and_stream_bare(s: Setup) -> None:
    await ask(s)
    await s.c.consume(
        s.c.beta.threads.runs.create_and_stream(thread_id=s.thread.id, assistant_id=s.assistant.id),
        "iterate",
    )


async def flow_create_stream_true(s: Setup) -> None:
    await ask(s)
    stream = await s.c(
        s.c.beta.threads.runs.create(
            thread_id=s.thread.id, assistant_id=s.assistant.id, stream=True
        )
    )
    events = await s.c.iterate(stream)
    assert events[-1].event == "thread.run.completed"


async def flow_tools_poll(s: Setup) -> None:
    await ask(s)
    run = await s.c(
        s.c.beta.threads.runs.create_and_poll(thread_id=s.thread.id, assistant_id=s.assistant.id)
    )
    assert run.status == "requires_action"
    outputs = [
        {"tool_call_id": call.id, "output": "9 to 5"}
        for call in run.required_action.submit_tool_outputs.tool_calls
    ]
    run = await s.c(
        s.c.beta.threads.runs.submit_tool_outputs_and_poll(
            run_id=run.id, thread_id=s.thread.id, tool_outputs=outputs
        )
    )
    assert run.status == "completed"
    await s.c(s.c.beta.threads.messages.list(thread_id=s.thread.id, limit=1, run_id=run.id))


async def flow_tools_stream(s: Setup) -> None:
    await ask(s)
    events = await s.c.consume(
        s.c.beta.threads.runs.stream(thread_id=s.thread.id, assistant_id=s.assistant.id),
        "iterate",
    )
    run = events[-1].data
    assert run.status == "requires_action"
    outputs = [
        {"tool_call_id": call.id, "output": "9 to 5"}
        for call in run.required_action.submit_tool_outputs.tool_calls
    ]
    await s.c.consume(
        s.c.beta.threads.runs.submit_tool_outputs_stream(
            run_id=run.id, thread_id=s.thread.id, tool_outputs=outputs
        )
    )


INLINE = [{"role": "user", "content": "Inline question?"}]


async def flow_create_and_run(s: Setup) -> None:
    run = await s.c(
        s.c.beta.threads.create_and_run(assistant_id=s.assistant.id, thread={"messages": INLINE})
    )
    while run.status not in ("completed", "failed"):
        run = await s.c(s.c.beta.threads.runs.retrieve(run.id, thread_id=run.thread_id))
    await s.c(s.c.beta.threads.messages.list(thread_id=run.thread_id))


async def flow_create_and_run_poll(s: Setup) -> None:
    run = await s.c(
        s.c.beta.threads.create_and_run_poll(
            assistant_id=s.assistant.id, thread={"messages": INLINE}
        )
    )
    await s.c(s.c.beta.threads.messages.list(thread_id=run.thread_id, limit=1, run_id=run.id))


async def flow_create_and_run_stream(s: Setup) -> None:
    await s.c.consume(
        s.c.beta.threads.create_and_run_stream(
            assistant_id=s.assistant.id, thread={"messages": INLINE}
        )
    )


async def flow_additional_messages(s: Setup) -> None:
    await s.c(
        s.c.beta.threads.runs.create_and_poll(
            thread_id=s.thread.id, assistant_id=s.assistant.id, additional_messages=INLINE
        )
    )
    await s.c(s.c.beta.threads.messages.list(thread_id=s.thread.id, order="asc"))


async def flow_several_runs(s: Setup) -> None:
    for turn in range(3):
        await ask(s, f"Question number {turn}")
        run = await s.c(
            s.c.beta.threads.runs.create_and_poll(
                thread_id=s.thread.id, assistant_id=s.assistant.id
            )
        )
        await s.c(s.c.beta.threads.messages.list(thread_id=s.thread.id, order="asc"))
        assert run.status == "completed"


Flow = Callable[[Setup], Awaitable[None]]
FLOWS: dict[str, tuple[Flow, bool]] = {  # name -> (flow, uses a function tool)
    "retrieve_loop": (flow_retrieve_loop, False),
    "create_and_poll": (flow_create_and_poll, False),
    "stream_reconify_handler": (flow_stream_reconify_handler, False),
    "stream_iterate": (flow_stream_iterate, False),
    "stream_until_done": (flow_stream_until_done, False),
    "create_and_stream_handler": (flow_create_and_stream_handler, False),
    "create_and_stream_bare": (flow_create_and_stream_bare, False),
    "create_stream_true": (flow_create_stream_true, False),
    "tools_poll": (flow_tools_poll, True),
    "tools_stream": (flow_tools_stream, True),
    "create_and_run": (flow_create_and_run, False),
    "create_and_run_poll": (flow_create_and_run_poll, False),
    "create_and_run_stream": (flow_create_and_run_stream, False),
    "additional_messages": (flow_additional_messages, False),
    "several_runs": (flow_several_runs, False),
}
