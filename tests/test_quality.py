"""The project's own checks run with the tests, so the one test command covers them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_ruff_is_clean() -> None:
    places = [p for p in ("src", "tests", "examples", "benchmarks") if (ROOT / p).is_dir()]
    done = run("ruff", "check", *places)
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_is_clean() -> None:
    done = run("mypy")
    assert done.returncode == 0, done.stdout + done.stderr


def test_readme_commands_are_the_ones_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert ".venv/bin/python -m pytest" in readme
    assert ".venv/bin/python -m pytest" in ci.splitlines()  # then the marked groups
    assert (
        "pip install -e '.[test]' -e tests/reconify-otel-testing && .venv/bin/reconify-otel demo"
        in readme
    )
