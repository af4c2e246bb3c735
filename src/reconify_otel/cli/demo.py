"""``reconify-otel demo``: the whole pipeline offline, with no keys and no network.

The real ``openai`` SDK talks to an embedded simulated Assistants API, the real
OpenTelemetry SDK and instrumentation trace it, and ``ReconifySpanExporter`` sends to
an embedded Reconify-compatible sink; what the sink received is printed, keys masked.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

DEMO_APP_KEY = "demo-app-key"
DEMO_API_KEY = "demo-api-key"
QUESTIONS = ("What are the store hours?", "Do you open on Saturdays?")


def run_demo(out: TextIO = sys.stdout) -> int:
    """Run two documented flows, print what Reconify would receive; 0 when it all arrived."""
    try:
        from openai import AssistantEventHandler, OpenAI
    except ImportError:
        print("the demo needs the openai extra: pip install 'reconify-otel[openai]'", file=out)
        return 2
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from reconify_otel_testing.assistants_api import SimulatedAssistantsAPI
    from reconify_otel_testing.sink import ReconifySink

    from reconify_otel.core.encoding import masked
    from reconify_otel.exporter.span_exporter import ReconifySpanExporter
    from reconify_otel.instrumentation import AssistantsInstrumentor

    def reply(question: str) -> str:
        if "Saturday" in question:
            return "Yes, on Saturdays we open from 10:00am to 2:00pm."
        return "Our store is open Monday through Friday from 9:00am to 5:00pm."

    with SimulatedAssistantsAPI(reply=reply) as api, ReconifySink() as sink:
        provider = TracerProvider()
        # No spool: the demo's sink lives only as long as the demo.
        exporter = ReconifySpanExporter(
            f"{sink.url}/track", DEMO_APP_KEY, DEMO_API_KEY, spool=False
        )
        provider.add_span_processor(BatchSpanProcessor(exporter))
        instrumentor = AssistantsInstrumentor()
        instrumentor.instrument(tracer_provider=provider)
        try:
            client = OpenAI(base_url=api.base_url, api_key="sk-demo-not-a-real-key")
            assistant = client.beta.assistants.create(
                name="Store Helper", model="gpt-4o-mini", instructions="Answer store questions."
            )
            thread = client.beta.threads.create()

            # Reconify's documented non-streaming flow.
            client.beta.threads.messages.create(thread.id, role="user", content=QUESTIONS[0])
            run = client.beta.threads.runs.create_and_poll(
                thread_id=thread.id, assistant_id=assistant.id
            )
            client.beta.threads.messages.list(thread.id, limit=1, run_id=run.id)

            # Reconify's documented streaming flow.
            class Handler(AssistantEventHandler):
                def on_event(self, event: Any) -> None:
                    if event.event == "thread.run.completed":
                        client.beta.threads.messages.list(
                            event.data.thread_id, limit=1, run_id=event.data.id
                        )

            client.beta.threads.messages.create(thread.id, role="user", content=QUESTIONS[1])
            with client.beta.threads.runs.stream(
                thread_id=thread.id, assistant_id=assistant.id, event_handler=Handler()
            ) as stream:
                stream.until_done()
        finally:
            instrumentor.uninstrument()
            provider.shutdown()
        sink.wait_for(len(QUESTIONS), timeout=5)
        payloads = sink.payloads

    for number, payload in enumerate(payloads, 1):
        print(f"--- payload {number} received by the Reconify sink (keys masked) ---", file=out)
        print(masked(payload), file=out)
    ok = len(payloads) == len(QUESTIONS)
    print(
        f"demo: {len(QUESTIONS)} assistant runs, {len(payloads)} Reconify payloads received, "
        f"exporter stats {exporter.stats()}: {'OK' if ok else 'UNEXPECTED COUNT'}",
        file=out,
    )
    return 0 if ok else 1
