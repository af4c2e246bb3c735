"""Every ```python block of README.md runs as it stands, pasted into a fresh interpreter.

Each block runs in its own process against loopback stand-ins only: a Reconify sink
(``RECONIFY_ENDPOINT``, any keys) and, for blocks that call OpenAI, a replay of a recorded
chat completion (``OPENAI_BASE_URL``). Where a block sends something, the test checks what
the sink received; a block that only configures must at least run cleanly.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reconify_otel.offline.replay import LlmReplay, recorded_calls
from reconify_otel.offline.sink import ReconifySink

from .doc_commands import README

APP_KEY, API_KEY = "readme-app-key", "readme-api-key"
CHAT = recorded_calls("openai__test_chat__test_chat")[0]
CHAT_ID = "chatcmpl-908MD9ivBBLb6EaIjlqwFokntayQK"
JOKE = "Tell me a joke about opentelemetry"
# Python blocks that cannot run offline, with the reason. Shell blocks are
# tests/test_docs_claims.py's (the zero-code command, the bridge with real keys).
CANNOT_RUN_OFFLINE: dict[str, str] = {}


def python_blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```$", README.read_text(), re.MULTILINE | re.DOTALL)


def block_named(name: str) -> str:
    (block,) = [b for b in python_blocks() if BLOCKS[name][0] in b]
    return block


def run_block(block: str, sink: ReconifySink, replay: LlmReplay, spool: Path) -> str:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "RECONIFY_", "OTEL_"))
    }
    env.update(
        RECONIFY_ENDPOINT=f"{sink.url}/track",
        RECONIFY_APP_KEY=APP_KEY,
        RECONIFY_API_KEY=API_KEY,
        RECONIFY_SPOOL_DIR=str(spool),
        OPENAI_BASE_URL=replay.base_url,
        OPENAI_API_KEY="sk-readme-not-a-key",
        # The OTLP exporter of "Beside your other exporters": loopback, nothing listens.
        OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9",
    )
    done = subprocess.run(
        [sys.executable, "-c", block], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    return done.stdout


def check_quick_start(payloads: list[dict[str, Any]], stdout: str) -> None:
    (payload,) = payloads
    assert payload["reconify"]["appKey"] == APP_KEY
    assert payload["reconify"]["type"] == "chat"
    assert payload["request"]["messages"] == [{"role": "user", "content": JOKE}]
    assert payload["response"]["id"] == CHAT_ID
    assert stdout.strip() == payload["response"]["choices"][0]["message"]["content"]


def check_nothing_sent(payloads: list[dict[str, Any]], stdout: str) -> None:
    assert payloads == []


def check_handler(payloads: list[dict[str, Any]], stdout: str) -> None:
    by_format = {p["reconify"]["format"]: p for p in payloads}
    assert len(payloads) == 2 and sorted(by_format) == ["anthropic", "openai"]
    chat, message = by_format["openai"], by_format["anthropic"]
    assert chat["response"]["id"] == CHAT_ID
    assert chat["user"]["userId"] == message["user"]["userId"] == "123"
    assert chat["session"] == message["session"] == "MySessionId"
    assert message["response"]["id"] == "msg_01XFDUDYJgAACzvnptvVoYEL"
    assert message["request"]["messages"] == [{"role": "user", "content": JOKE}]
    assert {p["reconify"]["appKey"] for p in payloads} == {APP_KEY}


Check = Callable[[list[dict[str, Any]], str], None]
# name: (a line that finds the block, its OpenAI calls, the payloads it sends, their check)
BLOCKS: dict[str, tuple[str, int, int, Check]] = {
    "quick start": ("provider = TracerProvider()  # or the one", 1, 1, check_quick_start),
    "beside other exporters": ("BatchSpanProcessor(OTLPSpanExporter())", 0, 0, check_nothing_sent),
    "users and sessions": ("with reconify_otel.session(", 0, 0, check_nothing_sent),
    "handler API": ("reconify_openai_handler(", 1, 2, check_handler),
}


def test_every_python_block_is_run_here_or_explained() -> None:
    blocks = python_blocks()
    assert len(blocks) == len(BLOCKS) + len(CANNOT_RUN_OFFLINE)
    for block in blocks:
        found = [name for name, (needle, *_) in BLOCKS.items() if needle in block]
        found += [name for name in CANNOT_RUN_OFFLINE if name in block]
        assert len(found) == 1, block


@pytest.mark.parametrize("name", list(BLOCKS))
def test_the_readme_block_runs_as_written(name: str, tmp_path: Path) -> None:
    _, calls, expected, check = BLOCKS[name]
    with ReconifySink() as sink, LlmReplay([CHAT] * calls) as replay:
        stdout = run_block(block_named(name), sink, replay, tmp_path / "spool")
        assert len(replay.received) == calls  # the block's OpenAI calls reached the replay
        sink.wait_for(expected, timeout=5)
        check(sink.payloads, stdout)
        assert sink.attempts == sink.accepted == expected
    assert not list((tmp_path / "spool").rglob("*.jsonl"))  # nothing left undelivered
