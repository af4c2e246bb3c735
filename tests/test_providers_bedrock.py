"""Amazon Bedrock calls in Reconify's ``bedrock`` format (type ``chat``): the real boto3
``bedrock-runtime`` client replays recorded Bedrock traffic (every model family's
``invoke_model``, streamed and not, ``converse`` and ``converse_stream``) on loopback under
traceloop's, the official botocore and OpenInference's instrumentations, in process and
through the bridge. botocore records the messages only as GenAI log events, which
``ReconifyLogRecordProcessor`` (and the bridge's ``/v1/logs``) join to their span.

Exactly one payload per call; expected values from the recordings alone, except what a
convention does not record (``LACKS``)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reconify_otel.offline.replay import LlmReplay, RecordedCall
from reconify_otel.offline.sink import ReconifySink

from .bedrock_calls import answered, bedrock_client, call_bedrock
from .bedrock_traced import SETUPS, bedrock_traced, every_call, recorded
from .framework_runs import routed
from .handler_llm_helpers import handler_for
from .llm_replay import Pipeline

# The real provider SDKs under their instrumentations (.ci/run runs the group).
pytestmark = pytest.mark.providers

# Each recording's stop reason as Converse names it (Bedrock's own Converse maps Llama's
# ``stop`` to ``end_turn``); traceloop records the conventions' names, sent as Converse's.
STOP = {
    "test_ai21_j2_completion_string_content": "endoftext",
    "test_anthropic_2_completion": "stop_sequence",
    "test_anthropic_converse_stream_with_tool_use": "tool_use",
    "test_cohere_completion": "COMPLETE",
    "test_titan_completion": "FINISH",
    "test_titan_invoke_stream": "FINISH",
}
TRACELOOP_STOP = {"test_anthropic_converse_stream_with_tool_use": "tool_use"}
# (setup, cassette) -> what that instrumentation does not record of the call.
LACKS: dict[tuple[str, str], set[str]] = {
    ("traceloop", "test_cohere_completion"): {"usage"},
    ("traceloop", "test_nova_invoke_stream"): {"stop"},
    ("botocore", "test_ai21_j2_completion_string_content"): {"messages", "text", "stop", "usage"},
    ("botocore", "test_anthropic_2_completion"): {"messages", "text", "usage"},
    ("botocore", "test_cohere_completion"): {"usage"},  # botocore estimates Cohere's counts
    ("botocore", "test_nova_completion"): {"usage"},  # the input tokens only
    ("botocore", "test_titan_invoke_stream"): {"text"},  # the last chunk's text only
    # Its choice of a streamed tool call holds the call, not the text before it.
    ("botocore", "test_anthropic_converse_stream_with_tool_use"): {"text"},
}
QUESTION_KEYS = ("inputText", "prompt")


def question(call: RecordedCall) -> str:
    """The user's text as sent: the last message's text blocks, or the family's prompt."""
    body = json.loads(call.request_body)
    for key in QUESTION_KEYS:
        if isinstance(body.get(key), str):
            return str(body[key])
    content = body["messages"][-1]["content"]
    if isinstance(content, str):
        return content
    return "".join(block["text"] for block in content if "text" in block)


def counts(call: RecordedCall) -> tuple[int, int]:
    """Input and output tokens as Bedrock counted them (headers, else the answer's)."""
    headers = answered(call).headers
    if "x-amzn-bedrock-input-token-count" in headers:
        return (
            int(headers["x-amzn-bedrock-input-token-count"]),
            int(headers["x-amzn-bedrock-output-token-count"]),
        )
    answer = answered(call).answer
    if isinstance(answer, dict):  # converse
        return answer["usage"]["inputTokens"], answer["usage"]["outputTokens"]
    for event in reversed(answer):
        metrics = event.get("amazon-bedrock-invocationMetrics")
        if metrics is not None:
            return metrics["inputTokenCount"], metrics["outputTokenCount"]
        if "metadata" in event:
            usage = event["metadata"]["usage"]
            return usage["inputTokens"], usage["outputTokens"]
    raise AssertionError(f"no token counts recorded in {call.cassette}")


def exact(setup: str, call: RecordedCall) -> bool:
    """OpenInference holds the body sent only for Claude's messages API."""
    return (
        setup == "openinference"
        and "messages" in call.request_body
        and (call.model_id.startswith("anthropic.") and call.method.startswith("invoke_model"))
    )


def check_payload(setup: str, call: RecordedCall, payload: dict[str, Any]) -> None:
    lacks = LACKS.get((setup, call.cassette), set())
    assert (payload["reconify"]["format"], payload["reconify"]["type"]) == ("bedrock", "chat")
    request, response = payload["request"], payload["response"]
    recorded_answer = answered(call)
    assert response["requestId"] == (call.request_id if setup == "botocore" else None)
    if exact(setup, call):  # invoke_model as Reconify's module logs it
        assert json.loads(request["body"]) == json.loads(call.request_body)
        body = response["body"]
        assert request["modelId"] == body["model"]  # the answering model: no model id recorded
        assert "".join(b["text"] for b in body["content"]) == recorded_answer.text
        assert (body["usage"]["input_tokens"], body["usage"]["output_tokens"]) == counts(call)
        return
    family_less = call.model_id.split(".", 1)[1]
    assert request["modelId"] == (family_less if setup == "traceloop" else call.model_id)
    if "messages" in lacks:
        assert request["messages"] is None
    else:
        assert request["messages"][-1] == {"role": "user", "content": [{"text": question(call)}]}
    body = response["body"]
    content = body["output"]["message"]["content"]
    text = "".join(block.get("text", "") for block in content)
    if "text" not in lacks:
        assert text == recorded_answer.text
    stops = TRACELOOP_STOP if setup == "traceloop" else STOP
    wanted_stop = None if "stop" in lacks else stops.get(call.cassette, "end_turn")
    if "stop" not in lacks or setup != "botocore":
        assert body["stopReason"] == wanted_stop
    if "usage" not in lacks:
        usage = body["usage"]
        assert (usage["inputTokens"], usage["outputTokens"]) == counts(call)


def run(setups: tuple[str, ...], calls: list[RecordedCall], through_bridge: bool) -> Any:
    with routed(through_bridge) as (sink, bridge_sink, pipeline), LlmReplay(calls) as replay:
        url = pipeline.bridge_url if through_bridge else None
        with bedrock_traced(pipeline, setups, url) as logs:
            client = bedrock_client(replay)
            seen = [call_bedrock(client, call) for call in calls]
            logs.force_flush()
        pipeline.flush()
        sent = len(calls) - (1 if "openinference" in setups and len(setups) == 1 else 0)
        if through_bridge:
            bridge_sink.wait_for(sent, timeout=10)
        stats = {k: v for k, v in pipeline.exporter.stats().items() if v}
        stats["spans"] = len(pipeline.memory.get_finished_spans())
    return seen, sink.payloads, bridge_sink.payloads, stats


@pytest.mark.parametrize("setup", SETUPS)
def test_one_bedrock_payload_per_call(setup: str) -> None:
    calls = every_call()
    seen, payloads, through_bridge, stats = run((setup,), calls, through_bridge=True)
    assert [s.text for s in seen] == [answered(c).text for c in calls]  # the app unchanged
    # OpenInference's span of a streamed Titan call holds neither provider nor answer.
    sent = [
        c
        for c in calls
        if not (setup == "openinference" and c.cassette == "test_titan_invoke_stream")
    ]
    skipped = {"skipped_unsupported_provider": 1} if len(sent) < len(calls) else {}
    assert stats == {"accepted": len(sent), "spans": len(calls)} | skipped
    assert len(payloads) == len(sent)
    for call, payload in zip(sent, payloads, strict=True):
        check_payload(setup, call, payload)
    assert [(p["request"], p["response"]) for p in through_bridge] == [
        (p["request"], p["response"]) for p in payloads
    ]


# botocore's choice of a streamed tool call lacks the text before the call, so nothing
# tells its span from another instrumentation's of the same call: sent twice (README).
TOOL_STREAM = "test_anthropic_converse_stream_with_tool_use"


@pytest.mark.parametrize("other", ["traceloop", "openinference"])
def test_two_instrumentations_give_one_payload_per_call(other: str) -> None:
    """botocore's span and another instrumentation's of each call: one is sent (the one
    that ends first), the other counted as a duplicate."""
    calls = every_call()
    _seen, payloads, _bridge, stats = run((other, "botocore"), calls, False)
    unsent = 1 if other == "openinference" else 0  # its span of a Titan stream (above)
    assert len(payloads) == len(calls) + 1  # one per call, and the tool stream twice
    # traceloop suppresses botocore's span of some calls (11 of 14 here): fewer to drop.
    duplicates = stats["spans"] - len(payloads) - unsent
    assert stats == {
        "accepted": len(payloads),
        "skipped_duplicate": duplicates,
        "spans": stats["spans"],
    } | ({"skipped_unsupported_provider": 1} if unsent else {})
    by_call = {c.request_id: c for c in calls}
    for payload in payloads:
        request_id = payload["response"]["requestId"]
        if request_id is not None:  # botocore's
            check_payload("botocore", by_call[request_id], payload)
    questions = [p["request"]["messages"] for p in payloads if p["request"].get("messages")]
    asked = [q[-1]["content"][0]["text"] for q in questions]
    assert asked.count("What is the weather in Barcelona?") == 2


def test_without_the_log_events_a_botocore_call_is_sent_without_its_messages() -> None:
    calls = recorded("test_meta_converse")
    with routed(False) as (sink, _bridge_sink, pipeline), LlmReplay(calls) as replay:
        from opentelemetry.instrumentation.botocore import BotocoreInstrumentor

        instrumentor = BotocoreInstrumentor()
        instrumentor.instrument(tracer_provider=pipeline.provider)  # no logger provider
        try:
            call_bedrock(bedrock_client(replay), calls[0])
        finally:
            instrumentor.uninstrument()
        pipeline.flush()
    (payload,) = sink.payloads
    assert payload["request"]["messages"] is None
    assert payload["response"]["requestId"] == calls[0].request_id
    assert payload["response"]["body"]["output"]["message"]["content"] == []
    assert payload["response"]["body"]["usage"] == {
        "inputTokens": 52,
        "outputTokens": 30,
        "totalTokens": 82,
    }


def test_a_failed_call_is_skipped_and_counted() -> None:
    calls = recorded("test_meta_converse")
    with routed(False) as (sink, _bridge_sink, pipeline), LlmReplay(calls) as replay:
        with bedrock_traced(pipeline, SETUPS):
            client = bedrock_client(replay)
            replay.fail_next(500)
            with pytest.raises(Exception, match="500"):
                call_bedrock(client, calls[0])
            call_bedrock(client, calls[0])  # then the call answered
        pipeline.flush()
        stats = {k: v for k, v in pipeline.exporter.stats().items() if v}
    # Each instrumentation's span of the failed call; one payload for the answered one.
    assert stats == {"accepted": 1, "skipped_error_call": 3, "skipped_duplicate": 2}
    (payload,) = sink.payloads
    assert payload["response"]["requestId"] == calls[0].request_id


@pytest.mark.parametrize("setup", SETUPS)
def test_content_off_sends_no_message_text(setup: str) -> None:
    """The instrumentation's content switch off, or ``capture_content=False`` on an
    exporter beside: no text of the call leaves; the request id, model and counts do."""
    call = recorded("test_meta_converse")[0]
    payloads = []
    for upstream_content in (False, True):
        with ReconifySink() as sink, ReconifySink() as off_sink, LlmReplay([call]) as replay:
            with Pipeline(sink, content_off_sink=off_sink) as pipeline:
                with bedrock_traced(pipeline, (setup,), content=upstream_content):
                    call_bedrock(bedrock_client(replay), call)
                pipeline.flush()
            payloads += off_sink.payloads if upstream_content else sink.payloads
    assert len(payloads) == 2
    model = call.model_id.split(".", 1)[1] if setup == "traceloop" else call.model_id
    for payload in payloads:
        text = json.dumps(payload)
        assert question(call) not in text
        assert answered(call).text[:20] not in text
        assert payload["request"]["modelId"] == model
        assert payload["response"]["requestId"] == (
            call.request_id if setup == "botocore" else None
        )
        usage = payload["response"]["body"]["usage"]
        assert (usage["inputTokens"], usage["outputTokens"]) == counts(call)


def test_log_chat_bedrock_sends_the_call_as_reconifys_module_logs_it(
    sink: ReconifySink,
) -> None:
    """``invoke_model``'s keyword arguments and ``{requestId, body}``, as given; no
    credential of the request leaves; one call logged twice is sent once."""
    call = recorded("test_anthropic_3_completion_string_content")[0]
    request = {
        "modelId": call.model_id,
        "body": call.request_body,
        "contentType": "application/json",
        "accept": "application/json",
        "aws_secret_access_key": "do-not-send-me",
    }
    response = {"requestId": call.request_id, "body": json.loads(call.body)}
    handler = handler_for(None, sink.url)
    assert handler.log_chat(request, response, 1_000, 2_000, format="bedrock")
    assert not handler.log_chat(request, response, 1_000, 2_000, format="bedrock")  # again
    assert handler.close(5)
    (payload,) = sink.payloads
    assert (payload["reconify"]["format"], payload["reconify"]["type"]) == ("bedrock", "chat")
    del request["aws_secret_access_key"]
    assert (payload["request"], payload["response"]) == (request, response)
    assert payload["timestamps"] == {"request": 1_000, "response": 2_000}
