"""Offline unless configured: the plumbing shared by the examples (not code to copy).

``standins()`` yields where to send things. With nothing configured it starts, in this
process, the simulated Assistants API (or, given ``recorded=`` cassette names, a replay of
recorded OpenAI, Anthropic, Gemini or Bedrock calls) and a Reconify-compatible sink
(127.0.0.1, no keys, no network). Environment variables switch each side to the real
service:

* OpenAI: ``OPENAI_API_KEY`` (and ``OPENAI_BASE_URL``, default ``https://api.openai.com/v1``).
* Anthropic: ``ANTHROPIC_API_KEY`` (and ``ANTHROPIC_BASE_URL``, default
  ``https://api.anthropic.com``).
* Gemini: ``GOOGLE_API_KEY`` or ``GEMINI_API_KEY`` (the first wins, as in ``google-genai``;
  and ``GOOGLE_GEMINI_BASE_URL``, default ``https://generativelanguage.googleapis.com/``).
* Bedrock: ``BEDROCK_LIVE=1``; boto3 then finds the credentials, region and endpoint
  itself (its default chain), so the base URL and key yielded are "".
* Reconify: ``RECONIFY_APP_KEY`` and ``RECONIFY_API_KEY`` (and ``RECONIFY_ENDPOINT``,
  default ``https://track.reconify.com/track``).

``report()`` prints what the sink received (keys masked) and, as the last stdout line,
``RESULT {json}`` for ``tests/test_examples.py``; offline it exits 1 unless the sink got
exactly one payload per run.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any, NamedTuple

from openai import OpenAI
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from reconify_otel_testing.assistants_api import SimulatedAssistantsAPI

from reconify_otel.core.encoding import masked
from reconify_otel.offline.loopback import LoopbackHandler, LoopbackServer
from reconify_otel.offline.replay import LlmReplay, recorded_calls
from reconify_otel.offline.sink import ReconifySink
from reconify_otel.settings import DEFAULT_ENDPOINT

OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"
# provider -> (variables that switch it live, the first set being the key; base URL
# variable; default base URL). Bedrock's switch is no key: boto3 finds its own.
PROVIDERS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "openai": (("OPENAI_API_KEY",), "OPENAI_BASE_URL", OPENAI_DEFAULT_BASE_URL),
    "anthropic": (("ANTHROPIC_API_KEY",), "ANTHROPIC_BASE_URL", "https://api.anthropic.com"),
    "google": (
        ("GOOGLE_API_KEY", "GEMINI_API_KEY"),
        "GOOGLE_GEMINI_BASE_URL",
        "https://generativelanguage.googleapis.com/",
    ),
    "bedrock": (("BEDROCK_LIVE",), "", ""),
}
OTLP_DEFAULT_ENDPOINT = "http://localhost:4318/v1/traces"  # Jaeger's OTLP/HTTP port
OFFLINE_PROVIDER_KEY = "sk-offline-not-a-real-key"
OFFLINE_APP_KEY = "offline-app-key"
OFFLINE_API_KEY = "offline-api-key"


class Endpoints(NamedTuple):
    base_url: str  # the provider's ("" for Bedrock live: boto3's own endpoint)
    provider_key: str  # its API key ("" for Bedrock live: boto3's credential chain)
    reconify_endpoint: str
    app_key: str
    api_key: str
    sink: ReconifySink | None  # None when sending to the real Reconify


# The assistant the examples create when OPENAI_ASSISTANT_ID names none of yours.
STORE_ASSISTANT: dict[str, Any] = {
    "name": "Store Helper",
    "model": "gpt-4o-mini",
    "instructions": "Answer store questions.",
}


def assistant_id(client: OpenAI) -> str:
    """``OPENAI_ASSISTANT_ID`` when you go live with your own assistant, else a new one."""
    return (
        os.environ.get("OPENAI_ASSISTANT_ID") or client.beta.assistants.create(**STORE_ASSISTANT).id
    )


def store_reply(question: str) -> str:
    """The simulated assistant's answers."""
    if "Saturday" in question:
        return "Yes, on Saturdays we open from 10:00am to 2:00pm."
    if "return" in question.lower():
        return "You can return any item within 30 days with its receipt."
    return "Our store is open Monday through Friday from 9:00am to 5:00pm."


@contextmanager
def standins(recorded: tuple[str, ...] = (), provider: str = "openai") -> Iterator[Endpoints]:
    """The real endpoints when configured, else loopback stand-ins for as long as the block.

    ``recorded``: cassettes (``reconify_otel.offline.replay``) whose first call each the
    example makes, in this order; offline they are answered as recorded. ``provider``: a
    key of ``PROVIDERS``, whose variables switch the provider's side live.
    """
    live_variables, url_variable, default_url = PROVIDERS[provider]
    live = next((os.environ[name] for name in live_variables if os.environ.get(name)), "")
    with ExitStack() as stack:
        if live:
            base_url = (os.environ.get(url_variable) or default_url) if url_variable else ""
            provider_key = live if provider != "bedrock" else ""
        elif recorded:
            replay = LlmReplay([recorded_calls(name)[0] for name in recorded])
            stack.enter_context(replay)
            # The other SDKs add their API version (/v1, /v1beta) themselves, and boto3's
            # endpoint_url is the bare host.
            base_url = replay.base_url if provider == "openai" else replay.url
            provider_key = OFFLINE_PROVIDER_KEY
        else:
            api = stack.enter_context(SimulatedAssistantsAPI(reply=store_reply))
            base_url, provider_key = api.base_url, OFFLINE_PROVIDER_KEY
        app_key = os.environ.get("RECONIFY_APP_KEY")
        api_key = os.environ.get("RECONIFY_API_KEY")
        if app_key or api_key:
            if not (app_key and api_key):
                sys.exit("set both RECONIFY_APP_KEY and RECONIFY_API_KEY (or neither)")
            endpoint = os.environ.get("RECONIFY_ENDPOINT") or DEFAULT_ENDPOINT
            yield Endpoints(base_url, provider_key, endpoint, app_key, api_key, None)
        else:
            sink = stack.enter_context(ReconifySink())
            # Undelivered payloads are spooled per user (~/.cache/reconify-otel); a run
            # against the stand-in must neither leave files there nor resend real ones.
            spool_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="reconify-"))
            stack.enter_context(_environ("RECONIFY_SPOOL_DIR", spool_dir))
            yield Endpoints(
                base_url, provider_key, f"{sink.url}/track", OFFLINE_APP_KEY, OFFLINE_API_KEY, sink
            )


@contextmanager
def _environ(name: str, value: str) -> Iterator[None]:
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


class _OTLPHandler(LoopbackHandler):
    def do_POST(self) -> None:
        body = self.read_body()
        if self.path_only == "/v1/traces":
            receiver = self.owner
            assert isinstance(receiver, OTLPReceiver)
            receiver.note(body)
            self.send_whole(200, b"", content_type="application/x-protobuf")
        else:
            self.send_whole(404)


class OTLPReceiver(LoopbackServer):
    """Stands in for Jaeger: answers 200 to ``POST /v1/traces``, counts requests and spans."""

    handler_class = _OTLPHandler

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self.requests = 0
        self.span_names: list[str] = []

    def note(self, body: bytes) -> None:
        request = ExportTraceServiceRequest.FromString(body)
        names = [
            span.name
            for resource_spans in request.resource_spans
            for scope_spans in resource_spans.scope_spans
            for span in scope_spans.spans
        ]
        with self._lock:
            self.requests += 1
            self.span_names.extend(names)


@contextmanager
def otlp_endpoint(offline: bool) -> Iterator[tuple[str, OTLPReceiver | None]]:
    """``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``; else a loopback receiver offline, else Jaeger's."""
    configured = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    if configured or not offline:
        yield configured or OTLP_DEFAULT_ENDPOINT, None
        return
    with OTLPReceiver() as receiver:
        assert isinstance(receiver, OTLPReceiver)
        yield f"{receiver.url}/v1/traces", receiver


def _text(message: Any) -> str | None:
    """The text of an Assistants message, or of an LLM call's last message / first answer."""
    if not isinstance(message, dict):
        return None
    if message.get("messages"):  # a chat request (OpenAI, Anthropic, Bedrock's Converse)
        message = message["messages"][-1]
    elif message.get("contents"):  # a Gemini request
        message = message["contents"][-1]
    elif message.get("choices"):  # a chat or text completion
        choice = message["choices"][0]
        return choice.get("text") or (choice.get("message") or {}).get("content")
    elif message.get("candidates"):  # a Gemini answer
        message = message["candidates"][0].get("content") or {}
    elif isinstance(message.get("body"), dict):  # a Bedrock answer, in Converse's form
        message = (message["body"].get("output") or {}).get("message") or {}
    content = message.get("content", message.get("parts"))
    if isinstance(content, str):
        return content
    parts = [  # Anthropic's text blocks, Converse's and Gemini's text parts (not thoughts)
        block["text"]["value"] if isinstance(block["text"], dict) else block["text"]
        for block in content or []
        if block.get("type", "text") == "text" and "text" in block and not block.get("thought")
    ]
    return " ".join(parts) if parts else None


def _answer_id(response: Any) -> str | None:
    """The answer's id: OpenAI's and Anthropic's, Bedrock's request id, Gemini's."""
    if not isinstance(response, dict):
        return None
    return response.get("id") or response.get("requestId") or response.get("responseId")


def report(
    sink: ReconifySink | None, runs: int, what: str = "assistant runs", **facts: Any
) -> None:
    """Print what the sink received, then ``RESULT {json}``; exit 1 offline on a wrong count.

    ``runs``: how many interactions the example made (``what``: runs or LLM calls).
    """
    result: dict[str, Any] = {
        "runs": runs,
        "tracer_provider": type(trace.get_tracer_provider()).__name__,
        **facts,
    }
    if sink is None:
        print(f"{runs} {what} exported to the configured Reconify endpoint")
        result["payloads"] = None
        print("RESULT " + json.dumps(result, sort_keys=True))
        return
    sink.wait_for(runs, timeout=5)
    # In the order the runs started (payloads of one export arrive concurrently).
    payloads = sorted(sink.payloads, key=lambda p: (p.get("timestamps") or {}).get("request") or 0)
    for number, payload in enumerate(payloads, 1):
        print(f"--- payload {number} received by the Reconify sink (keys masked) ---")
        print(masked(payload))
    result.update(
        payloads=len(payloads),
        sessions=[p.get("session") for p in payloads],
        users=[p.get("user") for p in payloads],
        request_texts=[_text(p.get("request")) for p in payloads],
        response_ids=[_answer_id(p.get("response")) for p in payloads],
        response_texts=[_text(p.get("response")) for p in payloads],
        app_keys=sorted({str(p["reconify"].get("appKey")) for p in payloads}),
        kinds=[f"{p['reconify'].get('format')}/{p['reconify'].get('type')}" for p in payloads],
    )
    print(f"{runs} {what}, {len(payloads)} Reconify payloads received")
    print("RESULT " + json.dumps(result, sort_keys=True))
    if len(payloads) != runs:
        sys.exit(1)


def console_span_names(output: str) -> list[str]:
    """Span names in the console exporter's output (its JSON puts them at indent 4)."""
    return re.findall(r'^ {4}"name": "([^"]*)",$', output, flags=re.MULTILINE)
