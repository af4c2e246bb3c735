"""Exactly one payload per call with real instrumentations: two calls in one trace whose
answers are word for word the same are two calls, whichever conventions recorded them and
with content on or off. Real openai SDK, real instrumentations, loopback replay, real sink."""

from __future__ import annotations

import pytest

from reconify_otel.offline.replay import LlmReplay
from reconify_otel.offline.sink import ReconifySink

from .llm_adversarial_helpers import CHAT, numbered
from .llm_replay import Pipeline, client, instrumented, make_call

TRACELOOP, OFFICIAL, OPENINFERENCE = (
    "traceloop-openai-0.62.4",
    "openai-v2-2.4b0",
    "openinference-openai-0.1.66",
)


@pytest.mark.parametrize(
    ("tags", "content"),
    [
        ((TRACELOOP,), True),
        ((TRACELOOP,), False),
        ((OFFICIAL,), True),
        ((OFFICIAL,), False),
        ((OPENINFERENCE,), True),
        ((TRACELOOP, OPENINFERENCE), True),
        ((OPENINFERENCE, TRACELOOP), True),
        ((TRACELOOP, OFFICIAL), False),
        # Content hidden, OpenInference's spans carry neither the response id nor a text:
        # each is a call of its own (two of them in one trace once went as one).
        ((OPENINFERENCE,), False),
    ],
)
def test_two_calls_with_the_same_answer_in_one_trace_are_two_payloads(
    tags: tuple[str, ...], content: bool
) -> None:
    with (
        ReconifySink() as sink,
        Pipeline(sink) as pipeline,
        instrumented(pipeline.provider, *tags, content=content),
        LlmReplay(numbered(CHAT, 2)) as replay,
    ):
        sdk_client = client(CHAT, replay)
        with pipeline.provider.get_tracer("app").start_as_current_span("handle request"):
            make_call(CHAT, replay, sdk_client)
            make_call(CHAT, replay, sdk_client)
        sdk_client.close()
        pipeline.flush()
        stats = pipeline.exporter.stats()
    assert len(sink.payloads) == 2
    assert stats["skipped_duplicate"] == 2 * (len(tags) - 1)
