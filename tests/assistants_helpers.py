"""What the Assistants stand-ins' tests share: clients for a stand-in, the texts of a
conversation, and stream recorders (the real SDK's event handlers)."""

from __future__ import annotations

from typing import Any

from openai import AssistantEventHandler, AsyncAssistantEventHandler, AsyncOpenAI, OpenAI
from reconify_otel_testing.assistants_api import PROMPT_OVERHEAD, SimulatedAssistantsAPI

from reconify_otel.offline.assistants import ReplayAssistantsAPI

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


def sim_setup(client: OpenAI, tools: list[dict[str, Any]] | None = None) -> tuple[Any, Any]:
    assistant = client.beta.assistants.create(
        model="gpt-4o-mini", instructions=TUTOR, name="Tutor", tools=tools or []
    )
    thread = client.beta.threads.create()
    client.beta.threads.messages.create(thread_id=thread.id, role="user", content=QUESTION)
    return assistant, thread


QUESTION_USAGE = (PROMPT_OVERHEAD + 15, 17, PROMPT_OVERHEAD + 15 + 17)  # QUESTION has 15 words
