"""Recorded Amazon Bedrock traffic replayed on loopback to the real boto3
``bedrock-runtime`` client: each call is made as recorded, the app sees exactly what
Bedrock answered (its text, its request id, its token-count headers, its event-stream
frames byte for byte) and the replay receives exactly the recorded request. No
instrumentation; expected values come from the cassettes read directly with PyYAML."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import pytest
import yaml
from botocore.exceptions import ClientError

from reconify_otel.offline.replay import LlmReplay, RecordedCall, recorded_calls

from .bedrock_calls import answered, bedrock_client, call_bedrock, frames, modelled

# The real provider SDKs on recorded traffic (.ci/run runs the group).
pytestmark = pytest.mark.providers

FIXTURES = Path(__file__).parent / "fixtures" / "providers" / "bedrock"
CLAUDE_3 = "anthropic.claude-3-sonnet-20240229-v1:0"
LLAMA_32 = "meta.llama3-2-1b-instruct-v1:0"
NOVA = "amazon.nova-lite-v1:0"
TITAN = "amazon.titan-text-express-v1"
# cassette: (boto3 method, model id, how the answer's text begins)
CASES = {
    "test_anthropic_3_completion_string_content": (
        "invoke_model",
        CLAUDE_3,
        "Why did the distributed trace cross the road? To get to the other service!",
    ),
    "test_anthropic_3_completion_complex_content": (
        "invoke_model",
        CLAUDE_3,
        "Why did the data packet cross the road?",
    ),
    "test_anthropic_3_completion_streaming": (
        "invoke_model_with_response_stream",
        CLAUDE_3,
        "Why did the distributed tracing span cross the road? To get to the other service!",
    ),
    "test_anthropic_converse_stream_with_tool_use": (
        "converse_stream",
        CLAUDE_3,
        "Okay, let me check the weather for Barcelona using the available tool:",
    ),
    "test_anthropic_2_completion": (
        "invoke_model",
        "anthropic.claude-v2:1",
        " Here's a silly joke about opentelemetry:",
    ),
    "test_titan_completion": ("invoke_model", TITAN, ': "Amazon Bedrock es la forma más sencilla'),
    "test_titan_invoke_stream": (
        "invoke_model_with_response_stream",
        TITAN,
        "\nOnce upon a time, a little girl named Emily",
    ),
    "test_nova_completion": ("invoke_model", NOVA, "We set off into the dense forest"),
    "test_nova_invoke_stream": (
        "invoke_model_with_response_stream",
        NOVA,
        "On their first night in the wilderness",
    ),
    "test_meta_llama3_completion": (
        "invoke_model",
        "meta.llama3-70b-instruct-v1:0",
        "\nWhy did the opentelemetry span go to therapy?",
    ),
    "test_meta_converse": ("converse", LLAMA_32, "Why did the OpenTelemetry trace go to therapy?"),
    "test_meta_converse_stream": (
        "converse_stream",
        LLAMA_32,
        "Why did the OpenTelemetry metric go to therapy?",
    ),
    "test_cohere_completion": (
        "invoke_model",
        "cohere.command-text-v14",
        " What does an open-source project say to a cloud provider?",
    ),
    "test_ai21_j2_completion_string_content": (
        "invoke_model",
        "ai21.j2-mid-v1",
        "\n'Amazon Bedrock es la manera más fácil",
    ),
}
OPERATIONS = {
    "invoke_model": "invoke",
    "invoke_model_with_response_stream": "invoke-with-response-stream",
    "converse": "converse",
    "converse_stream": "converse-stream",
}
STREAMED = sorted(name for name, case in CASES.items() if case[0].endswith("stream"))


def recorded(cassette: str) -> RecordedCall:
    (call,) = recorded_calls(FIXTURES / f"{cassette}.yaml")
    return call


def raw_recording(cassette: str) -> dict[str, Any]:
    """The cassette's one interaction, straight from PyYAML (not through the product)."""
    document = yaml.safe_load((FIXTURES / f"{cassette}.yaml").read_text(encoding="utf-8"))
    (interaction,) = document["interactions"]
    request, response = interaction["request"], interaction["response"]
    body = response["body"]["string"]
    return {
        "path": urlsplit(request["uri"]).path,
        "request_body": request["body"],
        "body": body if isinstance(body, bytes) else body.encode("utf-8"),
        "headers": {name: values[0] for name, values in response["headers"].items()},
    }


def test_every_copied_cassette_is_a_case() -> None:
    assert sorted(p.stem for p in FIXTURES.glob("*.yaml")) == sorted(CASES)


@pytest.mark.parametrize("cassette", sorted(CASES))
def test_recording_loads_as_one_bedrock_call(cassette: str) -> None:
    method, model_id, _text = CASES[cassette]
    raw = raw_recording(cassette)
    call = recorded(cassette)
    assert (call.provider, call.method, call.model_id) == ("bedrock", method, model_id)
    assert call.path == raw["path"] == f"/model/{quote(model_id, safe='')}/{OPERATIONS[method]}"
    assert call.request_body == raw["request_body"]
    assert call.request == json.loads(raw["request_body"])
    assert call.body == raw["body"]
    assert call.request_id == raw["headers"]["x-amzn-RequestId"] != ""
    assert call.header("X-AMZN-REQUESTID") == call.request_id
    served = dict(call.headers)
    assert not {"Content-Type", "Content-Length", "Transfer-Encoding", "Connection"} & set(served)
    for name in ("Input-Token-Count", "Output-Token-Count", "Invocation-Latency"):
        name = f"X-Amzn-Bedrock-{name}"
        assert served.get(name) == raw["headers"].get(name)
    if method.endswith("stream"):
        assert call.streamed and call.content_type == "application/vnd.amazon.eventstream"
        assert call.event_stream == raw["body"] and call.answer() is None and call.events() == []
    else:
        assert not call.streamed and call.content_type == "application/json"
        assert call.event_stream == b"" and call.answer() == json.loads(raw["body"])


@pytest.mark.parametrize("cassette", sorted(CASES))
def test_boto3_sees_the_recorded_answer(cassette: str) -> None:
    method, model_id, text = CASES[cassette]
    raw = raw_recording(cassette)
    call = recorded(cassette)
    expected = answered(call)
    with LlmReplay([call]) as replay:
        seen = call_bedrock(bedrock_client(replay), call)
        ((path, sent),) = replay.received  # one attempt, nothing else
        (sent_bytes,) = replay.received_bodies
    # the app's answer is Bedrock's, to the last member botocore knows
    assert seen.answer == modelled(call, expected.answer)
    assert seen.text == expected.text and seen.text.startswith(text)
    assert seen.request_id == expected.request_id == raw["headers"]["x-amzn-RequestId"]
    assert expected.headers.items() <= seen.headers.items()
    if method == "invoke_model":
        assert seen.raw == raw["body"]
        assert (
            seen.headers["x-amzn-bedrock-input-token-count"]
            == (raw["headers"]["X-Amzn-Bedrock-Input-Token-Count"])
        )
    else:
        assert seen.headers["content-type"] == raw["headers"]["Content-Type"]
    # the replay received the recorded request, on the recorded (encoded) path
    assert path == raw["path"] and unquote(path) == f"/model/{model_id}/{OPERATIONS[method]}"
    assert sent == json.loads(raw["request_body"])
    if method.startswith("invoke"):  # boto3 sends an invoke body as given
        assert sent_bytes == raw["request_body"].encode("utf-8")


@pytest.mark.parametrize("cassette", STREAMED)
def test_event_stream_is_served_byte_exact_on_either_path_spelling(cassette: str) -> None:
    raw = raw_recording(cassette)
    call = recorded(cassette)
    with LlmReplay([call, call]) as replay:
        for path in (raw["path"], unquote(raw["path"])):  # %3A, then ":"
            request = urllib.request.Request(
                replay.url + path, data=call.request_body.encode(), method="POST"
            )
            with urllib.request.urlopen(request, timeout=10) as answer:
                assert answer.read() == raw["body"]
                assert answer.headers["Content-Type"] == "application/vnd.amazon.eventstream"
                assert answer.headers["x-amzn-RequestId"] == raw["headers"]["x-amzn-RequestId"]
    # whole frames, end to end, each CRC-checked by botocore's parser, one per event
    offset, count = 0, 0
    while offset < len(raw["body"]):
        offset += int.from_bytes(raw["body"][offset : offset + 4], "big")  # total length
        count += 1
    assert offset == len(raw["body"])
    assert count == len(frames(raw["body"])) == len(answered(call).answer)


def test_converse_stream_tool_use_is_replayed() -> None:
    call = recorded("test_anthropic_converse_stream_with_tool_use")
    with LlmReplay([call]) as replay:
        events = call_bedrock(bedrock_client(replay), call).answer
    starts = [e["contentBlockStart"]["start"] for e in events if "contentBlockStart" in e]
    assert starts == [
        {"toolUse": {"name": "get_weather", "toolUseId": "tooluse_yypYDr71TwCwByoyao4-Vg"}}
    ]
    pieces = [
        e["contentBlockDelta"]["delta"]["toolUse"]["input"]
        for e in events
        if "toolUse" in e.get("contentBlockDelta", {}).get("delta", {})
    ]
    assert json.loads("".join(pieces)) == {"location": "Barcelona"}
    assert events[-2] == {"messageStop": {"stopReason": "tool_use"}}
    assert events[-1]["metadata"]["usage"]["totalTokens"] == 294


def test_a_failed_call_is_made_once() -> None:
    call = recorded("test_meta_converse")
    with LlmReplay([call]) as replay:
        client = bedrock_client(replay)
        replay.fail_next(500)
        with pytest.raises(ClientError) as failed:
            call_bedrock(client, call)
        assert failed.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
        assert len(replay.received) == 1  # no retry
        assert call_bedrock(client, call).text == answered(call).text  # still queued
