"""The options around LLM calls, end to end (real SDKs and instrumentations, the loopback
replay, a real sink): message content switched off by each convention's own switch or by
the exporter's ``capture_content=False``, ``RECONIFY_INTERACTIONS``, and users and
sessions (``session``/``user`` blocks with ``IdentitySpanProcessor``, process defaults, a
Responses ``conversation``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import reconify_otel
from reconify_otel import ReconifySpanExporter
from reconify_otel.offline.replay import LlmReplay, RecordedCall, recorded_calls
from reconify_otel.offline.sink import ReconifySink

from .helpers import API_KEY, APP_KEY
from .llm_expectations import check_call
from .llm_recordings import exchanges
from .llm_replay import (
    CONVENTIONS,
    Pipeline,
    all_calls,
    instrumented,
    make_call,
    make_calls,
    replay_all,
)

COVERED = [
    (tag, call) for tag in CONVENTIONS for call in all_calls() if CONVENTIONS[tag].covers(call)
]


@pytest.mark.parametrize("tag", list(CONVENTIONS))
def test_content_off_by_the_conventions_switch(tag: str) -> None:
    """traceloop ``TRACELOOP_TRACE_CONTENT=false``, openai-v2 without its capture variable,
    OpenInference ``TraceConfig(hide_inputs, hide_outputs)``: texts null; ids (where the
    convention still records them), model, parameters and usage as recorded. (The
    exporter's own ``capture_content=False``: tests/test_llm_end_to_end.py.)"""
    replayed = replay_all(tag, through_bridge=False, content=False)
    calls = [call for t, call in COVERED if t == tag]
    assert len(replayed.outcomes) == len(calls)
    for call in calls:
        (payload,) = replayed.outcomes[(call.cassette, call.index)].in_process
        kind = (payload["reconify"]["format"], payload["reconify"]["type"])
        exchange = exchanges(call.cassette)[call.index]
        response = payload["response"]
        nocontent = f"{tag}-nocontent"
        check_call(payload["request"], response, response["id"], kind, nocontent, False, exchange)
    assert replayed.stats["accepted"] == len(calls)


# --- RECONIFY_INTERACTIONS -------------------------------------------------------------


def _every_call_once(**interactions: Any) -> tuple[Any, Any]:
    """Every recorded call under traceloop-openai and OpenInference-Anthropic."""
    calls = all_calls()
    with ReconifySink() as sink, Pipeline(sink, **interactions) as pipeline:
        tags = ("traceloop-openai-0.62.4", "openinference-anthropic-3.1.0")
        with instrumented(pipeline.provider, *tags), LlmReplay(list(calls)) as replay:
            make_calls(calls, replay)
        pipeline.flush()
        assert len(pipeline.memory.get_finished_spans()) == len(calls)
        return sink.payloads, pipeline.exporter.stats()


def test_interactions_assistant_sends_no_llm_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECONIFY_INTERACTIONS", "assistant")
    payloads, stats = _every_call_once()
    assert payloads == []
    assert {k: v for k, v in stats.items() if v} == {}


@pytest.mark.parametrize(
    ("variable", "argument"), [("chat", None), ("assistant", frozenset({"chat"}))]
)
def test_interactions_chat_sends_only_openai_chat(
    monkeypatch: pytest.MonkeyPatch, variable: str, argument: frozenset[str] | None
) -> None:
    """From ``RECONIFY_INTERACTIONS``, or from the argument, which beats the variable."""
    monkeypatch.setenv("RECONIFY_INTERACTIONS", variable)
    payloads, stats = _every_call_once(interactions=argument)
    chats = [c for c in all_calls() if c.method == "chat.completions.create"]
    assert [p["response"]["id"] for p in payloads] == [
        exchanges(c.cassette)[c.index]["answer"]["id"] for c in chats
    ]
    assert {(p["reconify"]["format"], p["reconify"]["type"]) for p in payloads} == {
        ("openai", "chat")
    }
    assert {k: v for k, v in stats.items() if v} == {"accepted": len(chats)}


def test_unknown_interactions_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECONIFY_INTERACTIONS", "bogus")
    with pytest.raises(ValueError) as raised:
        ReconifySpanExporter("http://127.0.0.1:9/track", APP_KEY, API_KEY)
    assert str(raised.value) == (
        "interactions (or RECONIFY_INTERACTIONS) takes 'all' or kinds from "
        "['anthropic', 'assistant', 'bedrock', 'chat', 'cohere', 'completion', 'gemini', "
        "'mistral', 'responses', 'universal']; "
        "1 unknown"
    )


# --- users and sessions ------------------------------------------------------------------

FIRST = {
    "openai": recorded_calls("openai__test_chat__test_chat")[0],
    "anthropic": recorded_calls("anthropic__test_messages__test_anthropic_message_create_legacy")[
        0
    ],
}
USER = {"userId": "u-1", "email": "jane@example.com", "firstName": "Jane", "isAuthenticated": 1}


@pytest.fixture
def no_process_defaults() -> Iterator[None]:
    yield
    reconify_otel.set_session(None)
    reconify_otel.set_user(None)
    reconify_otel.set_session_timeout(None)


def _one_call(tag: str, call: RecordedCall, **extra: Any) -> dict[str, Any]:
    with ReconifySink() as sink, Pipeline(sink, identity=True) as pipeline:
        with instrumented(pipeline.provider, tag), LlmReplay([call]) as replay:
            make_call(call, replay, **extra)
        pipeline.flush()
        (payload,) = sink.payloads
        return payload


@pytest.mark.parametrize("tag", list(CONVENTIONS))
def test_session_and_user_blocks_reach_the_payload(tag: str, no_process_defaults: None) -> None:
    call = FIRST["anthropic" if "anthropic" in tag else "openai"]
    with reconify_otel.session("s-1", timeout_minutes=15), reconify_otel.user(USER):
        inside = _one_call(tag, call)
    assert (inside["session"], inside["sessionTimeout"], inside["user"]) == ("s-1", 15, USER)
    reconify_otel.set_session("process-session")
    reconify_otel.set_user({"userId": "u-default"})
    reconify_otel.set_session_timeout(30)
    defaults = _one_call(tag, call)
    assert (defaults["session"], defaults["sessionTimeout"], defaults["user"]) == (
        "process-session",
        30,
        {"userId": "u-default"},
    )


RESPONSES = recorded_calls("openai__test_responses__test_responses")[0]


@pytest.mark.parametrize(
    ("tag", "session"),
    [
        ("openinference-openai-0.1.66", "conv_e2e_1"),
        ("traceloop-openai-0.62.4", None),  # traceloop does not record `conversation`
    ],
)
def test_a_responses_conversation_is_the_default_session(
    tag: str, session: str | None, no_process_defaults: None
) -> None:
    payload = _one_call(tag, RESPONSES, conversation="conv_e2e_1")
    assert payload["session"] == session
    assert payload["response"]["id"] == exchanges(RESPONSES.cassette)[0]["answer"]["id"]
    with reconify_otel.session("s-block"):
        assert _one_call(tag, RESPONSES, conversation="conv_e2e_1")["session"] == "s-block"
