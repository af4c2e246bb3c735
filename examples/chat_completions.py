"""OpenAI chat completions, traced by ``opentelemetry-instrumentation-openai`` (traceloop /
openllmetry) and sent to Reconify by ``ReconifySpanExporter``.

Two calls, as an application makes them: a plain ``chat.completions.create`` and a streamed
one, printed as it arrives. Each becomes one Reconify interaction (``format: openai``,
``type: chat``): the request as sent, and the answer as the ``ChatCompletion`` object (the
stream's chunks joined). The ``reconify_otel.session(...)`` / ``user(...)`` block gives both
calls a session and a user; ``IdentitySpanProcessor`` records them on the instrumentation's
spans.

Run (offline, no keys): ``python examples/chat_completions.py``; to go live see
examples/README.md.
"""

from __future__ import annotations

from _standins import report, standins
from openai import OpenAI
from opentelemetry.instrumentation.openai import OpenAIInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

import reconify_otel
from reconify_otel import IdentitySpanProcessor, ReconifySpanExporter

# Offline, the calls are answered as recorded (src/reconify_otel/offline/recordings).
RECORDED = ("openai__test_chat__test_chat", "openai__test_chat__test_chat_streaming")
MODEL = "gpt-3.5-turbo"
MESSAGES = [{"role": "user", "content": "Tell me a joke about opentelemetry"}]


def main() -> None:
    with standins(RECORDED) as (base_url, openai_key, endpoint, app_key, api_key, sink):
        # The integration: the identity processor and an exporter on your tracer provider,
        # and the upstream instrumentation.
        provider = TracerProvider()
        provider.add_span_processor(IdentitySpanProcessor())
        provider.add_span_processor(
            BatchSpanProcessor(ReconifySpanExporter(endpoint, app_key, api_key))
        )
        instrumentor = OpenAIInstrumentor()
        instrumentor.instrument(tracer_provider=provider)

        # The application, unchanged.
        client = OpenAI(base_url=base_url, api_key=openai_key)
        answer_ids: list[str] = []
        with reconify_otel.session("jokes-42"), reconify_otel.user({"userId": "jane"}):
            completion = client.chat.completions.create(model=MODEL, messages=MESSAGES)
            answer_ids.append(completion.id)
            print(f"user: {MESSAGES[0]['content']}")
            print(f"assistant: {completion.choices[0].message.content}")

            print("assistant (streamed): ", end="")
            stream = client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
            for chunk in stream:
                if chunk.choices:
                    print(chunk.choices[0].delta.content or "", end="", flush=True)
            answer_ids.append(chunk.id)
            print()

        instrumentor.uninstrument()
        provider.shutdown()  # flushes: every call's payload was sent when this returns
        report(sink, len(answer_ids), "chat calls", answer_ids=answer_ids)


if __name__ == "__main__":
    main()
