"""Amazon Bedrock calls for the tests: the real boto3 ``bedrock-runtime`` client pointed at
the loopback replay, each call made exactly as recorded, and what the provider answered
read from the recording alone.

The recorded streams are ``application/vnd.amazon.eventstream`` frames; botocore's own
parser (``EventStreamBuffer``, which checks each frame's CRCs) decodes them here, in the
tests, since the product never imports botocore.
"""

from __future__ import annotations

import base64
import functools
import json
import os
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.eventstream import EventStreamBuffer
from botocore.model import ServiceModel, Shape

from reconify_otel.offline.replay import LlmReplay, RecordedCall

# Bedrock pads each event-stream payload with a random-length "p" member (it hides the
# tokens' lengths); botocore drops it, as it is in no shape.
PADDING = "p"


@dataclass(frozen=True)
class BedrockAnswer:
    """One Bedrock answer as the app sees it.

    ``answer``: ``invoke_model``'s JSON body; the decoded JSON chunks of
    ``invoke_model_with_response_stream``; ``converse``'s output (no
    ``ResponseMetadata``); the events of ``converse_stream`` (``{"messageStart": ...}``).
    ``text`` is the answer's text joined, ``raw`` an ``invoke_model`` body's exact bytes
    (b"" for the others), ``headers`` the answer's headers (names in lower case).
    """

    answer: Any
    text: str
    request_id: str
    raw: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def _isolated_session() -> botocore.session.Session:
    """A botocore session that reads no AWS config or credentials file and no profile."""
    # (name in the config file, environment variables, default, conversion): none read
    unread = {
        "profile": (None, None, None, None),
        "config_file": (None, None, os.devnull, None),
        "credentials_file": (None, None, os.devnull, None),
    }
    session = botocore.session.Session(session_vars=unread)
    session.set_config_variable("defaults_mode", "legacy")
    return session


def bedrock_client(replay: LlmReplay) -> Any:
    """A real ``bedrock-runtime`` client talking to ``replay`` only.

    Nothing of the machine's AWS set-up is read: explicit fake credentials, no config or
    credentials file, no profile, no proxy, no FIPS or dual-stack endpoint, and a single
    attempt per call (botocore's ``max_attempts`` counts *retries*, so one attempt is
    ``total_max_attempts=1``).
    """
    return boto3.session.Session(botocore_session=_isolated_session()).client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=replay.url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        aws_session_token=None,
        config=Config(
            retries={"total_max_attempts": 1, "mode": "standard"},
            proxies={},
            use_fips_endpoint=False,
            use_dualstack_endpoint=False,
            connect_timeout=5,
            read_timeout=30,
        ),
    )


def call_bedrock(client: Any, call: RecordedCall) -> BedrockAnswer:
    """Make ``call`` with boto3 exactly as recorded, read it to the end, and return what
    the app saw."""
    raw = b""
    if call.method in ("invoke_model", "invoke_model_with_response_stream"):
        made = getattr(client, call.method)(
            modelId=call.model_id,
            body=call.request_body,
            contentType="application/json",
            accept="application/json",
        )
        if call.method == "invoke_model":
            raw = made["body"].read()
            answer: Any = json.loads(raw)
        else:
            answer = [json.loads(event["chunk"]["bytes"]) for event in made["body"]]
    elif call.method == "converse":
        made = client.converse(modelId=call.model_id, **json.loads(call.request_body))
        answer = {k: v for k, v in made.items() if k != "ResponseMetadata"}
    elif call.method == "converse_stream":
        made = client.converse_stream(modelId=call.model_id, **json.loads(call.request_body))
        answer = list(made["stream"])
    else:
        raise ValueError(f"not a Bedrock call: {call.method}")
    metadata = made["ResponseMetadata"]
    return BedrockAnswer(
        answer=answer,
        text=answer_text(answer),
        request_id=metadata["RequestId"],
        raw=raw,
        headers=dict(metadata["HTTPHeaders"]),
    )


def answered(call: RecordedCall) -> BedrockAnswer:
    """What Bedrock answered, from the recording alone, as the app would see it."""
    if call.method == "invoke_model_with_response_stream":
        answer: Any = [json.loads(base64.b64decode(payload["bytes"])) for payload in _chunks(call)]
    elif call.method == "converse_stream":
        answer = [
            {kind: {k: v for k, v in payload.items() if k != PADDING}}
            for kind, payload in frames(call.event_stream)
        ]
    else:
        answer = json.loads(call.body)
    return BedrockAnswer(
        answer=answer,
        text=answer_text(answer),
        request_id=call.request_id,
        raw=call.body if call.method == "invoke_model" else b"",
        headers={name.lower(): value for name, value in call.headers},
    )


@functools.cache
def _service_model() -> ServiceModel:
    model: ServiceModel = _isolated_session().get_service_model("bedrock-runtime")
    return model


def modelled(call: RecordedCall, answer: Any) -> Any:
    """``answer`` (``answered(call).answer``) without the members the installed botocore's
    model of Bedrock Runtime lacks: botocore drops those when it parses a Converse answer
    (e.g. ``serverToolUsage``, newer than botocore 1.44's model). Invoke bodies are opaque
    bytes to botocore, so they are kept whole."""
    model = _service_model()
    if call.method == "converse":
        return _pruned(answer, model.operation_model("Converse").output_shape)
    if call.method == "converse_stream":
        output = model.operation_model("ConverseStream").output_shape
        assert output is not None
        events = output.members["stream"]
        return [{k: _pruned(v, events.members[k]) for k, v in event.items()} for event in answer]
    return answer


def _pruned(value: Any, shape: Shape | None) -> Any:
    if shape is None or shape.metadata.get("document"):
        return value
    if shape.type_name == "structure" and isinstance(value, dict):
        members = shape.members
        return {k: _pruned(v, members[k]) for k, v in value.items() if k in members}
    if shape.type_name == "list" and isinstance(value, list):
        return [_pruned(v, shape.member) for v in value]  # type: ignore[attr-defined]
    if shape.type_name == "map" and isinstance(value, dict):
        return {k: _pruned(v, shape.value) for k, v in value.items()}  # type: ignore[attr-defined]
    return value


def frames(data: bytes) -> list[tuple[str, dict[str, Any]]]:
    """The ``(:event-type, JSON payload)`` of each event frame, in order; any other
    message type (an exception frame) fails."""
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    found: list[tuple[str, dict[str, Any]]] = []
    for message in buffer:
        headers = message.headers
        assert headers[":message-type"] == "event", headers
        assert headers[":content-type"] == "application/json", headers
        found.append((str(headers[":event-type"]), json.loads(message.payload)))
    return found


def _chunks(call: RecordedCall) -> list[dict[str, Any]]:
    found = frames(call.event_stream)
    assert {kind for kind, _payload in found} == {"chunk"}, found
    return [payload for _kind, payload in found]


def answer_text(answer: Any) -> str:
    """The text of an answer: each model family's JSON, chunk or converse event."""
    if isinstance(answer, list):
        return "".join(_text_of(part) for part in answer)
    return _text_of(answer)


def _joined(parts: Any, *path: str) -> str:
    texts = []
    for part in parts or ():
        for key in path:
            part = part.get(key) if isinstance(part, dict) else None
        texts.append(part if isinstance(part, str) else "")
    return "".join(texts)


def _text_of(value: dict[str, Any]) -> str:
    if value.get("type") == "message":  # Anthropic Messages
        return _joined(value["content"], "text")
    if value.get("type") == "content_block_delta":  # Anthropic Messages, streamed
        return str(value["delta"].get("text", ""))
    if "completion" in value:  # Anthropic Text Completions (Claude 2)
        return str(value["completion"])
    if "results" in value:  # Titan Text
        return _joined(value["results"], "outputText")
    if "outputText" in value:  # Titan Text, streamed
        return str(value["outputText"])
    if "output" in value:  # Nova, and Converse
        return _joined(value["output"]["message"]["content"], "text")
    if "contentBlockDelta" in value:  # Nova, and Converse, streamed
        return str(value["contentBlockDelta"]["delta"].get("text", ""))
    if "generation" in value:  # Llama
        return str(value["generation"])
    if "generations" in value:  # Cohere Command
        return _joined(value["generations"], "text")
    if "completions" in value:  # AI21 Jurassic-2
        return _joined(value["completions"], "data", "text")
    return ""
