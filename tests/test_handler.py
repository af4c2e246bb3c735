"""The handler API (``reconify_openai_handler``): parity with Reconify's Node module."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openai import OpenAI

import reconify_otel
from reconify_otel import reconify_openai_handler
from reconify_otel.handler.openai_handler import ReconifyHandler
from reconify_otel.offline.assistants import ReplayAssistantsAPI
from reconify_otel.offline.sink import Answer, ReconifySink

from .helpers import API_KEY, APP_KEY, IN, OUT, QUESTION, run_dict

ANSWER = "The solution to the equation \\(3x + 11 = 14\\) is \\(x = 1\\)."


@pytest.fixture
def handler(sink: ReconifySink) -> Iterator[ReconifyHandler]:
    made = reconify_openai_handler(None, app_key=APP_KEY, api_key=API_KEY, endpoint=f"{sink.url}/t")
    yield made
    made.close(timeout=2)
    reconify_otel.set_user(None)
    reconify_otel.set_session(None)
    reconify_otel.set_session_timeout(None)


def documented_polling_flow(client: OpenAI) -> tuple[Any, Any, Any]:
    """Reconify's documented non-streaming flow, on the recorded traffic."""
    assistant = client.beta.assistants.create(
        name="Math Tutor", instructions="You are a personal math tutor.", model="gpt-4o-mini"
    )
    thread = client.beta.threads.create()
    message_in = client.beta.threads.messages.create(
        thread_id=thread.id, role="user", content=QUESTION
    )
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, instructions="Be kind.", poll_interval_ms=1
    )
    listed = client.beta.threads.messages.list(thread_id=run.thread_id, limit=1, run_id=run.id)
    return run, message_in, listed.data[0]


def test_log_assistant_sends_the_reference_payload(
    recordings_dir: Path, sink: ReconifySink, handler: ReconifyHandler
) -> None:
    with ReplayAssistantsAPI(recordings_dir / "test_new_assistant_with_polling.yaml") as api:
        run, message_in, message_out = documented_polling_flow(
            OpenAI(base_url=api.base_url, api_key="sk-test-openai-key")
        )
    assert handler.log_assistant(run, message_in, message_out) is True
    assert handler.flush(timeout=5)
    (payload,) = sink.payloads
    assert payload["reconify"] == {
        "format": "openai",
        "type": "assistant",
        "version": "3.1.0",
        "appKey": APP_KEY,
        "apiKey": API_KEY,
    }
    assert payload["session"] == "thread_erGl66dVoAO1EY2Mp3lvn9JB"
    request, response = payload["request"], payload["response"]
    assert request["id"] == "msg_KXmJuJ3n0yNzkof0jQk2iWEj"
    assert request["role"] == "user" and request["run_id"] is None
    assert request["thread_id"] == "thread_erGl66dVoAO1EY2Mp3lvn9JB"
    assert request["assistant_id"] == "asst_Leo2sRC1zfL8826tvsgfhKJ4"  # filled from the run
    assert request["model"] == "gpt-4o-mini"
    assert request["created_at"] == 1774963843
    assert request["content"] == [{"type": "text", "text": {"value": QUESTION, "annotations": []}}]
    assert response["id"] == "msg_HK3aVWLIOnojFNHPtnCPaIRI"
    assert response["role"] == "assistant"
    assert response["run_id"] == "run_31fgVjfVXHHOJZbQnBWJXhlN"
    assert response["created_at"] == 1774963856
    assert response["content"] == [{"type": "text", "text": {"value": ANSWER, "annotations": []}}]
    assert response["usage"]["prompt_tokens"] == 381
    assert response["usage"]["completion_tokens"] == 88
    assert response["usage"]["total_tokens"] == 469
    # Node semantics: the run's own times, in milliseconds.
    assert payload["timestamps"] == {
        "request": run.started_at * 1000,
        "response": run.completed_at * 1000,
    }


def test_plain_dicts_and_the_seed_documents_example(
    sink: ReconifySink, handler: ReconifyHandler
) -> None:
    handler.log_assistant(run_dict(), IN, OUT)
    assert handler.flush(5)
    (payload,) = sink.payloads
    assert payload["timestamps"] == {"request": 1725321819000, "response": 1725321821000}
    assert payload["request"]["model"] == "gpt-4o-mini"
    assert payload["request"]["assistant_id"] == "asst_1"
    assert payload["response"]["usage"] == {
        "prompt_tokens": 557,
        "completion_tokens": 22,
        "total_tokens": 579,
    }


def test_null_times_fall_back_to_now_never_zero(
    sink: ReconifySink, handler: ReconifyHandler
) -> None:
    before = int(time.time() * 1000)
    handler.log_assistant(run_dict(started_at=None, completed_at=None), IN, OUT)
    assert handler.flush(5)
    stamps = sink.payloads[0]["timestamps"]
    assert stamps["request"] >= before and stamps["response"] >= stamps["request"]


def test_user_and_session_parity(sink: ReconifySink, handler: ReconifyHandler) -> None:
    handler.set_user({"userId": "123", "isAuthenticated": 1, "firstName": "Francis"})
    handler.set_session("MySessionId")
    handler.set_session_timeout(20)
    handler.log_assistant(run_dict(), IN, OUT)
    with reconify_otel.session("per-request"):
        handler.log_assistant(run_dict(id="run_2"), IN, dict(OUT, run_id="run_2"))
    assert handler.flush(5)
    first, second = sorted(sink.payloads, key=lambda p: str(p["response"]["run_id"]))
    assert first["user"] == {"userId": "123", "isAuthenticated": 1, "firstName": "Francis"}
    assert (first["session"], first["sessionTimeout"]) == ("MySessionId", 20)
    assert second["session"] == "per-request"


def test_never_blocks_the_caller(sink: ReconifySink) -> None:
    sink.set_default(Answer.hang(5))
    handler = reconify_openai_handler(
        app_key=APP_KEY, api_key=API_KEY, endpoint=f"{sink.url}/t", timeout=1
    )
    started = time.monotonic()
    for i in range(20):
        assert handler.log_assistant(run_dict(id=f"run_{i}"), IN, dict(OUT, run_id=f"run_{i}"))
    assert time.monotonic() - started < 3.0  # blocking would take 20 x 1 s
    started = time.monotonic()
    handler.close(timeout=1)
    assert time.monotonic() - started < 4


def test_bad_input_is_skipped_and_counted(
    sink: ReconifySink, handler: ReconifyHandler, caplog: pytest.LogCaptureFixture
) -> None:
    assert handler.log_assistant("not a run", IN, OUT) is False
    assert handler.log_assistant({"status": "completed"}, IN, OUT) is False
    assert handler.log_assistant(run_dict(status="failed"), IN, None) is False
    assert handler.log_assistant(run_dict(), IN, None) is False  # no answer to send
    assert handler.flush(5)
    assert sink.attempts == 0
    assert {k: v for k, v in handler.stats().items() if v} == {
        "skipped_bad_input": 2,
        "skipped_error_run": 1,
        "skipped_no_answer": 1,
    }
    assert "needs a Run object" in caplog.text


def test_debug_masks_keys(sink: ReconifySink, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="reconify_otel")
    handler = reconify_openai_handler(
        app_key=APP_KEY, api_key=API_KEY, endpoint=f"{sink.url}/t", debug=True
    )
    handler.log_assistant(run_dict(), IN, OUT)
    handler.close(5)
    assert "msg_out" in caplog.text
    assert APP_KEY not in caplog.text and API_KEY not in caplog.text
    assert APP_KEY not in repr(handler)
