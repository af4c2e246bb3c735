"""``reconify-otel bridge`` as users run it: its own process, real sockets, on loopback.

For what only a whole process shows: open-file limits, connection counts, peak memory,
the command's own output. ``prelude`` is Python run in the child before the command.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from .helpers import API_KEY, APP_KEY

LISTENING = "reconify-otel bridge listening on "

_SCRIPT = """
import resource, sys
{prelude}
if {nofile} is not None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, ({nofile}, hard))
from reconify_otel.cli.main import main
sys.exit(main(["bridge", "--port", "0", "--log-level", "warning"]))
"""


@dataclass
class BridgeProcess:
    url: str
    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    @property
    def address(self) -> tuple[str, int]:
        host, _, port = self.url.removeprefix("http://").partition(":")
        return host, int(port)

    def health(self) -> dict[str, Any]:
        answer = requests.get(f"{self.url}/healthz", timeout=30)
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    def peak_rss_mib(self) -> float:
        """The child's peak resident memory (VmHWM), in MiB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmHWM in /proc status")

    def log(self) -> str:
        return self.stderr.read_text(errors="replace")


@contextmanager
def bridge_process(
    tmp_path: Path,
    sink_url: str,
    env: dict[str, str] | None = None,
    *,
    nofile: int | None = None,
    prelude: str = "",
) -> Iterator[BridgeProcess]:
    """Start the bridge with ``env`` added (``RECONIFY_BRIDGE_*``), wait for its address
    line, and stop it with SIGTERM at the end, as a container runtime would."""
    child_env = {
        **os.environ,
        "RECONIFY_APP_KEY": APP_KEY,
        "RECONIFY_API_KEY": API_KEY,
        "RECONIFY_ENDPOINT": f"{sink_url}/track",
        "RECONIFY_TIMEOUT": "2",
        **(env or {}),
    }
    stdout, stderr = tmp_path / "bridge.out", tmp_path / "bridge.err"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-c", _SCRIPT.format(prelude=prelude, nofile=nofile)],
            stdout=out,
            stderr=err,
            env=child_env,
        )
    try:
        url = _wait_for_address(process, stdout, stderr)
        yield BridgeProcess(url, process, stdout, stderr)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _wait_for_address(process: subprocess.Popen[bytes], stdout: Path, stderr: Path) -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for line in stdout.read_text().splitlines():
            if line.startswith(LISTENING):
                return line.removeprefix(LISTENING).removesuffix("/v1/traces")
        if process.poll() is not None:
            break
        time.sleep(0.05)
    raise AssertionError(f"the bridge did not start: {stderr.read_text()[-2000:]}")
