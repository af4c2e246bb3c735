"""``reconify-otel bridge`` as a command: its help, its start line, and a clear exit
without the ``[bridge]`` extra (it died with a ModuleNotFoundError traceback)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from reconify_otel.offline.sink import ReconifySink

from .bridge_process import LISTENING, bridge_process

# The extra's modules made unimportable, as in an environment installed without it.
WITHOUT = """
import sys
from importlib.abc import MetaPathFinder

class NotInstalled(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == {module!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, NotInstalled())
from reconify_otel.cli.main import main
sys.exit(main(["bridge"]))
"""


@pytest.mark.parametrize("module", ["uvicorn", "google"])
def test_without_the_bridge_extra_it_prints_the_install_command(module: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT.format(module=module)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().endswith("pip install 'reconify-otel[bridge]'")
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_help_shows_the_defaults() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "reconify_otel.cli.main", "bridge", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    for default in ("(default: 127.0.0.1)", "(default: 4318)", "(default: info)"):
        assert default in text


def test_it_prints_where_it_listens(tmp_path: Path, sink: ReconifySink) -> None:
    with bridge_process(tmp_path, sink.url) as bridge:
        lines = bridge.stdout.read_text().splitlines()
        assert requests.get(f"{bridge.url}/healthz", timeout=10).status_code == 200
    assert len(lines) == 1
    assert re.fullmatch(re.escape(LISTENING) + r"http://127\.0\.0\.1:\d+/v1/traces", lines[0])
