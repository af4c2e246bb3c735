"""The README's first command: the offline demo, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from reconify_otel.cli.demo import DEMO_API_KEY, DEMO_APP_KEY, DEMO_OPENAI_KEY


def test_demo_runs_offline_and_reports_every_payload() -> None:
    command = Path(sys.executable).parent / "reconify-otel"
    done = subprocess.run([str(command), "demo"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1] == (
        "demo: 4 Reconify payloads received (assistant runs 2, chat calls 1, Responses calls 1), "
        "exporter counters {'accepted': 4}: OK"
    )
    headers = [line for line in lines if line.startswith("--- payload ")]
    # In time order: the demo makes the runs, then the chat call, then the Responses call.
    assert headers == [
        "--- payload 1: assistant run (keys masked) ---",
        "--- payload 2: assistant run (keys masked) ---",
        "--- payload 3: chat call (keys masked) ---",
        "--- payload 4: Responses call (keys masked) ---",
    ]
    payloads = _printed_payloads(done.stdout)
    assert len(payloads) == 4
    stamps = [p["timestamps"]["request"] for p in payloads]
    assert stamps == sorted(stamps)  # printed in time order
    assert all(p["reconify"]["appKey"] == p["reconify"]["apiKey"] == "***" for p in payloads)
    by_id = {p["response"]["id"]: p for p in payloads}
    assert sorted(by_id) == [
        "chatcmpl-908MD9ivBBLb6EaIjlqwFokntayQK",
        "msg_HK3aVWLIOnojFNHPtnCPaIRI",
        "msg_jgiXcjHqUsRCj2RmdC13r5xN",
        "resp_685ff88d1f7c8199980b00a1f8b7467b05baa2d6acc60d4f",
    ]
    chat = by_id["chatcmpl-908MD9ivBBLb6EaIjlqwFokntayQK"]["response"]["choices"][0]
    assert chat["message"]["content"] == (
        "Why did Opentelemetry break up with Tracing? Because it couldn't handle the baggage!"
    )
    responses = by_id["resp_685ff88d1f7c8199980b00a1f8b7467b05baa2d6acc60d4f"]
    assert responses["request"]["messages"] == [
        {"role": "user", "content": "What is the capital of France?"}
    ]
    assert responses["response"]["choices"][0]["message"]["content"] == (
        "The capital of France is Paris."
    )
    for key in (DEMO_APP_KEY, DEMO_API_KEY, DEMO_OPENAI_KEY):
        assert key not in done.stdout + done.stderr


def _printed_payloads(stdout: str) -> list[dict[str, object]]:
    """The pretty-printed payloads between the ``--- payload N`` headers."""
    blocks = stdout.split("--- payload ")[1:]
    payloads = []
    for block in blocks:
        body = block.split("\n", 1)[1]
        end = body.index("\n}\n") + 2
        payloads.append(json.loads(body[:end]))
    return payloads


@pytest.mark.parametrize(
    ("hidden", "advice"),
    [
        ("reconify_otel_testing", "pip install -e '.[demo]'"),
        ("openai", "pip install 'reconify-otel[openai]'"),
    ],
)
def test_demo_says_how_to_install_what_is_missing(hidden: str, advice: str) -> None:
    probe = (
        "import sys\n"
        f"sys.modules[{hidden!r}] = None  # as if it were not installed\n"
        "from reconify_otel.cli.main import main\n"
        "sys.exit(main(['demo']))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert advice in done.stdout


def test_version_command() -> None:
    from reconify_otel import __version__
    from reconify_otel.cli.main import main

    assert main(["version"]) == 0
    assert __version__.count(".") == 2
