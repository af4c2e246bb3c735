"""Reconify's documented streaming flow, traced with OpenTelemetry and sent to Reconify.

``runs.stream(...)`` with an ``AssistantEventHandler``: ``on_text_delta`` prints the answer as
it arrives and ``on_event`` lists the output message at ``thread.run.completed``, exactly as
Reconify's streaming example does. There is no ``log_assistant`` call: the
``AssistantsInstrumentor`` makes one span per run and ``ReconifySpanExporter`` sends each one
as one Reconify interaction, from the processor's thread.

Run (offline, no keys): ``python examples/streaming.py``; to go live see examples/README.md.
"""

from __future__ import annotations

from _standins import assistant_id, report, standins
from openai import AssistantEventHandler, OpenAI
from openai.types.beta import AssistantStreamEvent
from openai.types.beta.threads import Text, TextDelta
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from reconify_otel import AssistantsInstrumentor, ReconifySpanExporter

QUESTIONS = ("What are the store hours?", "Do you open on Saturdays?")


class PrintingHandler(AssistantEventHandler):
    def __init__(self, client: OpenAI) -> None:
        super().__init__()
        self.client = client
        self.answer_id: str | None = None

    def on_text_delta(self, delta: TextDelta, snapshot: Text) -> None:
        print(delta.value or "", end="", flush=True)

    def on_event(self, event: AssistantStreamEvent) -> None:
        if event.event == "thread.run.completed":
            run = event.data
            # The output message, as in Reconify's example.
            page = self.client.beta.threads.messages.list(run.thread_id, limit=1, run_id=run.id)
            self.answer_id = page.data[0].id if page.data else None
            print()


def main() -> None:
    with standins() as (base_url, openai_key, endpoint, app_key, api_key, sink):
        # The integration: an exporter on your tracer provider, and the instrumentor.
        provider = TracerProvider()
        exporter = ReconifySpanExporter(endpoint, app_key, api_key)
        provider.add_span_processor(BatchSpanProcessor(exporter))
        instrumentor = AssistantsInstrumentor()
        instrumentor.instrument(tracer_provider=provider)

        # The application, unchanged.
        client = OpenAI(base_url=base_url, api_key=openai_key)
        assistant = assistant_id(client)
        thread = client.beta.threads.create()
        answer_ids: list[str | None] = []
        for question in QUESTIONS:
            print(f"user: {question}\nassistant: ", end="")
            client.beta.threads.messages.create(thread.id, role="user", content=question)
            handler = PrintingHandler(client)
            with client.beta.threads.runs.stream(
                thread_id=thread.id, assistant_id=assistant, event_handler=handler
            ) as stream:
                stream.until_done()
            answer_ids.append(handler.answer_id)

        instrumentor.uninstrument()
        provider.shutdown()  # flushes: every run's payload was sent when this returns
        report(sink, len(QUESTIONS), answer_ids=answer_ids, thread_ids=[thread.id])


if __name__ == "__main__":
    main()
