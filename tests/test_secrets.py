"""Provider keys never leave through an LLM call's payload or logs, whatever an
instrumentation records: an application passing a key in ``extra_headers`` or
``extra_query`` (Azure-style ``api-key``, a gateway's ``Authorization``) gets it recorded
on the span by some conventions (traceloop's ``gen_ai.headers``, OpenInference's
``llm.invocation_parameters``). Real SDKs, real instrumentations, the loopback replay."""

from __future__ import annotations

import json
import logging

import pytest

from reconify_otel.offline.replay import LlmReplay, RecordedCall
from reconify_otel.offline.sink import ReconifySink

from .llm_replay import CONVENTIONS, Pipeline, all_calls, instrumented, make_call

SECRET = "sk-proj-secret-0b5e8d2f9a7c"
SDK_OPTIONS = {
    "extra_headers": {"Authorization": f"Bearer {SECRET}", "api-key": SECRET},
    "extra_query": {"api_key": SECRET},
}


def first_unstreamed(tag: str) -> RecordedCall:
    return next(c for c in all_calls() if CONVENTIONS[tag].covers(c) and not c.streamed)


@pytest.mark.parametrize("content", [True, False], ids=["content", "no-content"])
@pytest.mark.parametrize("tag", sorted(CONVENTIONS))
def test_keys_in_sdk_options_reach_neither_payload_nor_logs(
    tag: str, content: bool, caplog: pytest.LogCaptureFixture
) -> None:
    call = first_unstreamed(tag)
    caplog.set_level(logging.DEBUG, logger="reconify_otel")
    with (
        ReconifySink() as sink,
        Pipeline(sink, debug=True) as pipeline,
        instrumented(pipeline.provider, tag, content=content),
        LlmReplay([call]) as replay,
    ):
        make_call(call, replay, **SDK_OPTIONS)
        pipeline.flush()
    (payload,) = sink.payloads
    assert SECRET not in json.dumps(payload)
    assert not {"extra_headers", "extra_query", "extra_body", "timeout"} & set(payload["request"])
    assert SECRET not in caplog.text
    assert "reconify payload" in caplog.text  # the debug output was there to search
