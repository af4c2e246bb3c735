"""The shipped Collector configuration and its build, on a real OpenTelemetry Collector.

``collector/build.sh`` builds the Collector from the official Go modules (once; later runs
reuse the binary and Go's caches). The base build has no Datadog components (their Go
modules cannot be fetched from the module proxy here): ``otel-collector-config.yaml`` is
the base it runs, and ``collector/datadog-overlay.yaml`` adds Datadog (docs/collector.md).
The overlay's structure is checked offline (test_collector_config.py).
"""

from __future__ import annotations

import re
import socket
import subprocess
from pathlib import Path

import pytest

from . import collector_build
from .collector_build import BUILD_SCRIPT, run_build_copy
from .collector_process import CONFIG, DATADOG_OVERLAY, validate

# The session's Collector build, and Go for the tests that run it (fixtures).
otelcol = collector_build.otelcol
go_toolchain = collector_build.go_toolchain

# The first test may pay for a cold build.
pytestmark = [pytest.mark.collector, pytest.mark.timeout(1200)]


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


def test_build_script_says_when_the_module_proxy_is_off(tmp_path: Path, go_toolchain: str) -> None:
    result = run_build_copy(tmp_path, GOPROXY="off")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith("build.sh: ERROR: GOPROXY is 'off'")


def test_build_script_says_when_the_module_proxy_is_unreachable(
    tmp_path: Path, go_toolchain: str
) -> None:
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
