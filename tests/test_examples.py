"""Every example runs offline as a user runs it, and the sink got what it should.

Each example ends its output with ``RESULT {json}`` (see ``examples/_standins.py``):
what the loopback Reconify sink received plus what the app saw, so examples never rot.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
APP_KEY = "offline-app-key"  # _standins.OFFLINE_APP_KEY
HOURS = "What are the store hours?"
SATURDAY = "Do you open on Saturdays?"
RETURNS = "Can I return an item without a receipt?"
HOURS_ANSWER = "Our store is open Monday through Friday from 9:00am to 5:00pm."
SATURDAY_ANSWER = "Yes, on Saturdays we open from 10:00am to 2:00pm."
RETURNS_ANSWER = "You can return any item within 30 days with its receipt."


def clean_env() -> dict[str, str]:
    """No keys or endpoints from the developer's shell: the examples must go offline."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("OPENAI_", "RECONIFY_", "OTEL_"))
    }


def run_example(relative: str) -> tuple[dict[str, Any], str]:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / relative)],
        cwd=ROOT,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    last = done.stdout.rstrip("\n").splitlines()[-1]
    assert last.startswith("RESULT "), done.stdout
    return json.loads(last.removeprefix("RESULT ")), done.stdout


def check_one_payload_per_run(result: dict[str, Any], stdout: str) -> None:
    runs = result["runs"]
    assert result["payloads"] == runs
    assert len(result["answer_ids"]) == runs
    # The answer the app listed is the response Reconify got, once per run.
    assert sorted(result["response_ids"]) == sorted(result["answer_ids"])
    assert len(set(result["response_ids"])) == runs
    assert result["app_keys"] == [APP_KEY]
    assert stdout.count('"appKey": "***", "apiKey": "***"') == runs  # printed masked


def test_streaming() -> None:
    result, stdout = run_example("streaming.py")
    check_one_payload_per_run(result, stdout)
    assert result["runs"] == 2
    assert result["request_texts"] == [HOURS, SATURDAY]
    assert result["response_texts"] == [HOURS_ANSWER, SATURDAY_ANSWER]
    assert result["sessions"] == result["thread_ids"] * 2  # the thread id by default
    assert result["users"] == [{}, {}]
    assert f"assistant: {HOURS_ANSWER}\n" in stdout  # on_text_delta printed the stream


def test_polling() -> None:
    result, stdout = run_example("polling.py")
    check_one_payload_per_run(result, stdout)
    assert result["runs"] == 2
    assert result["request_texts"] == [HOURS, SATURDAY]
    assert result["response_texts"] == [HOURS_ANSWER, SATURDAY_ANSWER]
    assert result["sessions"] == result["thread_ids"] * 2
    assert result["users"] == [{}, {}]


def test_handler_api_needs_no_opentelemetry_setup() -> None:
    result, stdout = run_example("handler_api.py")
    check_one_payload_per_run(result, stdout)
    assert result["runs"] == 2
    assert result["tracer_provider"] == "ProxyTracerProvider"  # nothing configured
    assert sorted(result["request_texts"]) == sorted([HOURS, RETURNS])
    assert sorted(result["response_texts"]) == sorted([HOURS_ANSWER, RETURNS_ANSWER])
    assert result["sessions"] == ["MySessionId", "MySessionId"]
    user = {"userId": "123", "isAuthenticated": 1, "firstName": "Francis"}
    assert result["users"] == [user, user]
    assert result["stats"]["accepted"] == 2


def test_beside_other_exporters() -> None:
    result, stdout = run_example("beside_other_exporters.py")
    check_one_payload_per_run(result, stdout)
    assert result["runs"] == 2
    assert result["tracer_provider"] == "TracerProvider"
    assert result["otlp_requests"] > 0
    # OTLP got every span: the app's own and the assistant runs; Reconify only the runs.
    assert result["otlp_span_names"] == sorted(
        ["handle support request"] * 2 + ["invoke_agent Store Helper"] * 2
    )
    assert result["request_texts"] == [HOURS, SATURDAY]


@pytest.mark.slow  # about 10 s: opentelemetry-instrument loads every instrumentor (.ci/run)
def test_zero_code_under_opentelemetry_instrument() -> None:
    result, stdout = run_example("zero_code/run_offline.py")
    check_one_payload_per_run(result, stdout)
    assert result["runs"] == 2  # both sent, though the app exits right after the second
    assert result["console_spans"].get("invoke_agent Store Helper") == 2  # console exporter too
    assert result["request_texts"] == [HOURS, SATURDAY]
    assert result["response_texts"] == [HOURS_ANSWER, SATURDAY_ANSWER]
    assert result["sessions"][0].startswith("thread_")


def test_async_users_and_sessions_stay_per_task() -> None:
    result, stdout = run_example("async_users_sessions.py")
    check_one_payload_per_run(result, stdout)
    assert result["runs"] == 3
    questions = {1: HOURS, 2: SATURDAY, 3: RETURNS}
    users = [json.dumps(user) for user in result["users"]]
    seen = sorted(zip(result["sessions"], result["request_texts"], users, strict=True))
    expected = sorted(
        (
            f"support-{n}",
            question,
            json.dumps({"email": f"customer{n}@example.com", "userId": f"customer-{n}"}),
        )
        for n, question in questions.items()
    )
    assert seen == expected


JOKE = "Tell me a joke about opentelemetry"


def test_chat_completions_under_traceloop() -> None:
    result, stdout = run_example("chat_completions.py")
    check_one_payload_per_run(result, stdout)
    assert result["runs"] == 2
    assert result["kinds"] == ["openai/chat", "openai/chat"]
    assert result["request_texts"] == [JOKE, JOKE]
    assert result["response_texts"][0] == (
        "Why did Opentelemetry break up with Tracing? Because it couldn't handle the baggage!"
    )
    assert f"assistant (streamed): {result['response_texts'][1]}\n" in stdout  # joined stream
    assert result["sessions"] == ["jokes-42", "jokes-42"]
    assert result["users"] == [{"userId": "jane"}, {"userId": "jane"}]


def test_responses_api_under_openinference() -> None:
    result, stdout = run_example("responses_api.py")
    check_one_payload_per_run(result, stdout)
    assert result["runs"] == 2
    assert result["kinds"] == ["openai/chat", "openai/chat"]  # the chat shape
    assert result["request_texts"] == [
        "What is the capital of France?",
        "What's the weather in London?",
    ]
    assert result["response_texts"] == ["The capital of France is Paris.", None]  # tool calls
    assert result["call_ids"] == ["call_tYDv1bhtioyX33juEGDY4D6H", "call_lC079UhGnLJngBlPQO0FS6sv"]
    assert result["sessions"] == [None, None]


def test_anthropic_messages_under_traceloop() -> None:
    result, stdout = run_example("anthropic_messages.py")
    check_one_payload_per_run(result, stdout)
    assert result["runs"] == 2
    assert result["kinds"] == ["anthropic/chat", "anthropic/chat"]
    assert result["request_texts"][0] == "Tell me a joke about OpenTelemetry"
    assert result["stop_reasons"] == ["end_turn", "tool_use"]
    assert "assistant uses get_time({'timezone': 'America/New_York'})" in stdout


def test_handler_logs_the_clients_chat_calls_without_opentelemetry() -> None:
    result, stdout = run_example("handler_chat.py")
    check_one_payload_per_run(result, stdout)
    assert result["runs"] == 3
    assert result["tracer_provider"] == "ProxyTracerProvider"  # nothing configured
    assert result["kinds"] == ["openai/chat"] * 3
    assert result["request_texts"] == [JOKE, JOKE, "What is the capital of France?"]
    assert f"assistant (streamed): {result['response_texts'][1]}\n" in stdout  # joined stream
    assert result["sessions"] == ["jokes-7", "jokes-7", None]
    assert result["users"] == [{"userId": "123"}] * 3
    assert result["stats"]["accepted"] == 3
