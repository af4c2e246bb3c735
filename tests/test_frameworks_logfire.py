"""Logfire's OpenAI instrumentation (logfire 5.4.0, its default semconv version 2) through
``ReconifySpanExporter``: one payload per model call, selected by the spans' attributes,
never by Logfire's message-template names.

Logfire always builds its own TracerProvider and makes it global, so the scenario runs in
a subprocess (the way in: ``logfire.configure(additional_span_processors=[...])``) that
leaves this test session untouched. The recorded OpenAI answers, the Reconify sinks and
the bridge run here; the subprocess writes the exporter's stats and its spans (times and
attributes) to a file. Expectations come from what the SDK really sent
(``replay.received``) and from the recordings, never from the exporter's output.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import pytest

from reconify_otel.offline.replay import LlmReplay, recorded_calls
from reconify_otel.offline.sink import ReconifySink

from .bridge_helpers import bridges
from .framework_runs import MESSAGES, PLAIN, STREAMED, run_traced_app
from .helpers import API_KEY, APP_KEY
from .llm_recordings import exchanges
from .llm_replay import BRIDGE_LIMITS

pytestmark = pytest.mark.frameworks  # a group of its own (CONTRIBUTING.md)


# Run with ``python -c SCRIPT ARGS_JSON``: one plain call inside a ``logfire.span``, one
# streamed call read to its end, an ordinary OTel span from the global provider.
SCRIPT = r"""
import json, os, sys

import logfire
import openai
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from reconify_otel import ReconifySpanExporter

args = json.loads(sys.argv[1])
memory = InMemorySpanExporter()
exporter = ReconifySpanExporter(
    args["sink"] + "/track", args["app_key"], args["api_key"], concurrency=1, spool=False
)
otlp = OTLPSpanExporter(
    endpoint=args["bridge"] + "/v1/traces", headers={"Authorization": "Bearer " + args["token"]}
)
processors = [SimpleSpanProcessor(memory), BatchSpanProcessor(exporter), BatchSpanProcessor(otlp)]
logfire.configure(
    send_to_logfire=False, console=False, metrics=False, inspect_arguments=False,
    additional_span_processors=processors,
)
client = openai.OpenAI(base_url=args["base_url"], api_key="sk-test-logfire", max_retries=0)
logfire.instrument_openai(client)
with logfire.span("app work {user_id}", user_id=42):
    client.chat.completions.create(model="gpt-3.5-turbo", messages=args["messages"])
stream = client.chat.completions.create(
    model="gpt-3.5-turbo", messages=args["messages"], stream=True
)
for _chunk in stream:
    pass
with trace.get_tracer("app").start_as_current_span("app span"):
    pass
assert logfire.force_flush(10_000)


def plain(value):
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


spans = [
    {
        "name": s.name,
        "start": s.start_time,
        "end": s.end_time,
        "attributes": {k: plain(v) for k, v in (s.attributes or {}).items()},
    }
    for s in memory.get_finished_spans()
]
stats = {k: v for k, v in exporter.stats().items() if v}
with open(args["out"], "w") as out:
    json.dump({"stats": stats, "spans": spans}, out)
sys.stdout.flush()
os._exit(0)  # everything is flushed; no atexit shutdown of Logfire's provider needed
"""


@dataclass
class Run:
    """What the scenario left behind: bodies sent to the replay, the payloads each route
    delivered, the exporter's nonzero counters and the spans as the subprocess saw them."""

    sent: list[dict[str, Any]]
    payloads: list[dict[str, Any]]
    bridged: list[dict[str, Any]]
    stats: dict[str, int]
    spans: list[dict[str, Any]]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """The scenario once per module: a subprocess costs ~2 s (Logfire and OpenAI imports)."""
    assert metadata.version("logfire") == "5.4.0"  # the span shapes are this version's
    calls = [recorded_calls(PLAIN)[0], recorded_calls(STREAMED)[0]]
    work = tmp_path_factory.mktemp("logfire")
    out = work / "out.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "LOGFIRE_"))}
    env.update(LOGFIRE_SEND_TO_LOGFIRE="false", LOGFIRE_CONSOLE="false")
    with (
        ReconifySink() as sink,
        ReconifySink() as bridge_sink,
        bridges(bridge_sink) as start,
        LlmReplay(calls) as replay,
    ):
        url, _app = start(**BRIDGE_LIMITS)
        args = {
            "sink": sink.url,
            "bridge": url,
            "base_url": replay.base_url,
            "messages": MESSAGES,
            "out": str(out),
        }
        # In ``work``: Logfire may write a .logfire folder, not into the project.
        result = run_traced_app(SCRIPT, args, work, env, timeout=90)
        bridge_sink.wait_for(len(sink.payloads), timeout=5)
        yield Run(
            [body for _path, body in replay.received],
            sink.payloads,
            bridge_sink.payloads,
            result["stats"],
            result["spans"],
        )


def answer_of(cassette: str) -> dict[str, Any]:
    """The recorded answer of the cassette's first call (a stream accumulated)."""
    return exchanges(cassette)[0]["answer"]


def payload_with_id(run: Run, response_id: str) -> dict[str, Any]:
    found = [p for p in run.payloads if (p.get("response") or {}).get("id") == response_id]
    assert len(found) == 1, f"{len(found)} payloads answer {response_id}: {run.payloads}"
    return found[0]


def usage_of(answer: dict[str, Any]) -> dict[str, int]:
    keys = ("prompt_tokens", "completion_tokens", "total_tokens")
    return {k: answer["usage"][k] for k in keys if k in answer["usage"]}


def ms(ns: int) -> int:
    return ns // 1_000_000


def test_the_plain_call_is_one_exact_payload(run: Run) -> None:
    """The request span of a non-streamed call holds the request and the answer."""
    assert run.sent[0] == {"model": "gpt-3.5-turbo", "messages": MESSAGES}
    answer = answer_of(PLAIN)
    payload = payload_with_id(run, answer["id"])
    assert payload["request"] == run.sent[0]
    response = payload["response"]
    choice = response["choices"][0]
    assert choice["message"]["content"] == answer["choices"][0]["message"]["content"]
    assert choice["finish_reason"] == "stop"
    assert response["usage"] == usage_of(answer)
    assert response["model"] == answer["model"]


def test_the_streamed_call_is_one_payload_from_its_log_span(run: Run) -> None:
    """Logfire puts a stream's answer on a separate ``log`` span (zero length, with the
    stream's ``duration``); the call started ``duration`` before that log."""
    sent = run.sent[1]
    assert sent == {"model": "gpt-3.5-turbo", "messages": MESSAGES, "stream": True}
    answer = answer_of(STREAMED)
    payload = payload_with_id(run, answer["id"])
    assert payload["request"]["model"] == sent["model"]
    assert payload["request"]["messages"] == sent["messages"]
    response = payload["response"]
    choice = response["choices"][0]
    # Logfire 5.4 writes the stream's role once per chunk ("assistantassistant..."):
    # the answer is the assistant's, whatever the attribute spells.
    assert choice["message"]["role"] == "assistant"
    assert choice["message"]["content"] == answer["choices"][0]["message"]["content"]
    assert choice["finish_reason"] == "stop"
    assert response["usage"] == usage_of(answer)
    (log,) = [s for s in run.spans if "duration" in s["attributes"]]
    assert log["attributes"]["gen_ai.response.id"] == answer["id"]
    end, duration = log["end"], log["attributes"]["duration"]
    started = {
        ms(end - round(duration * 1e9)),
        ms(end - int(duration * 1e9)),
        int(end / 1e6 - duration * 1e3),
    }
    assert payload["timestamps"]["request"] in started, (payload["timestamps"], started)
    assert payload["timestamps"]["response"] == ms(end)


def test_one_payload_per_call_and_the_answerless_request_span_is_counted(run: Run) -> None:
    """Two calls, two payloads; the streamed call's request span (no answer) is counted
    as ``skipped_no_answer``; ``logfire.span`` and a plain OTel span are never sent."""
    ids = sorted(p["response"]["id"] for p in run.payloads)
    assert ids == sorted([answer_of(PLAIN)["id"], answer_of(STREAMED)["id"]])
    assert run.stats == {"accepted": 2, "skipped_no_answer": 1}
    assert len(run.payloads) == 2
    names = [s["name"] for s in run.spans]
    assert "app work {user_id}" in names and "app span" in names  # there, and not sent


def test_the_envelope_is_openai_chat_with_the_call_times_in_ms(run: Run) -> None:
    """Each payload is an OpenAI chat; the plain one carries its request span's times."""
    assert len(run.payloads) == 2
    for payload in run.payloads:
        assert payload["reconify"]["format"] == "openai"
        assert payload["reconify"]["type"] == "chat"
        assert (payload["reconify"]["appKey"], payload["reconify"]["apiKey"]) == (APP_KEY, API_KEY)
        for moment in ("request", "response"):
            assert type(payload["timestamps"][moment]) is int
    plain_id = answer_of(PLAIN)["id"]
    (span,) = [s for s in run.spans if s["attributes"].get("gen_ai.response.id") == plain_id]
    payload = payload_with_id(run, plain_id)
    assert payload["timestamps"] == {"request": ms(span["start"]), "response": ms(span["end"])}


def test_the_bridge_sends_the_same_payloads(run: Run) -> None:
    """The same spans through the real OTLP exporter and the bridge: the same payloads."""
    assert len(run.payloads) == 2

    def key(payload: dict[str, Any]) -> str:
        return json.dumps(payload, sort_keys=True)

    assert sorted(run.bridged, key=key) == sorted(run.payloads, key=key)
