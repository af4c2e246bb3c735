"""Recorded OpenAI, Anthropic, Cohere, Gemini and Bedrock traffic served on 127.0.0.1 to
the real SDKs.

Every ``POST`` of a cassette is one call: its recorded JSON body *is* the call's keyword
arguments, and its recorded answer (JSON or server-sent events) is served back. Several
POSTs to one path are answered in recorded order, one each, so a test drives the real
``openai``/``anthropic`` client with ``create(**recorded_request)`` and sees exactly what
the provider sent.

Amazon Bedrock Runtime names the model in the path (``/model/{modelId}/invoke``, with
the id URL-encoded, so paths are compared decoded). An ``invoke`` call's recorded body is
the boto3 ``body`` argument as is (``request_body``); a ``converse`` call's JSON body is
its keyword arguments. The recorded answer headers (``x-amzn-RequestId``, the
``X-Amzn-Bedrock-*`` token counts and latency) are served with the answer, and streamed
answers are the recorded ``application/vnd.amazon.eventstream`` frames, byte for byte.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict, deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from reconify_otel.offline import LLM_RECORDINGS
from reconify_otel.offline.cassette import load_cassette
from reconify_otel.offline.loopback import LoopbackHandler, LoopbackServer

# Which SDK method a recorded path belongs to (the path after the API version prefix).
CALLS = {
    "/v1/chat/completions": ("openai", "chat.completions.create"),
    "/v1/completions": ("openai", "completions.create"),
    "/v1/responses": ("openai", "responses.create"),
    "/v1/messages": ("anthropic", "messages.create"),
    "/v1/chat": ("cohere", "chat"),
    "/v2/chat": ("cohere", "v2.chat"),
}

# Bedrock Runtime's operations: the last path segment after ``/model/{modelId}``.
BEDROCK_CALLS = {
    "invoke": "invoke_model",
    "invoke-with-response-stream": "invoke_model_with_response_stream",
    "converse": "converse",
    "converse-stream": "converse_stream",
}
EVENT_STREAM = "application/vnd.amazon.eventstream"
# Set by the replay itself (or meaningless once the body is whole and uncompressed).
_FRAMING = {
    "content-type",
    "content-length",
    "content-encoding",
    "transfer-encoding",
    "connection",
    "keep-alive",
}


@dataclass(frozen=True)
class RecordedCall:
    """One recorded call: the keyword arguments it was made with, and the answer."""

    cassette: str
    index: int  # the call's position among the cassette's calls
    provider: str  # "openai" | "anthropic" | "cohere" | "google" | "bedrock"
    method: str  # e.g. "chat.completions.create", "invoke_model"
    path: str  # as recorded (Bedrock's model id URL-encoded)
    request: dict[str, Any]
    status: int
    body: bytes
    content_type: str
    model_id: str = ""  # Bedrock: the model id of the path, decoded
    request_body: str = ""  # the request body exactly as recorded
    # Answer headers served besides Content-Type and Content-Length (Bedrock's, as recorded)
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def streamed(self) -> bool:
        if self.provider == "bedrock":
            return self.method in ("invoke_model_with_response_stream", "converse_stream")
        return bool(self.request.get("stream"))

    @property
    def event_stream(self) -> bytes:
        """The recorded ``application/vnd.amazon.eventstream`` frames (b"" for others)."""
        return self.body if self.content_type.startswith(EVENT_STREAM) else b""

    @property
    def request_id(self) -> str:
        """The recorded ``x-amzn-RequestId`` answer header ("" when not recorded)."""
        return self.header("x-amzn-RequestId")

    def header(self, name: str) -> str:
        """The first recorded answer header called ``name`` (any case), or ""."""
        return next((v for k, v in self.headers if k.lower() == name.lower()), "")

    def answer(self) -> dict[str, Any] | None:
        """The recorded JSON answer (None for a streamed one)."""
        if self.streamed or "json" not in self.content_type:
            return None
        value = json.loads(self.body)
        return value if isinstance(value, dict) else None

    def events(self) -> list[dict[str, Any]]:
        """The JSON ``data:`` events of a streamed answer, in order ([] for event-stream
        frames: those are ``event_stream``)."""
        found: list[dict[str, Any]] = []
        if self.event_stream:
            return found
        for line in self.body.decode("utf-8").splitlines():
            if line.startswith("data:"):
                data = line[5:].strip()
                if data and data != "[DONE]":
                    found.append(json.loads(data))
        return found


def _call_of(path: str) -> tuple[str, str]:
    """(provider, SDK method) of a recorded path; Gemini's name the model in the path."""
    if path.startswith("/v1beta/models/") and path.endswith(":generateContent"):
        return "google", "models.generate_content"
    if _bedrock_model(path):
        return "bedrock", BEDROCK_CALLS[unquote(path).rpartition("/")[2]]
    return CALLS.get(path, ("", ""))


def _bedrock_model(path: str) -> str:
    """The decoded model id of a Bedrock Runtime path, or "" for any other path."""
    decoded = unquote(path)
    if not decoded.startswith("/model/"):
        return ""
    model, _, operation = decoded[len("/model/") :].rpartition("/")
    return model if operation in BEDROCK_CALLS else ""


def _served_headers(
    provider: str, recorded: tuple[tuple[str, str], ...]
) -> tuple[tuple[str, str], ...]:
    """Bedrock's recorded answer headers, minus framing; none for the other providers."""
    if provider != "bedrock":
        return ()
    return tuple((k, v) for k, v in recorded if k.lower() not in _FRAMING)


def recorded_calls(cassette: str | Path) -> list[RecordedCall]:
    """The 2xx POSTs of a cassette (a name in ``recordings/llm`` or a path), in order."""
    path = Path(cassette)
    if not path.suffix:
        path = LLM_RECORDINGS / f"{cassette}.yaml"
    calls: list[RecordedCall] = []
    for interaction in load_cassette(path):
        if interaction.method != "POST" or not 200 <= interaction.status < 300:
            continue
        provider, method = _call_of(interaction.path)
        if not provider:
            continue
        calls.append(
            RecordedCall(
                cassette=path.stem,
                index=len(calls),
                provider=provider,
                method=method,
                path=interaction.path,
                request=json.loads(interaction.request_body),
                status=interaction.status,
                body=interaction.body,
                content_type=interaction.content_type,
                model_id=_bedrock_model(interaction.path),
                request_body=interaction.request_body,
                headers=_served_headers(provider, interaction.headers),
            )
        )
    return calls


def llm_cassettes() -> list[str]:
    """The names of every recorded LLM cassette."""
    return sorted(path.stem for path in LLM_RECORDINGS.glob("*.yaml"))


class _ReplayHandler(LoopbackHandler):
    def do_POST(self) -> None:
        owner: LlmReplay = self.owner  # type: ignore[assignment]
        body = self.read_body()
        answer = owner.next_answer(self.path_only, body)
        if answer is None:
            self.send_whole(404, b'{"error": {"message": "no recorded answer left"}}')
            return
        headers = dict(answer.headers)
        self.send_whole(answer.status, answer.body, answer.content_type, headers)


class LlmReplay(LoopbackServer):
    """Serves recorded calls, per path in recorded order; ``fail_next`` answers an error.

    ``base_url`` is what the SDK client takes (``/v1`` for OpenAI; the Anthropic client
    adds ``/v1`` itself, so it takes ``url``, as does boto3's ``endpoint_url``). Paths
    are matched URL-decoded. ``received`` holds each request's path as sent and its JSON
    body; ``received_bodies`` the bodies' exact bytes.
    """

    handler_class = _ReplayHandler

    def __init__(self, calls: list[RecordedCall] | None = None, port: int = 0) -> None:
        super().__init__(port)
        self._lock = threading.Lock()
        self._queues: dict[str, deque[RecordedCall]] = defaultdict(deque)
        self._failures: deque[int] = deque()
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.received_bodies: list[bytes] = []
        for call in calls or ():
            self.add(call)

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def add(self, call: RecordedCall) -> None:
        with self._lock:
            self._queues[unquote(call.path)].append(call)

    def fail_next(self, status: int = 500) -> None:
        """The next call, whatever its path, is answered with ``status`` and an error body."""
        with self._lock:
            self._failures.append(status)

    def next_answer(self, path: str, body: bytes) -> RecordedCall | _Failure | None:
        try:
            request = json.loads(body) if body else {}
        except ValueError:
            request = {}
        with self._lock:
            self.received.append((path, request if isinstance(request, dict) else {}))
            self.received_bodies.append(body)
            if self._failures:
                return _Failure(self._failures.popleft())
            queue = self._queues.get(unquote(path))
            if not queue:
                return None
            return queue.popleft()


@dataclass(frozen=True)
class _Failure:
    status: int
    body: bytes = b'{"error": {"message": "failure asked for by the test", "type": "server_error"}}'
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
