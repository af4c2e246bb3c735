"""Reconify's handler API in Python, for code that does not run OpenTelemetry at all.

The same calls as Reconify's Node module: ``reconify_openai_handler(client, app_key=...,
api_key=...)`` once, ``set_user`` / ``set_session`` (process-wide, like Reconify's), and
``log_assistant(run, message_in, message_out)`` after each run. ``log_assistant`` returns at
once: sending happens on a background thread. ``close()`` flushes before the program ends.
No tracer provider is configured anywhere (the RESULT line shows the global one untouched).

Run (offline, no keys): ``python examples/handler_api.py``; to go live see examples/README.md.
"""

from __future__ import annotations

from _standins import assistant_id, report, standins
from openai import OpenAI
from openai.types.beta.threads import TextContentBlock

from reconify_otel import reconify_openai_handler

QUESTIONS = ("What are the store hours?", "Can I return an item without a receipt?")


def main() -> None:
    with standins() as (base_url, openai_key, endpoint, app_key, api_key, sink):
        client = OpenAI(base_url=base_url, api_key=openai_key)
        reconify = reconify_openai_handler(
            client, app_key=app_key, api_key=api_key, endpoint=endpoint
        )
        reconify.set_user({"userId": "123", "isAuthenticated": 1, "firstName": "Francis"})
        reconify.set_session("MySessionId")

        assistant = assistant_id(client)
        thread = client.beta.threads.create()
        answer_ids: list[str] = []
        for question in QUESTIONS:
            message_in = client.beta.threads.messages.create(
                thread.id, role="user", content=question
            )
            run = client.beta.threads.runs.create_and_poll(
                thread_id=thread.id, assistant_id=assistant
            )
            if run.status == "completed":
                page = client.beta.threads.messages.list(thread.id, limit=1, run_id=run.id)
                message_out = page.data[0] if page.data else None
                reconify.log_assistant(run, message_in, message_out)  # queued, returns at once
                if message_out is not None:
                    answer_ids.append(message_out.id)
                    text = " ".join(
                        b.text.value for b in message_out.content if isinstance(b, TextContentBlock)
                    )
                    print(f"user: {question}\nassistant: {text}")

        reconify.close()  # waits (bounded) until every queued interaction was sent
        report(sink, len(QUESTIONS), answer_ids=answer_ids, stats=reconify.stats())


if __name__ == "__main__":
    main()
