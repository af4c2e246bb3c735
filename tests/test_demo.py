"""The ``reconify-otel`` command as a user runs it: the README's offline demo, what each
subcommand needs, and usage errors (exit status 2, never a traceback)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from reconify_otel import __version__
from reconify_otel.cli.demo import DEMO_API_KEY, DEMO_APP_KEY, DEMO_OPENAI_KEY
from reconify_otel.cli.main import main

from .doc_commands import README, VENV_BIN, block_with
from .sink_command import post_once


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


@pytest.mark.parametrize("hidden", ["openai", "opentelemetry.instrumentation.openai", "yaml"])
def test_demo_says_how_to_install_what_is_missing(hidden: str) -> None:
    probe = (
        "import sys\n"
        f"sys.modules[{hidden!r}] = None  # as if it were not installed\n"
        "from reconify_otel.cli.main import main\n"
        "sys.exit(main(['demo']))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stdout == (
        f"the demo needs {hidden}, which comes with the demo extra: "
        "pip install 'reconify-otel[demo]'\n"
    )


def test_the_sink_needs_no_extra_and_no_test_doubles() -> None:
    """Its stand-in is part of the package: no third-party package, no reconify_otel_testing."""
    hidden = ["openai", "yaml", "uvicorn", "reconify_otel_testing"]
    probe = (
        "import sys, threading\n"
        f"for name in {hidden!r}: sys.modules[name] = None\n"
        "from reconify_otel.offline.sink_cli import ShowingSink\n"
        "import requests\n"
        "sink = ShowingSink(0)\n"
        "threading.Thread(target=sink.serve_forever, daemon=True).start()\n"
        "body = {'reconify': {'appKey': 'k'}}\n"
        "answer = requests.post(sink.url + '/track', json=body, timeout=5)\n"
        "print('answer', answer.json())\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "answer {'status': 'ok'}"
    assert '"appKey": "***"' in done.stdout


COMMAND = str(Path(sys.executable).parent / "reconify-otel")
SINK_MODULE = [sys.executable, "-m", "reconify_otel.offline.sink"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([COMMAND, "sink", "--port", "70000"], "argument --port: port 70000 is outside 0-65535"),
        ([COMMAND, "sink", "--port", "-1"], "argument --port: port -1 is outside 0-65535"),
        ([COMMAND, "sink", "--port", "eighty"], "argument --port: 'eighty' is not a port number"),
        ([COMMAND, "bridge", "--port", "70000"], "argument --port: port 70000 is outside 0-65535"),
        ([COMMAND, "bridge", "--port", "-1"], "argument --port: port -1 is outside 0-65535"),
        ([COMMAND, "bridge", "--log-level", "loud"], "argument --log-level: invalid choice"),
        ([*SINK_MODULE, "--port", "65536"], "argument --port: port 65536 is outside 0-65535"),
        ([*SINK_MODULE, "--hold-ms", "-1"], "argument --hold-ms: '-1' is outside 0-3600000 ms"),
        ([*SINK_MODULE, "--hold-ms", "nan"], "argument --hold-ms: 'nan' is outside 0-3600000 ms"),
        ([*SINK_MODULE, "--hold-ms", "1e9"], "argument --hold-ms: '1e9' is outside 0-3600000 ms"),
        ([COMMAND, "spool", "purge"], "one of the arguments partition --all is required"),
        ([COMMAND, "spool", "compact"], "argument spool_action: invalid choice"),
        ([COMMAND, "demo", "--fast"], "unrecognized arguments: --fast"),
        ([COMMAND, "launch"], "argument command: invalid choice"),
    ],
    ids=lambda value: " ".join(value[1:]) if isinstance(value, list) else None,
)
def test_an_argument_out_of_range_is_a_usage_error(argv: list[str], message: str) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert f"error: {message}" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


@pytest.mark.parametrize("subcommand", ["sink", "bridge"])
def test_a_port_in_use_is_one_line_not_a_traceback(subcommand: str) -> None:
    import os
    import socket

    env = dict(os.environ, RECONIFY_APP_KEY="app", RECONIFY_API_KEY="api")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        argv = [COMMAND, subcommand, "--port", str(port)]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 1
    assert done.stderr == (
        f"reconify-otel {subcommand}: error: cannot listen on 127.0.0.1:{port}: "
        "Address already in use\n"
    )


def test_help_texts_say_what_the_command_does_today() -> None:
    def help_of(*argv: str) -> str:
        done = subprocess.run(
            [COMMAND, *argv, "--help"], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return " ".join(done.stdout.split())

    top = help_of()
    for kind in ("chat completions", "Responses API", "Anthropic messages", "Assistants runs"):
        assert kind in top
    for subcommand in ("demo", "sink", "version", "bridge", "spool"):
        assert f" {subcommand} " in top
    demo = help_of("demo")
    assert "two Assistants runs" in demo and "a chat completion and a Responses API call" in demo
    assert "sends the four payloads" in demo
    spool = help_of("spool") + help_of("spool", "drain") + help_of("spool", "purge")
    assert "`" not in spool
    assert "RECONIFY_APP_KEY and RECONIFY_API_KEY must still be set" in help_of("sink")


def test_the_readme_lists_every_subcommand() -> None:
    from .doc_commands import README

    readme = README.read_text()
    for command in (
        "demo",
        "sink",
        "bridge",
        "spool list",
        "spool drain",
        "spool purge",
        "version",
    ):
        assert f"| `reconify-otel {command}" in readme


def test_version_command() -> None:
    from reconify_otel import __version__
    from reconify_otel.cli.main import main

    assert main(["version"]) == 0
    assert __version__.count(".") == 2


def test_version_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out == f"reconify-otel {__version__}\n"


def test_demo_help_says_what_it_does(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    words = " ".join(capsys.readouterr().out.split())
    assert "two Assistants runs (Reconify's polling and streaming flows), a chat" in words
    assert "completion and a Responses API call" in words
    assert "sends the four payloads" in words


def test_the_readme_sink_command_prints_payloads_with_keys_masked() -> None:
    (command,) = block_with(README, "reconify-otel sink").split()[:1]
    assert command == ".venv/bin/reconify-otel"
    payload = {"reconify": {"appKey": "app-secret-1", "apiKey": "api-secret-2"}, "n": 1}
    session = post_once(VENV_BIN / "reconify-otel", payload)
    assert session.answer == {"status": "ok"}  # printed before it answered
    assert session.returncode == 0, session.err
    assert session.hint == (
        f"  export RECONIFY_ENDPOINT={session.endpoint} RECONIFY_APP_KEY=any RECONIFY_API_KEY=any"
        "   (Ctrl-C stops the sink)\n"
    )
    out, err = session.out, session.err
    shown = out.splitlines()
    assert shown[0] == "--- payload 1 (/track) ---"
    assert json.loads("\n".join(shown[1:])) == {
        "n": 1,
        "reconify": {"apiKey": "***", "appKey": "***"},
    }
    assert "secret" not in session.banner + out + err
