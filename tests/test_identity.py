"""Users and sessions: per context, per process, on spans, in payloads."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import reconify_otel
from reconify_otel.core import attributes as A
from reconify_otel.core.interaction import Interaction
from reconify_otel.core.mapping import map_span
from reconify_otel.core.payload import Defaults
from reconify_otel.exporter.identity_processor import IdentitySpanProcessor
from reconify_otel.exporter.sdk_record import from_sdk
from reconify_otel.identity import resolve_personal, span_attributes

from .helpers import CURRENT, OWN

JANE = {
    "userId": "123",
    "isAuthenticated": 1,
    "firstName": "Jane",
    "lastName": "Doe",
    "email": "jane@example.com",
    "phone": "555-555-5555",
    "gender": "female",
}


@pytest.fixture(autouse=True)
def no_process_defaults() -> Iterator[None]:
    yield
    reconify_otel.set_user(None)
    reconify_otel.set_session(None)
    reconify_otel.set_session_timeout(None)


@pytest.fixture
def traced() -> tuple[TracerProvider, InMemorySpanExporter]:
    provider = TracerProvider()
    memory = InMemorySpanExporter()
    provider.add_span_processor(IdentitySpanProcessor())
    provider.add_span_processor(SimpleSpanProcessor(memory))
    return provider, memory


def run_span(
    provider: TracerProvider, memory: InMemorySpanExporter, attrs: dict[str, Any] = CURRENT
) -> ReadableSpan:
    memory.clear()
    with provider.get_tracer("t").start_as_current_span("openai.assistant.run", attributes=attrs):
        pass
    (span,) = memory.get_finished_spans()
    return span


def payload_of(span: ReadableSpan, defaults: Defaults | None = None) -> dict[str, Any]:
    result = map_span(from_sdk(span), defaults or Defaults(resolve_personal=resolve_personal))
    assert isinstance(result, Interaction)
    return result.to_json()


def test_context_blocks_reach_the_payload(
    traced: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, memory = traced
    with reconify_otel.session("checkout-42", timeout_minutes=15), reconify_otel.user(JANE):
        span = run_span(provider, memory)
    attrs = span.attributes or {}
    assert attrs[A.SESSION_ID] == "checkout-42" and attrs[A.USER_ID] == "123"
    assert attrs[A.USER_EMAIL] == "jane@example.com" and attrs[A.USER_FULL_NAME] == "Jane Doe"
    payload = payload_of(span)
    assert payload["session"] == "checkout-42"
    assert payload["sessionTimeout"] == 15
    assert payload["user"] == JANE


def test_a_user_block_replaces_the_default_user_whole(
    traced: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    """The block's user is the user: none of the process default's other fields leak in."""
    provider, memory = traced
    reconify_otel.set_user(JANE)
    with reconify_otel.user({"userId": "u-7"}):
        span = run_span(provider, memory)
    assert payload_of(span)["user"] == {"userId": "u-7"}
    assert A.USER_EMAIL not in (span.attributes or {})
    assert payload_of(run_span(provider, memory))["user"] == JANE


def test_nesting_restores_the_outer_value(
    traced: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, memory = traced
    with reconify_otel.session("outer"):
        with reconify_otel.session("inner"):
            inner = run_span(provider, memory)
        outer = run_span(provider, memory)
    after = run_span(provider, memory)
    assert payload_of(inner)["session"] == "inner"
    assert payload_of(outer)["session"] == "outer"
    assert payload_of(after)["session"] is None  # upstream spans carry no thread id
    assert A.SESSION_ID not in (after.attributes or {})


def test_threads_and_tasks_do_not_see_each_other() -> None:
    seen: dict[str, Any] = {}

    def in_thread(name: str, barrier: threading.Barrier) -> None:
        with reconify_otel.session(f"s-{name}"), reconify_otel.user({"userId": name}):
            barrier.wait()
            seen[name] = span_attributes()[0]

    barrier = threading.Barrier(2)
    threads = [threading.Thread(target=in_thread, args=(n, barrier)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen["a"][A.SESSION_ID] == "s-a" and seen["a"][A.USER_ID] == "a"
    assert seen["b"][A.SESSION_ID] == "s-b" and seen["b"][A.USER_ID] == "b"

    async def task(name: str) -> dict[str, Any]:
        with reconify_otel.session(f"t-{name}"):
            await asyncio.sleep(0.01)
            return span_attributes()[0]

    async def both() -> list[dict[str, Any]]:
        return list(await asyncio.gather(task("x"), task("y")))

    x, y = asyncio.run(both())
    assert x[A.SESSION_ID] == "t-x" and y[A.SESSION_ID] == "t-y"


def test_precedence(traced: tuple[TracerProvider, InMemorySpanExporter]) -> None:
    provider, memory = traced
    reconify_otel.set_session("process-default")
    reconify_otel.set_user({"userId": "default-user"})
    # Process default fills a span that has nothing else.
    assert payload_of(run_span(provider, memory))["session"] == "process-default"
    # Another tool's span attribute beats the process default...
    tool_attrs = dict(CURRENT, **{A.TRACELOOP_SESSION_ID: "tl-session", A.SESSION_ID: "tool"})
    other = run_span(provider, memory, tool_attrs)
    assert payload_of(other)["session"] == "tool"
    assert payload_of(other)["user"] == {"userId": "default-user"}
    # ... and an explicit context beats both.
    with reconify_otel.session("explicit"):
        assert payload_of(run_span(provider, memory, tool_attrs))["session"] == "explicit"
    # Other tools' user ids are honoured.
    enduser = run_span(provider, memory, dict(CURRENT, **{A.ENDUSER_ID: "end-7"}))
    assert payload_of(enduser)["user"] == {"userId": "end-7"}
    traceloop = run_span(provider, memory, dict(CURRENT, **{A.TRACELOOP_USER_ID: "tl-9"}))
    assert payload_of(traceloop)["user"] == {"userId": "tl-9"}


def test_thread_id_is_the_last_resort() -> None:
    from .helpers import make_span

    span = make_span("invoke_agent Math Tutor", OWN)
    assert payload_of(span)["session"] == OWN[A.CONVERSATION_ID]


def test_personal_fields_can_stay_off_spans(
    traced: tuple[TracerProvider, InMemorySpanExporter], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECONIFY_PERSONAL_DATA_ON_SPANS", "0")
    provider, memory = traced
    with reconify_otel.user(JANE):
        span = run_span(provider, memory)
    attrs = span.attributes or {}
    flat = json.dumps(dict(attrs))
    for value in ("Jane", "Doe", "jane@example.com", "555-555-5555", "female"):
        assert value not in flat  # Jaeger and Datadog never see them
    assert attrs[A.USER_ID] == "123"
    assert payload_of(span)["user"] == JANE  # the in-process exporter still sends them
    assert payload_of(span, Defaults())["user"] == {"userId": "123", "isAuthenticated": 1}


@pytest.mark.parametrize(
    ("person", "error"),
    [
        ("123", TypeError),
        ({"userId": 123.5}, TypeError),
        ({"userId": "1", "isAuthenticated": 2}, ValueError),
        ({"userId": "1", "nickname": "JD"}, ValueError),
        ({"firstName": "Jane"}, ValueError),  # neither userId nor email
    ],
)
def test_bad_users_fail_at_the_call(person: Any, error: type[Exception]) -> None:
    with pytest.raises(error), reconify_otel.user(person):
        pass
    with pytest.raises(error):
        reconify_otel.set_user(person)


def test_bad_sessions_fail_at_the_call() -> None:
    with pytest.raises(TypeError):
        reconify_otel.set_session("")
    with pytest.raises(ValueError), reconify_otel.session("s", timeout_minutes=0):
        pass
    with pytest.raises(ValueError):
        reconify_otel.set_session_timeout(-5)


def test_concurrent_async_runs_carry_their_own_user_and_session(sink: Any) -> None:
    """AssistantsInstrumentor records what was current when each run started."""
    from openai import AsyncOpenAI
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from reconify_otel_testing.assistants_api import SimulatedAssistantsAPI

    from reconify_otel import AssistantsInstrumentor, ReconifySpanExporter

    from .helpers import API_KEY, APP_KEY

    provider = TracerProvider()
    exporter = ReconifySpanExporter(f"{sink.url}/track", APP_KEY, API_KEY)
    provider.add_span_processor(IdentitySpanProcessor())
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=20))
    instrumentor = AssistantsInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        with SimulatedAssistantsAPI() as api:
            client = AsyncOpenAI(base_url=api.base_url, api_key="sk-test")

            async def conversation(n: int) -> str:
                assistant = await client.beta.assistants.create(model="gpt-4o-mini", name="A")
                thread = await client.beta.threads.create()
                await client.beta.threads.messages.create(thread.id, role="user", content=f"q{n}")
                with reconify_otel.session(f"session-{n}"), reconify_otel.user({"userId": f"u{n}"}):
                    run = await client.beta.threads.runs.create_and_poll(
                        thread_id=thread.id, assistant_id=assistant.id
                    )
                # Listed outside the blocks, in another task's turn: still this run's identity.
                with reconify_otel.session("someone-else"):
                    await client.beta.threads.messages.list(thread.id, limit=1, run_id=run.id)
                return str(run.id)

            async def many() -> list[str]:
                return list(await asyncio.gather(*(conversation(n) for n in range(6))))

            run_ids = asyncio.run(many())
        provider.force_flush()
        assert sink.wait_for(6, timeout=10)
    finally:
        instrumentor.uninstrument()
        provider.shutdown()
    by_run = {p["response"]["run_id"]: p for p in sink.payloads}
    assert sorted(by_run) == sorted(run_ids) and len(sink.payloads) == 6
    for n, run_id in enumerate(run_ids):
        payload = by_run[run_id]
        assert payload["session"] == f"session-{n}"
        assert payload["user"] == {"userId": f"u{n}"}
        assert payload["request"]["content"][0]["text"]["value"] == f"q{n}"
