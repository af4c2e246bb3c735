"""The marked groups of tests (CONTRIBUTING.md): each registered, left out of the default
run, run by .ci/run and documented; the tests that need the real Collector are in one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_each_group_is_left_out_by_default_run_by_ci_and_documented(
    pytestconfig: pytest.Config,
) -> None:
    registered = {line.split(":", 1)[0] for line in pytestconfig.getini("markers")}
    addopts = " ".join(pytestconfig.getini("addopts"))
    left_out = set(re.findall(r"not (\w+)", addopts))
    ci = (ROOT / ".ci" / "run").read_text()
    (loop,) = re.findall(r"^for group in ([\w ]+); do$", ci, re.MULTILINE)
    contributing = (ROOT / "CONTRIBUTING.md").read_text()
    groups = {"collector", "benchmarks", "packaging", "slow", "frameworks", "providers"}
    assert left_out == set(loop.split()) == groups
    assert left_out <= registered
    for group in left_out:
        assert f"`.venv/bin/python -m pytest -m {group}`" in contributing, group


def test_the_collector_build_is_used_only_by_marked_tests() -> None:
    """A test that builds the Collector outside the collector and benchmarks groups would
    make the default run need Go."""
    unmarked, users = [], []
    for path in sorted(Path(__file__).parent.glob("test_*.py")):
        text = path.read_text()
        if re.search(r"^\w+ = collector_build\.(otelcol|go_toolchain)$", text, re.MULTILINE):
            users.append(path.name)
            marks = re.findall(r"^pytestmark = .*$", text, re.MULTILINE)
            if not any("collector" in m or "benchmarks" in m for m in marks):
                unmarked.append(path.name)
    assert len(users) == 5 and "test_benchmarks_smoke.py" in users  # the check finds them
    assert unmarked == []
