"""The README's first command: the offline demo, as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from reconify_otel.cli.demo import DEMO_API_KEY, DEMO_APP_KEY


def test_demo_runs_offline_and_reports_every_payload() -> None:
    command = Path(sys.executable).parent / "reconify-otel"
    done = subprocess.run([str(command), "demo"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1].startswith("demo: 2 assistant runs, 2 Reconify payloads received")
    assert lines[-1].endswith(": OK")
    assert done.stdout.count('"appKey": "***", "apiKey": "***"') == 2
    assert DEMO_APP_KEY not in done.stdout + done.stderr
    assert DEMO_API_KEY not in done.stdout + done.stderr
    assert "Our store is open Monday through Friday" in done.stdout


def test_version_command() -> None:
    from reconify_otel import __version__
    from reconify_otel.cli.main import main

    assert main(["version"]) == 0
    assert __version__.count(".") == 2
