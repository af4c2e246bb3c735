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

from reconify_otel.offline.replay import RecordedCall, recorded_calls

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
APP_KEY = "offline-app-key"  # _standins.OFFLINE_APP_KEY
HOURS = "What are the store hours?"
SATURDAY = "Do you open on Saturdays?"
RETURNS = "Can I return an item without a receipt?"
HOURS_ANSWER = "Our store is open Monday through Friday from 9:00am to 5:00pm."
SATURDAY_ANSWER = "Yes, on Saturdays we open from 10:00am to 2:00pm."
RETURNS_ANSWER = "You can return any item within 30 days with its receipt."


# The variables that switch an example's side live (examples/README.md), and the
# provider SDKs' own settings (AWS profiles, GOOGLE_GENAI_USE_VERTEXAI, ...).
LIVE_PREFIXES = (
    "OPENAI_",
    "RECONIFY_",
    "OTEL_",
    "ANTHROPIC_",
    "GEMINI_",
    "GOOGLE_",
    "BEDROCK_",
    "AWS_",
)


def clean_env(**extra: str) -> dict[str, str]:
    """No keys or endpoints from the developer's shell: the examples must go offline.
    ``extra``: variables set on top (a test's own)."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith(LIVE_PREFIXES)}
    return kept | extra


def run_example(relative: str, **env: str) -> tuple[dict[str, Any], str]:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / relative)],
        cwd=ROOT,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    last = done.stdout.rstrip("\n").splitlines()[-1]
    assert last.startswith("RESULT "), done.stdout
    return json.loads(last.removeprefix("RESULT ")), done.stdout


def printed_payloads(stdout: str) -> list[dict[str, Any]]:
    """The payloads the example printed (``report``: keys masked), in order."""
    lines = stdout.splitlines()
    return [
        json.loads(lines[number + 1])
        for number, line in enumerate(lines)
        if line.startswith("--- payload ")
    ]


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


def recorded(cassette: str) -> RecordedCall:
    (call,) = recorded_calls(cassette)
    return call


def test_bedrock_calls_under_botocore_with_the_log_events() -> None:
    claude = recorded("bedrock__test_anthropic__test_anthropic_3_completion_string_content")
    llama = recorded("bedrock__test_meta__test_meta_converse")
    claude_answer, llama_answer = claude.answer(), llama.answer()
    assert claude_answer is not None and llama_answer is not None
    claude_text = claude_answer["content"][0]["text"]
    llama_message = llama_answer["output"]["message"]
    # Offline, nothing of the machine's AWS set-up is read: this profile does not exist.
    result, stdout = run_example(
        "bedrock_calls.py",
        AWS_PROFILE="reconify-no-such-profile",
        AWS_CONFIG_FILE=str(ROOT / "no-such-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(ROOT / "no-such-aws-credentials"),
    )
    check_one_payload_per_run(result, stdout)
    assert result["runs"] == 2
    assert result["kinds"] == ["bedrock/chat", "bedrock/chat"]
    assert result["request_texts"] == [JOKE, JOKE]  # the messages, from the log events
    assert result["response_texts"] == [claude_text, llama_message["content"][0]["text"]]
    assert result["answer_texts"] == result["response_texts"]  # what the app printed
    # The recorded x-amzn-RequestId: the app's, and the payload's requestId.
    assert result["answer_ids"] == [claude.request_id, llama.request_id]
    assert result["response_ids"] == [claude.request_id, llama.request_id]
    assert result["stop_reasons"] == ["end_turn", "end_turn"]
    sent = json.loads(claude.request_body)
    first, second = printed_payloads(stdout)
    # Both in Converse's form: botocore's span holds no body.
    assert first["request"] == {
        "modelId": claude.model_id,
        "messages": [{"role": "user", "content": [{"text": JOKE}]}],
        "inferenceConfig": {"temperature": sent["temperature"], "maxTokens": sent["max_tokens"]},
    }
    usage = claude_answer["usage"]
    assert first["response"] == {
        "requestId": claude.request_id,
        "body": {
            "output": {"message": {"role": "assistant", "content": [{"text": claude_text}]}},
            "stopReason": claude_answer["stop_reason"],
            "usage": {
                "inputTokens": usage["input_tokens"],
                "outputTokens": usage["output_tokens"],
                "totalTokens": usage["input_tokens"] + usage["output_tokens"],
            },
        },
    }
    assert second["request"] == {
        "modelId": llama.model_id,
        **{k: v for k, v in llama.request.items() if k != "additionalModelRequestFields"},
    }
    assert llama.request["additionalModelRequestFields"] == {}  # empty, so left out
    assert second["response"] == {
        "requestId": llama.request_id,
        "body": {
            "output": {"message": llama_message},
            "stopReason": llama_answer["stopReason"],
            "usage": llama_answer["usage"],
        },
    }


def test_gemini_generate_under_the_official_instrumentation() -> None:
    call = recorded("google__test_generate_content__test_client_spans")
    answer = call.answer()
    assert answer is not None
    (candidate,) = answer["candidates"]
    (part,) = candidate["content"]["parts"]
    # Offline it is the Gemini Developer API's recording, whatever the shell says.
    result, stdout = run_example("gemini_generate.py", GOOGLE_GENAI_USE_VERTEXAI="true")
    check_one_payload_per_run(result, stdout)
    assert result["runs"] == 1
    assert result["kinds"] == ["gemini/generate"]
    assert result["request_texts"] == ["What is ai?"]
    assert result["response_texts"] == result["answer_texts"] == [part["text"]]
    assert result["response_ids"] == result["answer_ids"] == [answer["responseId"]]
    assert result["model_versions"] == [answer["modelVersion"]]
    (payload,) = printed_payloads(stdout)
    assert payload["request"] == {"model": "gemini-2.5-flash", **call.request}
    usage = answer["usageMetadata"]
    assert payload["response"] == {
        "candidates": [
            {
                "content": {"role": "model", "parts": [part]},
                "finishReason": candidate["finishReason"],
                "index": 0,
            }
        ],
        "usageMetadata": {
            k: usage[k]
            for k in (
                "promptTokenCount",
                "candidatesTokenCount",
                "totalTokenCount",
                "thoughtsTokenCount",
            )
        },
        "modelVersion": answer["modelVersion"],
        "responseId": answer["responseId"],
    }
