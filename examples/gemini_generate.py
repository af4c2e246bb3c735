"""Google Gemini ``models.generate_content`` with the ``google-genai`` SDK, traced by the
official ``opentelemetry-instrumentation-google-genai`` and sent to Reconify by
``ReconifySpanExporter``.

The instrumentation records the messages on the span when
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=SPAN_ONLY``. The call becomes one
Reconify interaction (``format: gemini``, ``type: generate``): the request as Gemini's
REST API takes it (``model``, ``contents``) and the ``GenerateContentResponse``
(``candidates``, ``usageMetadata``, ``modelVersion``, ``responseId``). Needs ``pip install
google-genai opentelemetry-instrumentation-google-genai``.

Run (offline, no key): ``python examples/gemini_generate.py``; to go live
(``GEMINI_API_KEY``) see examples/README.md.
"""

from __future__ import annotations

import os

from _standins import report, standins
from google import genai
from opentelemetry.instrumentation.google_genai import GoogleGenAiSdkInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from reconify_otel import ReconifySpanExporter

# Offline, the call is answered as recorded (src/reconify_otel/offline/recordings).
RECORDED = ("google__test_generate_content__test_client_spans",)
QUESTION = "What is ai?"


def main() -> None:
    with standins(RECORDED, provider="google") as (
        base_url,
        gemini_key,
        endpoint,
        app_key,
        api_key,
        sink,
    ):
        # The integration: an exporter on your tracer provider, and the instrumentation
        # (messages on the span).
        provider = TracerProvider()
        provider.add_span_processor(
            BatchSpanProcessor(ReconifySpanExporter(endpoint, app_key, api_key))
        )
        os.environ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "SPAN_ONLY"
        instrumentor = GoogleGenAiSdkInstrumentor()
        instrumentor.instrument(tracer_provider=provider)

        # The application, unchanged: the Gemini Developer API, whatever
        # GOOGLE_GENAI_USE_VERTEXAI says.
        client = genai.Client(
            api_key=gemini_key,
            vertexai=False,
            http_options=genai.types.HttpOptions(base_url=base_url),
        )
        answer = client.models.generate_content(model="gemini-2.5-flash", contents=QUESTION)
        print(f"user: {QUESTION}\nGemini: {answer.text}")

        instrumentor.uninstrument()
        provider.shutdown()  # flushes: the call's payload was sent when this returns
        report(
            sink,
            1,
            "Gemini calls",
            answer_ids=[answer.response_id],
            answer_texts=[answer.text],
            model_versions=[answer.model_version],
        )


if __name__ == "__main__":
    main()
