"""An Assistants app with no tracing code at all, for ``opentelemetry-instrument``.

Plain ``openai`` usage (Reconify's non-streaming flow). The ``openai`` SDK reads
``OPENAI_API_KEY`` and ``OPENAI_BASE_URL`` from the environment; ``OPENAI_ASSISTANT_ID`` is
optional (else an assistant is created). Traced and sent to Reconify from outside:

    OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf OTEL_TRACES_EXPORTER=otlp,reconify \\
      opentelemetry-instrument python examples/zero_code/app.py

Offline, with no keys: ``python examples/zero_code/run_offline.py`` (see README.md here).
"""

from __future__ import annotations

import os

from openai import OpenAI
from openai.types.beta.threads import TextContentBlock

# Two runs, then the program ends at once: both must still reach Reconify.
QUESTIONS = ("What are the store hours?", "Do you open on Saturdays?")


def main() -> None:
    client = OpenAI()
    assistant_id = (
        os.environ.get("OPENAI_ASSISTANT_ID")
        or client.beta.assistants.create(
            name="Store Helper", model="gpt-4o-mini", instructions="Answer store questions."
        ).id
    )
    thread = client.beta.threads.create()
    for question in QUESTIONS:
        client.beta.threads.messages.create(thread.id, role="user", content=question)
        run = client.beta.threads.runs.create_and_poll(
            thread_id=thread.id, assistant_id=assistant_id
        )
        if run.status != "completed":
            raise SystemExit(f"run {run.id} ended {run.status}")
        answer = client.beta.threads.messages.list(thread.id, limit=1, run_id=run.id).data[0]
        text = " ".join(b.text.value for b in answer.content if isinstance(b, TextContentBlock))
        print(f"user: {question}\nassistant: {text}")
        print(f"answer {answer.id}")


if __name__ == "__main__":
    main()
