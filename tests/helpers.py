"""What several test modules share: keys, span builders, attribute fixtures, flows.

Test modules import these from here (fixtures live in conftest.py), never from each other.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import wrapt
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from reconify_otel.core import attributes as A
from reconify_otel.prepare import Preparer
from reconify_otel.runtime.counters import Counters
from reconify_otel.settings import resolve

if TYPE_CHECKING:
    from openai import OpenAI

    from reconify_otel.offline.sink import ReconifySink

APP_KEY = "app-key-5f3c9e1d7a"
API_KEY = "api-key-8b2e4d6f0c"
QUESTION = "I need to solve the equation `3x + 11 = 14`. Can you help me?"

# --- a bare openai SDK for every test ------------------------------------------------

_PATCHED_CLASSES = [
    ("openai.resources.beta.threads.runs.runs", ("Runs", "AsyncRuns")),
    ("openai.resources.beta.threads.messages", ("Messages", "AsyncMessages")),
    ("openai.resources.beta.threads.threads", ("Threads", "AsyncThreads")),
    ("openai.resources.beta.assistants", ("Assistants", "AsyncAssistants")),
    ("openai.resources.chat.completions", ("Completions", "AsyncCompletions")),
    ("openai.resources.completions", ("Completions", "AsyncCompletions")),
    ("openai.resources.embeddings", ("Embeddings", "AsyncEmbeddings")),
    ("openai.resources.images", ("Images", "AsyncImages")),
    ("openai.resources.responses", ("Responses", "AsyncResponses")),
]


# wrapt 2 spells the proxy base BaseObjectProxy; wrapt 1 ObjectProxy.
_PROXY = getattr(wrapt, "BaseObjectProxy", wrapt.ObjectProxy)


@contextmanager
def sdk_restored() -> Iterator[None]:
    """Run on the bare SDK and leave it bare.

    ``OpenAIInstrumentor.uninstrument()`` (0.62) leaves its Assistants wrappers on the SDK:
    it calls ``unwrap(module, "Runs.create")``, a dotted attribute that never resolves.
    """
    clean = []
    for module, names in _PATCHED_CLASSES:
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError:  # an older openai without that API: nothing to restore
            continue
        for name in names:
            cls = getattr(mod, name, None)
            for key, value in dict(vars(cls) if cls is not None else {}).items():
                bare = value
                while isinstance(bare, _PROXY):
                    bare = bare.__wrapped__
                if bare is not value:
                    setattr(cls, key, bare)
                clean.append((cls, key, bare))
    try:
        yield
    finally:
        for cls, key, bare in clean:
            if vars(cls).get(key) is not bare:
                setattr(cls, key, bare)


# --- SDK spans and the attribute generations they carry -------------------------------

START_NS = 1_774_963_843_123_456_789
END_NS = 1_774_963_856_987_654_321


def make_span(name: str, attributes: dict[str, Any], *, error: bool = False) -> ReadableSpan:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    span = provider.get_tracer("test").start_span(name, attributes=attributes, start_time=START_NS)
    if error:
        span.set_status(Status(StatusCode.ERROR, "boom"))
    span.end(end_time=END_NS)
    (finished,) = memory.get_finished_spans()
    return finished


def parts(role: str, *contents: str | None) -> dict[str, Any]:
    return {"role": role, "parts": [{"type": "text", "content": c} for c in contents]}


# The shape opentelemetry-instrumentation-openai 0.55-0.62 writes after
# messages.list(order="asc") on a thread with two turns.
CURRENT = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.response.model": "gpt-4o-mini",
    "gen_ai.input.messages": json.dumps(
        [
            parts("system", "You are a personal math tutor."),
            parts("system", None),
            parts("user", "first question"),
            parts("user", "I need to solve the equation `3x + 11 = 14`. Can you help me?"),
        ]
    ),
    "gen_ai.output.messages": json.dumps(
        [parts("assistant", "first answer"), parts("assistant", "x = 1")]
    ),
    "gen_ai.response.0.id": "msg_first",
    "gen_ai.response.1.id": "msg_HK3aVWLIOnojFNHPtnCPaIRI",
    "gen_ai.usage.input_tokens": 381,
    "gen_ai.usage.output_tokens": 88,
}


USER_MESSAGE = {
    "id": "msg_KXmJuJ3n0yNzkof0jQk2iWEj",
    "object": "thread.message",
    "created_at": 1774963843,
    "assistant_id": None,
    "thread_id": "thread_erGl66dVoAO1EY2Mp3lvn9JB",
    "run_id": None,
    "role": "user",
    "content": [{"type": "text", "text": {"value": "hello", "annotations": []}}],
    "attachments": [],
    "metadata": {},
}


def run_attributes(n: int) -> dict[str, Any]:
    """An upstream run span whose answer id names it, so duplicates are visible."""
    return {**CURRENT, "gen_ai.response.1.id": f"msg_{n:06d}"}


def answer_ids(sink: ReconifySink) -> list[str]:
    return [p["response"]["id"] for p in sink.payloads]


def answer(message_id: str, text: str, created_at: int) -> dict[str, Any]:
    return {
        "id": message_id,
        "object": "thread.message",
        "created_at": created_at,
        "assistant_id": "asst_Leo2sRC1zfL8826tvsgfhKJ4",
        "thread_id": "thread_erGl66dVoAO1EY2Mp3lvn9JB",
        "run_id": "run_31fgVjfVXHHOJZbQnBWJXhlN",
        "role": "assistant",
        "content": [{"type": "text", "text": {"value": text, "annotations": []}}],
        "attachments": [],
        "metadata": {},
    }


OWN = {
    A.OPERATION_NAME: "invoke_agent",
    A.PROVIDER_NAME: "openai",
    A.CONVERSATION_ID: "thread_erGl66dVoAO1EY2Mp3lvn9JB",
    A.AGENT_ID: "asst_Leo2sRC1zfL8826tvsgfhKJ4",
    A.RUN_ID: "run_31fgVjfVXHHOJZbQnBWJXhlN",
    A.RUN_STATUS: "completed",
    A.REQUEST_MODEL: "gpt-4o-mini",
    A.REQUEST_MESSAGE: json.dumps(USER_MESSAGE),
    A.RESPONSE_MESSAGES: json.dumps(
        [answer("msg_1", "first", 1774963855), answer("msg_2", "second", 1774963856)]
    ),
    A.USAGE_INPUT_TOKENS: 381,
    A.USAGE_OUTPUT_TOKENS: 88,
    A.USAGE_TOTAL_TOKENS: 469,
}


# --- Reconify handler inputs and the documented polling flow -------------------------


def run_dict(**overrides: Any) -> dict[str, Any]:
    run = {
        "id": "run_1",
        "object": "thread.run",
        "thread_id": "thread_1",
        "assistant_id": "asst_1",
        "status": "completed",
        "model": "gpt-4o-mini",
        "started_at": 1725321819,
        "completed_at": 1725321821,
        "usage": {"prompt_tokens": 557, "completion_tokens": 22, "total_tokens": 579},
    }
    return {**run, **overrides}


IN = {
    "id": "msg_in",
    "object": "thread.message",
    "created_at": 1725321818,
    "role": "user",
    "thread_id": "thread_1",
    "run_id": None,
    "assistant_id": None,
    "content": [
        {"type": "text", "text": {"value": "What are the store hours?", "annotations": []}}
    ],
    "attachments": [],
    "metadata": {},
}
OUT = {
    "id": "msg_out",
    "object": "thread.message",
    "created_at": 1725321820,
    "role": "assistant",
    "thread_id": "thread_1",
    "run_id": "run_1",
    "assistant_id": "asst_1",
    "content": [{"type": "text", "text": {"value": "9 to 5.", "annotations": []}}],
    "attachments": [],
    "metadata": {},
}


def run_polling_flow(client: OpenAI) -> Any:
    assistant = client.beta.assistants.create(
        name="Math Tutor",
        instructions="You are a personal math tutor. Write and run code to answer math questions.",
        tools=[{"type": "code_interpreter"}],
        model="gpt-4o-mini",
    )
    thread = client.beta.threads.create()
    client.beta.threads.messages.create(thread_id=thread.id, role="user", content=QUESTION)
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id,
        assistant_id=assistant.id,
        instructions="Please address the user as Jane Doe. The user has a premium account.",
        poll_interval_ms=1,
    )
    return client.beta.threads.messages.list(thread_id=thread.id, order="asc"), run


# --- the shaping step, offline ---------------------------------------------------------

OUTPUT_OK = json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": "hi"}]}])


def offline_preparer(**options: Any) -> Preparer:
    """The step every route shares (map, shape, encode), with settings that never send."""
    settings = resolve(endpoint="http://127.0.0.1:9/track", app_key="a", api_key="b", **options)
    return Preparer(settings, Counters(), resolve_personal=None)


# What ``opentelemetry-instrument`` tests of Assistants apps switch off: HTTP clients (their
# spans are noise here) and the frameworks' instrumentations the test extra installs, which
# these apps never use (auto-instrumenting LiteLLM alone imports it: about 2.5 s a run).
UNRELATED_INSTRUMENTATIONS = "requests,urllib3,httpx,langchain,openai_agents,litellm"
