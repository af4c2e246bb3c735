"""Without Go, in the default run: ``collector/build.sh`` says what is missing, and a test
of the ``collector`` group skips saying why, except in CI, where it fails (CI must not go
green by skipping). The real Collector itself is tested by ``pytest -m collector``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .ci import in_ci
from .collector_build import BUILD_SCRIPT, NO_GO, path_without_go, run_build_copy


def test_build_script_says_when_go_is_missing(tmp_path: Path) -> None:
    result = run_build_copy(tmp_path, PATH=path_without_go())
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith("build.sh: ERROR: Go toolchain not found on PATH")


def run_without_go(tmp_path: Path) -> str:
    """pytest on a copy of the build fixtures (no Collector built yet), with no Go on PATH
    and this process's ``CI``: one test needs the Collector, one needs Go. Returns pytest's
    output."""
    copy_dir = tmp_path / "checkout"
    (copy_dir / "tests").mkdir(parents=True)
    (copy_dir / "collector").mkdir()
    for name in ("build.sh", "builder-config.yaml"):
        shutil.copy2(BUILD_SCRIPT.parent / name, copy_dir / "collector" / name)
    for name in ("__init__.py", "ci.py", "collector_build.py"):
        shutil.copy2(Path(__file__).parent / name, copy_dir / "tests" / name)
    (copy_dir / "tests" / "test_uses_it.py").write_text(
        "from . import collector_build\n\n"
        "otelcol = collector_build.otelcol\ngo_toolchain = collector_build.go_toolchain\n\n\n"
        "def test_collector(otelcol):\n    pass\n\n\n"
        "def test_go(go_toolchain):\n    pass\n"
    )
    env = {
        **os.environ,
        "PATH": path_without_go(),
        "RECONIFY_COLLECTOR_CACHE": str(tmp_path / "cache"),
    }
    command = [sys.executable, "-m", "pytest", "-rs", "-p", "no:cacheprovider", "-c", os.devnull]
    result = subprocess.run(
        [*command, "--rootdir", str(copy_dir), str(copy_dir / "tests")],
        capture_output=True,
        text=True,
        env=env,
        cwd=copy_dir,
        timeout=120,
        check=False,
    )
    assert result.returncode == (1 if in_ci() else 0), result.stdout
    return result.stdout


@pytest.mark.parametrize(
    ("value", "ci"), [("", False), ("0", False), ("false", False), ("true", True), ("1", True)]
)
def test_ci_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, value: str, ci: bool
) -> None:
    monkeypatch.setenv("CI", value)
    assert in_ci() is ci


def test_without_go_a_collector_test_skips_saying_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "")
    output = run_without_go(tmp_path)
    assert "2 skipped" in output and "error" not in output and "passed" not in output
    assert output.count("SKIPPED [1] tests/test_uses_it.py:") == 2
    assert output.count(NO_GO) == 2


def test_without_go_in_ci_a_collector_test_fails_with_the_build_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")
    output = run_without_go(tmp_path)
    assert "2 errors" in output and "skipped" not in output
    assert "collector/build.sh could not build the OpenTelemetry Collector" in output
    assert "build.sh: ERROR: Go toolchain not found on PATH" in output
    assert f"{NO_GO}; in CI a missing Go fails, never skips" in output
