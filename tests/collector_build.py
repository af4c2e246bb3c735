"""The real OpenTelemetry Collector's build for tests: ``collector/build.sh`` once per
session, and what a test does when Go is missing (skip on a contributor's machine, fail
in CI). Tests of the ``collector`` and ``benchmarks`` groups bind ``otelcol`` by name.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from .ci import in_ci

ROOT = Path(__file__).resolve().parents[1]
BUILD_SCRIPT = ROOT / "collector" / "build.sh"
# A cold build takes minutes (docs/collector.md): the first test of a session pays for it.
BUILD_TIMEOUT = 1100


NO_GO = (
    "Go is not on PATH: the collector group builds a real OpenTelemetry Collector with "
    "Go 1.24+ and the Go module proxy (see CONTRIBUTING.md)"
)


@pytest.fixture
def go_toolchain() -> str:
    """``go`` for tests that run it; without it: skip, or fail in CI (as build_collector)."""
    go = shutil.which("go")
    if go is None:
        if in_ci():
            pytest.fail(f"{NO_GO}; in CI a missing Go fails, never skips", pytrace=False)
        pytest.skip(NO_GO)
    return go


def build_collector() -> Path:
    """``collector/build.sh``'s binary. Without Go on PATH the build fails and the test
    skips, saying why (a contributor's default run needs no Go), except in CI, where it
    fails: CI must not go green by skipping. Any other build failure fails."""
    if not os.access(BUILD_SCRIPT, os.X_OK):
        pytest.fail(f"{BUILD_SCRIPT} is missing or not executable", pytrace=False)
    result = subprocess.run(
        [str(BUILD_SCRIPT)], capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False
    )
    if result.returncode != 0:
        message = (
            "collector/build.sh could not build the OpenTelemetry Collector. It needs Go "
            "(1.24 or newer, on PATH) and the Go module proxy (GOPROXY) for the first build.\n"
            f"exit status {result.returncode}; its output:\n{result.stderr[-6000:]}"
        )
        if shutil.which("go") is None and not in_ci():
            pytest.skip(NO_GO)
        pytest.fail(message, pytrace=False)
    binary = Path(result.stdout.strip().splitlines()[-1])
    assert binary.is_file() and os.access(binary, os.X_OK), binary
    return binary


@pytest.fixture(scope="session")
def otelcol() -> Path:
    """The Collector built by collector/build.sh, once per session (see build_collector)."""
    return build_collector()


def path_without_go() -> str:
    """PATH with every directory that holds ``go`` left out."""
    return os.pathsep.join(
        d for d in os.environ["PATH"].split(os.pathsep) if not (Path(d) / "go").exists()
    )


def run_build_copy(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """collector/build.sh from a copy (its own _build/), with ``env`` over the environment."""
    copy_dir = tmp_path / "collector"
    copy_dir.mkdir()
    for name in ("build.sh", "builder-config.yaml"):
        shutil.copy2(BUILD_SCRIPT.parent / name, copy_dir / name)
    return subprocess.run(
        [shutil.which("bash") or "/bin/bash", str(copy_dir / "build.sh")],
        capture_output=True,
        text=True,
        env={**os.environ, "RECONIFY_COLLECTOR_CACHE": str(tmp_path / "cache"), **env},
        timeout=60,
        check=False,
    )
