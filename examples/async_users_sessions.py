"""Many users at once: ``AsyncOpenAI`` in concurrent asyncio tasks, each with its own user.

Reconify's own modules keep the user and session in process globals, which mixes users up
when one process serves many. Here each task wraps its run in
``with reconify_otel.session(...), reconify_otel.user(...)``: the values hold for that task
only, are recorded on the run's span when it starts, and reach Reconify in that run's
payload, however the tasks interleave.

Run (offline, no keys): ``python examples/async_users_sessions.py``; to go live see
examples/README.md.
"""

from __future__ import annotations

import asyncio
import os

from _standins import STORE_ASSISTANT, report, standins
from openai import AsyncOpenAI
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

import reconify_otel
from reconify_otel import AssistantsInstrumentor, ReconifySpanExporter

QUESTIONS = (
    "What are the store hours?",
    "Do you open on Saturdays?",
    "Can I return an item without a receipt?",
)


async def support_chat(client: AsyncOpenAI, assistant_id: str, n: int, question: str) -> str:
    """One customer's conversation turn; returns the answer's message id."""
    customer = {"userId": f"customer-{n}", "email": f"customer{n}@example.com"}
    with reconify_otel.session(f"support-{n}"), reconify_otel.user(customer):
        thread = await client.beta.threads.create()
        await client.beta.threads.messages.create(thread.id, role="user", content=question)
        run = await client.beta.threads.runs.create_and_poll(
            thread_id=thread.id, assistant_id=assistant_id
        )
        page = await client.beta.threads.messages.list(thread.id, limit=1, run_id=run.id)
        print(f"support-{n} {customer['userId']}: {question} -> run {run.status}")
        return page.data[0].id


async def serve(base_url: str, openai_key: str) -> list[str]:
    client = AsyncOpenAI(base_url=base_url, api_key=openai_key)
    assistant_id = (
        os.environ.get("OPENAI_ASSISTANT_ID")
        or (await client.beta.assistants.create(**STORE_ASSISTANT)).id
    )
    chats = (support_chat(client, assistant_id, n, q) for n, q in enumerate(QUESTIONS, 1))
    return list(await asyncio.gather(*chats))


def main() -> None:
    with standins() as (base_url, openai_key, endpoint, app_key, api_key, sink):
        provider = TracerProvider()
        provider.add_span_processor(
            BatchSpanProcessor(ReconifySpanExporter(endpoint, app_key, api_key))
        )
        instrumentor = AssistantsInstrumentor()
        instrumentor.instrument(tracer_provider=provider)

        answer_ids = asyncio.run(serve(base_url, openai_key))

        instrumentor.uninstrument()
        provider.shutdown()  # flushes: every run's payload was sent when this returns
        report(sink, len(QUESTIONS), answer_ids=answer_ids)


if __name__ == "__main__":
    main()
