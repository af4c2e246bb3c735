"""The benchmark command at tiny sizes: it runs, and its report has every section with
numbers. No timing is asserted: a loaded CI machine must not fail this."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from . import collector_build

ROOT = Path(__file__).resolve().parents[1]

SECTIONS = (
    "## Machine",
    "## Versions",
    "## Duration",
    "## Summary",
    "## 1. Wire throughput",
    "## 2. CPU per span",
    "## 3. Cost on the application thread",
    "## 4. Cost on unrelated spans",
    "## 5. The bridge",
    "## 6. Memory during a total outage",
    "## 7. LLM-call spans",
    "## 8. Through a real Collector",
    "## 9. Outage recovery",
)
RECOVERY_COMMAND = ".venv/bin/python -m benchmarks --only recovery"  # docs/reliability.md
# The Collector the benchmark runs, built before its clock starts (a cold build takes minutes).
otelcol = collector_build.otelcol

pytestmark = pytest.mark.benchmarks


@pytest.mark.timeout(240 + collector_build.BUILD_TIMEOUT)
def test_quick_benchmarks_write_every_section(tmp_path: Path, otelcol: Path) -> None:
    output = tmp_path / "results.md"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=230,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    text = output.read_text()
    assert text.startswith("# reconify-otel benchmarks")
    assert "Command: `" in text.splitlines()[2]
    for heading in SECTIONS:
        assert heading in text, heading
    sections = re.split(r"^## ", text, flags=re.MULTILINE)[1:]
    for section in sections:
        title = section.splitlines()[0]
        assert re.search(r"\d", section.split("\n", 1)[1]), f"no numbers in {title}"
    # One verdict line per target, each with a measured number.
    verdicts = re.findall(r"^\| (\d\. .+?) \| (.+?) \| .+? \| (PASS|MISS) \|$", text, re.MULTILINE)
    assert len(verdicts) == 10, verdicts
    for _name, measured, _result in verdicts:
        assert re.search(r"\d", measured)
    for name in ("reconify-otel", "opentelemetry-sdk", "requests", "openai", "uvicorn"):
        assert re.search(rf"^\| {re.escape(name)} \| \S+ \|$", text, re.MULTILINE), name
    assert "DELIVERY PROBLEMS" not in text
    for row in ("CPU", "cores", "OS", "Python"):
        assert re.search(rf"^\| {row} \| \S.* \|$", text, re.MULTILINE), row
    assert re.search(r"^\| whole run \| \d+\.\d \|$", text, re.MULTILINE)


@pytest.mark.timeout(120)
def test_default_output_is_outside_the_source_tree() -> None:
    tracked = ROOT / "benchmarks" / "results.md"
    before = tracked.read_bytes()
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", "unrelated"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    written = Path(done.stdout.strip().splitlines()[-1])
    try:
        assert written.is_file()
        assert not written.resolve().is_relative_to(ROOT)
        assert "## 4. Cost on unrelated spans" in written.read_text()
        assert f"results written to {written}" in done.stderr
    finally:
        written.unlink(missing_ok=True)
    assert tracked.read_bytes() == before


@pytest.mark.timeout(400)
def test_the_documented_recovery_benchmark_runs_as_written() -> None:
    """docs/reliability.md's command, literally: 12 s and 30 s outages, nothing lost or
    sent twice (the seconds it reports are for the reader; none is asserted here)."""
    assert RECOVERY_COMMAND in (ROOT / "docs" / "reliability.md").read_text()
    done = subprocess.run(
        ["bash", "-c", RECOVERY_COMMAND], cwd=ROOT, capture_output=True, text=True, timeout=390
    )
    assert done.returncode == 0, done.stderr[-3000:]
    written = Path(done.stdout.strip().splitlines()[-1])
    try:
        text = written.read_text()
    finally:
        written.unlink(missing_ok=True)
    assert "## 9. Outage recovery" in text
    for outage in ("12 s", "30 s"):
        assert f"PASS outage {outage}: lost / sent twice: 0 / 0" in done.stderr, outage
