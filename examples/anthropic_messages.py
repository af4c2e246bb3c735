"""Anthropic ``messages.create``, traced by ``opentelemetry-instrumentation-anthropic``
(traceloop / openllmetry) and sent to Reconify by ``ReconifySpanExporter``.

Two calls: a question answered in text, and one answered with ``tool_use`` blocks. Each
becomes one Reconify interaction (``format: anthropic``, ``type: chat``): the request as
sent, and the answer as Anthropic's ``Message`` object. Needs ``pip install anthropic
opentelemetry-instrumentation-anthropic`` (both come with the project's ``test`` extra).

Run (offline, no keys): ``python examples/anthropic_messages.py``; to go live see
examples/README.md.
"""

from __future__ import annotations

from _standins import report, standins
from anthropic import Anthropic
from opentelemetry.instrumentation.anthropic import AnthropicInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from reconify_otel import ReconifySpanExporter

# Offline, the calls are answered as recorded (src/reconify_otel/offline/recordings).
RECORDED = (
    "anthropic__test_messages__test_anthropic_message_create_legacy",
    "anthropic__test_messages__test_anthropic_tools_legacy",
)
JOKE = "Tell me a joke about OpenTelemetry"
WEATHER = "What is the weather like right now in New York? Also what time is it there now?"
TOOLS = [
    {
        "name": "get_weather",
        "description": "Get the current weather in a given location",
        "input_schema": {
            "type": "object",
            "properties": {
                "location": {
                    "type": "string",
                    "description": "The city and state, e.g. San Francisco, CA",
                },
                "unit": {
                    "type": "string",
                    "enum": ["celsius", "fahrenheit"],
                    "description": "The unit of temperature, either 'celsius' or 'fahrenheit'",
                },
            },
            "required": ["location"],
        },
    },
    {
        "name": "get_time",
        "description": "Get the current time in a given time zone",
        "input_schema": {
            "type": "object",
            "properties": {
                "timezone": {
                    "type": "string",
                    "description": "The IANA time zone name, e.g. America/Los_Angeles",
                }
            },
            "required": ["timezone"],
        },
    },
]


def main() -> None:
    with standins(RECORDED, provider="anthropic") as (
        base_url,
        anthropic_key,
        endpoint,
        app_key,
        api_key,
        sink,
    ):
        # The integration: an exporter on your tracer provider, and the instrumentation.
        provider = TracerProvider()
        provider.add_span_processor(
            BatchSpanProcessor(ReconifySpanExporter(endpoint, app_key, api_key))
        )
        instrumentor = AnthropicInstrumentor()
        instrumentor.instrument(tracer_provider=provider)

        # The application, unchanged.
        client = Anthropic(base_url=base_url, api_key=anthropic_key)
        joke = client.messages.create(
            model="claude-3-opus-20240229",
            max_tokens=1024,
            messages=[{"role": "user", "content": JOKE}],
        )
        print(f"user: {JOKE}\nassistant: {joke.content[0].text}")  # type: ignore[union-attr]
        weather = client.messages.create(
            model="claude-3-5-sonnet-20240620",
            max_tokens=1024,
            messages=[{"role": "user", "content": WEATHER}],
            tools=TOOLS,  # type: ignore[arg-type]
        )
        print(f"user: {WEATHER}")
        for block in weather.content:
            if block.type == "tool_use":
                print(f"assistant uses {block.name}({block.input})")

        instrumentor.uninstrument()
        provider.shutdown()  # flushes: every call's payload was sent when this returns
        report(
            sink,
            2,
            "Anthropic calls",
            answer_ids=[joke.id, weather.id],
            stop_reasons=[joke.stop_reason, weather.stop_reason],
        )


if __name__ == "__main__":
    main()
