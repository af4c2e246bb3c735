"""Reconify's documented non-streaming flow, traced with OpenTelemetry and sent to Reconify.

``runs.create_and_poll(...)``, then ``messages.list(limit=1, run_id=run.id)`` for the output
message, as in Reconify's example. Instead of a ``log_assistant(run, in, out)`` call, the
``AssistantsInstrumentor`` makes one span per run (ended when the app lists the answer) and
``ReconifySpanExporter`` sends it as one Reconify interaction.

Run (offline, no keys): ``python examples/polling.py``; to go live see examples/README.md.
"""

from __future__ import annotations

from _standins import assistant_id, report, standins
from openai import OpenAI
from openai.types.beta.threads import TextContentBlock
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from reconify_otel import AssistantsInstrumentor, ReconifySpanExporter

QUESTIONS = ("What are the store hours?", "Do you open on Saturdays?")


def main() -> None:
    with standins() as (base_url, openai_key, endpoint, app_key, api_key, sink):
        # The integration: an exporter on your tracer provider, and the instrumentor.
        provider = TracerProvider()
        provider.add_span_processor(
            BatchSpanProcessor(ReconifySpanExporter(endpoint, app_key, api_key))
        )
        instrumentor = AssistantsInstrumentor()
        instrumentor.instrument(tracer_provider=provider)

        # The application, unchanged.
        client = OpenAI(base_url=base_url, api_key=openai_key)
        assistant = assistant_id(client)
        thread = client.beta.threads.create()
        answer_ids: list[str] = []
        for question in QUESTIONS:
            client.beta.threads.messages.create(thread.id, role="user", content=question)
            run = client.beta.threads.runs.create_and_poll(
                thread_id=thread.id, assistant_id=assistant
            )
            if run.status == "completed":
                page = client.beta.threads.messages.list(thread.id, limit=1, run_id=run.id)
                message_out = page.data[0]
                answer_ids.append(message_out.id)
                text = " ".join(
                    b.text.value for b in message_out.content if isinstance(b, TextContentBlock)
                )
                print(f"user: {question}\nassistant: {text}")

        instrumentor.uninstrument()
        provider.shutdown()  # flushes: every run's payload was sent when this returns
        report(sink, len(QUESTIONS), answer_ids=answer_ids, thread_ids=[thread.id])


if __name__ == "__main__":
    main()
