"""Reconify's handler API for chat calls, for code that does not run OpenTelemetry at all.

As with Reconify's own OpenAI handler, ``reconify_openai_handler(client, app_key=...,
api_key=...)`` logs the calls of the client it is given: here a chat completion, a streamed
one (logged when it has been read to its end, as the completion it adds up to) and a
Responses API call. Each is queued and sent on a background thread; ``close()`` flushes and
gives the client its own methods back. No tracer provider is configured anywhere.

Run (offline, no keys): ``python examples/handler_chat.py``; to go live see examples/README.md.
"""

from __future__ import annotations

from _standins import report, standins
from openai import OpenAI

import reconify_otel
from reconify_otel import reconify_openai_handler

# Offline, the calls are answered as recorded (src/reconify_otel/offline/recordings).
RECORDED = (
    "openai__test_chat__test_chat",
    "openai__test_chat__test_chat_streaming",
    "openai__test_responses__test_responses",
)
MESSAGES = [{"role": "user", "content": "Tell me a joke about opentelemetry"}]


def main() -> None:
    with standins(RECORDED) as (base_url, openai_key, endpoint, app_key, api_key, sink):
        client = OpenAI(base_url=base_url, api_key=openai_key)
        reconify = reconify_openai_handler(
            client, app_key=app_key, api_key=api_key, endpoint=endpoint
        )
        reconify.set_user({"userId": "123"})  # process-wide, like Reconify's setUser

        answer_ids: list[str] = []
        with reconify_otel.session("jokes-7"):  # this block's calls only
            completion = client.chat.completions.create(model="gpt-3.5-turbo", messages=MESSAGES)
            answer_ids.append(completion.id)
            print(f"assistant: {completion.choices[0].message.content}")
            stream = client.chat.completions.create(
                model="gpt-3.5-turbo", messages=MESSAGES, stream=True
            )
            print("assistant (streamed): ", end="")
            for chunk in stream:
                if chunk.choices:
                    print(chunk.choices[0].delta.content or "", end="", flush=True)
            answer_ids.append(chunk.id)
            print()
        answer = client.responses.create(
            model="gpt-4.1-nano", input="What is the capital of France?"
        )
        answer_ids.append(answer.id)
        print(f"assistant: {answer.output_text}")

        reconify.close()  # waits (bounded) until every queued call was sent
        report(sink, len(answer_ids), "LLM calls", answer_ids=answer_ids, stats=reconify.stats())


if __name__ == "__main__":
    main()
