"""The OpenAI Responses API (the Assistants API's successor), traced by OpenInference
(``openinference-instrumentation-openai``, as Arize Phoenix uses it) and sent to Reconify by
``ReconifySpanExporter``.

Two ``responses.create`` calls: a question answered in text, and one answered with function
calls. Reconify's modules predate the Responses API, so each is sent as its closest
documented form, an OpenAI chat interaction: ``instructions`` and ``input`` become
``messages``, and the ``Response`` a one-choice ``ChatCompletion`` whose ``tool_calls`` are
the ``function_call`` items. A call made in a ``conversation`` has it as its session.

Run (offline, no keys): ``python examples/responses_api.py``; to go live see
examples/README.md.
"""

from __future__ import annotations

from _standins import report, standins
from openai import OpenAI
from openinference.instrumentation.openai import OpenAIInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from reconify_otel import ReconifySpanExporter

# Offline, the calls are answered as recorded (src/reconify_otel/offline/recordings).
RECORDED = (
    "openai__test_responses__test_responses",
    "openai__test_responses__test_responses_tool_calls",
)
MODEL = "gpt-4.1-nano"
WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Get the current weather for a location",
    "parameters": {
        "type": "object",
        "properties": {
            "location": {
                "type": "string",
                "description": "The city and state, e.g. San Francisco, CA",
            }
        },
        "required": ["location"],
    },
}


def main() -> None:
    with standins(RECORDED) as (base_url, openai_key, endpoint, app_key, api_key, sink):
        # The integration: an exporter on your tracer provider, and the instrumentation.
        provider = TracerProvider()
        provider.add_span_processor(
            BatchSpanProcessor(ReconifySpanExporter(endpoint, app_key, api_key))
        )
        instrumentor = OpenAIInstrumentor()
        instrumentor.instrument(tracer_provider=provider)

        # The application, unchanged.
        client = OpenAI(base_url=base_url, api_key=openai_key)
        answer = client.responses.create(model=MODEL, input="What is the capital of France?")
        print(f"user: What is the capital of France?\nassistant: {answer.output_text}")

        question = "What's the weather in London?"
        with_tools = client.responses.create(
            model=MODEL,
            input=[{"type": "message", "role": "user", "content": question}],
            tools=[WEATHER_TOOL],
            tool_choice="auto",
        )
        calls = [item for item in with_tools.output if item.type == "function_call"]
        print(f"user: {question}")
        for call in calls:
            print(f"assistant calls {call.name}({call.arguments}) as {call.call_id}")

        instrumentor.uninstrument()
        provider.shutdown()  # flushes: every call's payload was sent when this returns
        report(
            sink,
            2,
            "Responses calls",
            answer_ids=[answer.id, with_tools.id],
            call_ids=[call.call_id for call in calls],
        )


if __name__ == "__main__":
    main()
