"""``reconify-otel sink`` as a user runs it: start the command, send it one payload, stop it
with Ctrl-C (SIGINT), and return everything it printed."""

from __future__ import annotations

import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests


@dataclass(frozen=True)
class SinkSession:
    banner: str  # "Reconify sink listening on <endpoint>"
    hint: str  # the export line
    endpoint: str
    answer: Any  # the sink's JSON answer to the POST
    out: str  # what it printed after the banner
    err: str
    returncode: int | None


def post_once(command: Path, payload: dict[str, Any], cwd: Path | None = None) -> SinkSession:
    process = subprocess.Popen(
        [str(command), "sink", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert banner.startswith("Reconify sink listening on http://127.0.0.1:"), banner
        endpoint = banner.split()[-1]
        hint = process.stdout.readline()  # read now: communicate() skips this buffer
        answer = requests.post(endpoint, json=payload, timeout=10).json()
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
    return SinkSession(banner, hint, endpoint, answer, out, err, process.returncode)
