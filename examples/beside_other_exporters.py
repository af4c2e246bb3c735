"""Reconify beside the exporters you already run: one tracer provider, two exporters.

An ``OTLPSpanExporter`` (OTLP/HTTP: Jaeger, the Collector, Datadog Agent, ...) and the
``ReconifySpanExporter`` on one ``TracerProvider``, each in its own ``BatchSpanProcessor``, so a
slow Reconify never delays the other backend. The OTLP side gets every span (here also an
application span around each request); Reconify gets one interaction per assistant run.

Offline, the OTLP exporter posts to a loopback receiver that counts requests; set
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` (or go live, which defaults to Jaeger's
``http://localhost:4318/v1/traces``) to send to a real backend.

Run (offline, no keys): ``python examples/beside_other_exporters.py``.
"""

from __future__ import annotations

from _standins import assistant_id, otlp_endpoint, report, standins
from openai import OpenAI
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from reconify_otel import AssistantsInstrumentor, ReconifySpanExporter

QUESTIONS = ("What are the store hours?", "Do you open on Saturdays?")


def main() -> None:
    with (
        standins() as (base_url, openai_key, endpoint, app_key, api_key, sink),
        otlp_endpoint(offline=sink is not None) as (otlp_url, receiver),
    ):
        # The integration: both exporters on the one provider, each with its own processor.
        provider = TracerProvider(resource=Resource.create({"service.name": "support-bot"}))
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_url)))
        provider.add_span_processor(
            BatchSpanProcessor(ReconifySpanExporter(endpoint, app_key, api_key))
        )
        trace.set_tracer_provider(provider)
        AssistantsInstrumentor().instrument()  # uses the global provider set above

        # The application, with a span of its own around each request.
        tracer = trace.get_tracer("support-bot")
        client = OpenAI(base_url=base_url, api_key=openai_key)
        assistant = assistant_id(client)
        thread = client.beta.threads.create()
        answer_ids: list[str] = []
        for question in QUESTIONS:
            with tracer.start_as_current_span("handle support request"):
                client.beta.threads.messages.create(thread.id, role="user", content=question)
                run = client.beta.threads.runs.create_and_poll(
                    thread_id=thread.id, assistant_id=assistant
                )
                page = client.beta.threads.messages.list(thread.id, limit=1, run_id=run.id)
                answer_ids.append(page.data[0].id)

        provider.shutdown()  # flushes both exporters
        if receiver is None:
            print(f"spans exported by OTLP to {otlp_url}")
            report(sink, len(QUESTIONS), answer_ids=answer_ids)
            return
        print(
            f"OTLP receiver: {receiver.requests} export requests, "
            f"{len(receiver.span_names)} spans: {sorted(receiver.span_names)}"
        )
        report(
            sink,
            len(QUESTIONS),
            answer_ids=answer_ids,
            otlp_requests=receiver.requests,
            otlp_span_names=sorted(receiver.span_names),
        )


if __name__ == "__main__":
    main()
