"""``reconify-otel demo``: the whole pipeline offline, with no keys and no network.

The real ``openai`` SDK replays recorded OpenAI traffic on loopback: two Assistants runs
(Reconify's documented polling and streaming flows), a chat completion and a Responses
API call. The real OpenTelemetry SDK traces them with ``AssistantsInstrumentor`` and the
upstream ``opentelemetry-instrumentation-openai``, and ``ReconifySpanExporter`` sends
each to an embedded Reconify-compatible sink; what the sink received is printed, keys
masked. The stand-ins and the recordings are ``reconify_otel.offline``; the ``demo``
extra adds the third-party packages (openai, its instrumentation, PyYAML).
"""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

from reconify_otel.core.payload import Payload

DEMO_APP_KEY = "demo-app-key"
DEMO_API_KEY = "demo-api-key"
DEMO_OPENAI_KEY = "sk-demo-not-a-real-key"
# What the demo makes, by kind, and so what the sink must receive.
EXPECTED = {"assistant runs": 2, "chat calls": 1, "Responses calls": 1}
ASSISTANT_CASSETTES = ("test_new_assistant_with_polling.yaml", "test_streaming_new_assistant.yaml")
LLM_CASSETTES = ("openai__test_chat__test_chat", "openai__test_responses__test_responses")
TUTOR = {
    "name": "Math Tutor",
    "instructions": "You are a personal math tutor.",
    "tools": [{"type": "code_interpreter"}],
    "model": "gpt-4o-mini",
}
QUESTION = "I need to solve the equation `3x + 11 = 14`. Can you help me?"


def run_demo(out: TextIO = sys.stdout) -> int:
    """Make the calls, print what Reconify would receive; 0 when every payload arrived."""
    missing = _missing_dependency()
    if missing:
        print(missing, file=out)
        return 2
    from opentelemetry.instrumentation.openai import OpenAIInstrumentor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from reconify_otel.exporter.span_exporter import ReconifySpanExporter
    from reconify_otel.instrumentation import AssistantsInstrumentor
    from reconify_otel.offline.sink import ReconifySink

    with ReconifySink() as sink:
        provider = TracerProvider()
        # No spool: the demo's sink lives only as long as the demo.
        exporter = ReconifySpanExporter(
            f"{sink.url}/track", DEMO_APP_KEY, DEMO_API_KEY, spool=False
        )
        provider.add_span_processor(BatchSpanProcessor(exporter))
        instrumentors: list[Any] = [AssistantsInstrumentor(), OpenAIInstrumentor()]
        for instrumentor in instrumentors:
            instrumentor.instrument(tracer_provider=provider)
        try:
            _assistant_runs(out)
            _llm_calls(out)
        finally:
            for instrumentor in instrumentors:
                instrumentor.uninstrument()
            provider.shutdown()  # flushes: every span was exported when this returns
        sink.wait_for(sum(EXPECTED.values()), timeout=5)
        payloads = sink.payloads
    return _report(payloads, exporter.stats(), out)


def _missing_dependency() -> str | None:
    """How to install what the demo needs, or None when it is all there."""
    try:
        import openai  # noqa: F401
        import opentelemetry.instrumentation.openai  # noqa: F401
        import yaml  # noqa: F401
    except ImportError as error:
        return f"the demo needs {error.name}, which comes with the demo extra: " + (
            "pip install 'reconify-otel[demo]'"
        )
    return None


def _assistant_runs(out: TextIO) -> None:
    """Reconify's two documented Assistants flows, on recorded OpenAI traffic."""
    from openai import AssistantEventHandler, OpenAI

    from reconify_otel.offline import ASSISTANTS_RECORDINGS
    from reconify_otel.offline.assistants import ReplayAssistantsAPI

    polling, streaming = (ASSISTANTS_RECORDINGS / name for name in ASSISTANT_CASSETTES)
    with ReplayAssistantsAPI(polling) as api:
        client = OpenAI(base_url=api.base_url, api_key=DEMO_OPENAI_KEY)
        thread_id, assistant_id = _conversation(client)
        run = client.beta.threads.runs.create_and_poll(
            thread_id=thread_id, assistant_id=assistant_id, poll_interval_ms=1
        )
        page = client.beta.threads.messages.list(thread_id, limit=1, run_id=run.id)
        print(f"assistant run (polling): {_assistant_text(page.data[0])}", file=out)

    with ReplayAssistantsAPI(streaming) as api:
        client = OpenAI(base_url=api.base_url, api_key=DEMO_OPENAI_KEY)
        thread_id, assistant_id = _conversation(client)
        with client.beta.threads.runs.stream(
            thread_id=thread_id, assistant_id=assistant_id, event_handler=AssistantEventHandler()
        ) as stream:
            stream.until_done()
            (answer,) = stream.get_final_messages()
        print(f"assistant run (streaming): {_assistant_text(answer)}", file=out)


def _conversation(client: Any) -> tuple[str, str]:
    assistant = client.beta.assistants.create(**TUTOR)
    thread = client.beta.threads.create()
    client.beta.threads.messages.create(thread_id=thread.id, role="user", content=QUESTION)
    return thread.id, assistant.id


def _assistant_text(message: Any) -> str:
    return " ".join(block.text.value for block in message.content if block.type == "text")


def _llm_calls(out: TextIO) -> None:
    """A chat completion and a Responses API call, each made as recorded."""
    from openai import OpenAI

    from reconify_otel.offline.replay import LlmReplay, recorded_calls

    chat, response = (recorded_calls(name)[0] for name in LLM_CASSETTES)
    replay = LlmReplay([chat, response])
    with replay:
        client = OpenAI(base_url=replay.base_url, api_key=DEMO_OPENAI_KEY)
        completion = client.chat.completions.create(**chat.request)
        print(f"chat completion: {completion.choices[0].message.content}", file=out)
        answer = client.responses.create(**response.request)
        print(f"Responses API: {answer.output_text}", file=out)


def _kind(payload: Payload) -> str:
    if payload["reconify"].get("type") == "assistant":
        return "assistant runs"
    response_id = str((payload.get("response") or {}).get("id"))
    return "Responses calls" if response_id.startswith("resp_") else "chat calls"


def _report(payloads: list[Payload], stats: Any, out: TextIO) -> int:
    from reconify_otel.core.encoding import masked

    ordered = sorted(payloads, key=lambda p: (p.get("timestamps") or {}).get("request") or 0)
    for number, payload in enumerate(ordered, 1):
        print(f"--- payload {number}: {_kind(payload)[:-1]} (keys masked) ---", file=out)
        print(json.dumps(json.loads(masked(payload)), indent=2, ensure_ascii=False), file=out)
    received = {kind: sum(1 for p in payloads if _kind(p) == kind) for kind in EXPECTED}
    ok = received == EXPECTED and len(payloads) == sum(EXPECTED.values())
    counts = ", ".join(f"{kind} {count}" for kind, count in received.items())
    nonzero = {name: count for name, count in stats.items() if count}
    print(
        f"demo: {len(payloads)} Reconify payloads received ({counts}), "
        f"exporter counters {nonzero}: {'OK' if ok else 'UNEXPECTED COUNT'}",
        file=out,
    )
    return 0 if ok else 1
