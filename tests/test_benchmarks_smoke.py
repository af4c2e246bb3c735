"""The benchmark command at tiny sizes: it runs, and its report has every section with
numbers. No timing is asserted: a loaded CI machine must not fail this."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SECTIONS = (
    "## Machine",
    "## Versions",
    "## Summary",
    "## 1. Wire throughput",
    "## 2. CPU per span",
    "## 3. Cost on the application thread",
    "## 4. Cost on unrelated spans",
    "## 5. The bridge",
    "## 6. Memory during a total outage",
)


@pytest.mark.timeout(240)
def test_quick_benchmarks_write_every_section(tmp_path: Path) -> None:
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
    assert len(verdicts) == 8, verdicts
    for _name, measured, _result in verdicts:
        assert re.search(r"\d", measured)
    for name in ("reconify-otel", "opentelemetry-sdk", "requests", "openai", "uvicorn"):
        assert re.search(rf"^\| {re.escape(name)} \| \S+ \|$", text, re.MULTILINE), name
    assert "DELIVERY PROBLEMS" not in text
