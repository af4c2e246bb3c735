"""The shipped Collector configuration and its build, on a real OpenTelemetry Collector.

``collector/build.sh`` builds the Collector from the official Go modules (once; later runs
reuse the binary and Go's caches). The base build has no Datadog components (their Go
modules cannot be fetched from the module proxy here): ``otel-collector-config.yaml`` is
the base it runs, and ``collector/datadog-overlay.yaml`` adds Datadog (docs/collector.md).
The overlay's structure is checked offline (test_collector_config.py).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from . import collector_process
from .collector_process import BUILD_SCRIPT, CONFIG, DATADOG_OVERLAY, validate

otelcol = collector_process.otelcol  # the session's Collector build (a fixture)

pytestmark = pytest.mark.timeout(1200)  # the first test may pay for a cold build


def validation_errors(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The error lines, each "valid values" list sorted (the Collector's order varies)."""

    def sort_values(match: re.Match[str]) -> str:
        return "(valid values: [" + " ".join(sorted(match.group(1).split())) + "])"

    return sorted(
        re.sub(r"\(valid values: \[([^\]]*)\]\)", sort_values, line)
        for line in result.stderr.splitlines()
        if line.startswith("'")
    )


def test_validate_accepts_the_shipped_config(otelcol: Path) -> None:
    result = validate(otelcol, CONFIG)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_validate_with_the_datadog_overlay_misses_only_the_datadog_components(
    otelcol: Path,
) -> None:
    """The base build has no Datadog: base + overlay fail on the two Datadog components
    and on nothing else (``collector/build.sh --with-datadog`` validates the same two
    files on a Collector that has them, where their modules can be fetched)."""
    result = validate(otelcol, CONFIG, DATADOG_OVERLAY)
    assert result.returncode == 1
    assert validation_errors(result) == [
        '\'connectors\' unknown type: "datadog" for id: "datadog/connector" (valid values: [])',
        '\'exporters\' unknown type: "datadog" for id: "datadog" '
        "(valid values: [debug otlp otlp_grpc otlp_http otlphttp])",
    ]


# --------------------------------------------------------------------------- build.sh


def test_build_script_reuses_the_build(otelcol: Path) -> None:
    """A second run of collector/build.sh on the same machine builds nothing."""
    before = otelcol.stat().st_mtime_ns
    result = subprocess.run(
        [str(BUILD_SCRIPT)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == str(otelcol)
    assert "up to date" in result.stderr
    assert otelcol.stat().st_mtime_ns == before


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


def test_build_script_says_when_go_is_missing(tmp_path: Path) -> None:
    path = os.pathsep.join(
        d for d in os.environ["PATH"].split(os.pathsep) if not (Path(d) / "go").exists()
    )
    result = run_build_copy(tmp_path, PATH=path)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith("build.sh: ERROR: Go toolchain not found on PATH")


def test_build_script_says_when_the_module_proxy_is_off(tmp_path: Path) -> None:
    result = run_build_copy(tmp_path, GOPROXY="off")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith("build.sh: ERROR: GOPROXY is 'off'")


def test_build_script_says_when_the_module_proxy_is_unreachable(tmp_path: Path) -> None:
    """A proxy address where nothing listens, and an empty module cache."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        proxy = f"http://127.0.0.1:{closed.getsockname()[1]}"
    result = run_build_copy(
        tmp_path, GOPROXY=proxy, GOMODCACHE=str(tmp_path / "modcache"), GOFLAGS="-modcacherw"
    )
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.splitlines()[-1] == (
        "build.sh: ERROR: could not install go.opentelemetry.io/collector/cmd/builder@v0.161.0: "
        f"is the Go module proxy ({proxy}) reachable? See the go error above."
    )


def test_a_failed_build_fails_the_tests_with_its_message(tmp_path: Path) -> None:
    """No Go on PATH: the ``otelcol`` fixture FAILS (never skips) with build.sh's error."""
    copy_dir = tmp_path / "checkout"
    (copy_dir / "tests").mkdir(parents=True)
    (copy_dir / "collector").mkdir()
    for name in ("build.sh", "builder-config.yaml"):
        shutil.copy2(BUILD_SCRIPT.parent / name, copy_dir / "collector" / name)
    for name in ("__init__.py", "collector_process.py"):
        shutil.copy2(Path(__file__).parent / name, copy_dir / "tests" / name)
    (copy_dir / "tests" / "test_uses_it.py").write_text(
        "from . import collector_process\n\notelcol = collector_process.otelcol\n\n\n"
        "def test_it(otelcol):\n    pass\n"
    )
    path = os.pathsep.join(
        d for d in os.environ["PATH"].split(os.pathsep) if not (Path(d) / "go").exists()
    )
    env = {**os.environ, "PATH": path, "RECONIFY_COLLECTOR_CACHE": str(tmp_path / "cache")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(copy_dir),
            "-c",
            os.devnull,
            str(copy_dir / "tests"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=copy_dir,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stdout
    assert "1 error" in result.stdout and "skipped" not in result.stdout
    assert "collector/build.sh could not build the OpenTelemetry Collector" in result.stdout
    assert "build.sh: ERROR: Go toolchain not found on PATH" in result.stdout
