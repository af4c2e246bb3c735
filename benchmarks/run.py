"""reconify-otel benchmarks: one command, side-by-side comparisons, one markdown report.

    .venv/bin/python -m benchmarks                    # full sizes, several minutes
    .venv/bin/python -m benchmarks --quick            # tiny sizes (the smoke test), seconds
    .venv/bin/python -m benchmarks --output PATH      # write the report to PATH

The report goes to ``--output``, by default a new file under the system's temporary
directory (its path is printed at the end); the tracked ``benchmarks/results.md`` is only
rewritten when named with ``--output``. Every comparison runs in this one invocation on
this machine, which the report describes (CPU, cores, RAM, OS, Python, load), with the
measured duration of each section; helpers that play the network's far side (Reconify
sink, Assistants API, OTLP bridge) run in their own processes. Each figure is the median
of repeated runs; repetitions of the things compared are interleaved (their order
rotates) so drift hits all of them alike.

A new section is a module in ``benchmarks/sections/`` with ``bench(run: BenchRun)``,
added to ``STEPS`` below.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from benchmarks.harness import FULL, QUICK, BenchRun, Report, log, table
from benchmarks.sections import (
    app,
    bridge,
    collector,
    cpu,
    llm,
    memory,
    recovery,
    unrelated,
    wire,
)

# Run in this order; ``--only`` picks by name.
STEPS: dict[str, Callable[[BenchRun], None]] = {
    "wire": wire.bench,
    "cpu": cpu.bench,
    "app": app.bench,
    "unrelated": unrelated.bench,
    "bridge": bridge.bench,
    "memory": memory.bench,
    "recovery": recovery.bench,
    "llm": llm.bench,
    "collector": collector.bench,
}


def default_output() -> Path:
    """A fresh file outside the source tree, so a run never dirties the checkout."""
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    return Path(tempfile.gettempdir()) / "reconify-otel-benchmarks" / f"results-{stamp}.md"


def machine(load: str) -> list[list[str]]:
    cpu = "unknown"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = "unknown"
    with open("/proc/meminfo") as info:
        for line in info:
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    os_name = platform.platform()
    release = Path("/etc/os-release")
    if release.exists():
        for line in release.read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = f"{line.split('=', 1)[1].strip(chr(34))} ({platform.platform()})"
    return [
        ["CPU", cpu],
        ["cores", str(os.cpu_count())],
        ["RAM", ram],
        ["OS", os_name],
        ["Python", f"{platform.python_implementation()} {platform.python_version()}"],
        ["load average at start (1, 5, 15 min)", load],
    ]


def versions() -> list[list[str]]:
    rows = []
    for name in (
        "reconify-otel",
        "opentelemetry-sdk",
        "opentelemetry-exporter-otlp-proto-http",
        "opentelemetry-instrumentation-openai",
        "requests",
        "openai",
        "uvicorn",
        "protobuf",
    ):
        try:
            rows.append([name, metadata.version(name)])
        except metadata.PackageNotFoundError:
            rows.append([name, "not installed"])
    return rows


def write(
    path: Path,
    command: str,
    sizes_name: str,
    report: Report,
    load: str,
    durations: dict[str, float],
) -> None:
    summary = table(
        ["target", "measured", "target", "result"],
        [[t.name, t.measured, t.target, "PASS" if t.ok else "MISS"] for t in report.targets],
    )
    seconds = sum(durations.values())
    timing = table(
        ["section", "seconds"],
        [
            *([name, f"{spent:.1f}"] for name, spent in durations.items()),
            ["whole run", f"{seconds:.1f}"],
        ],
    )
    text = (
        "# reconify-otel benchmarks\n\n"
        f"Command: `{command}`\n\n"
        f"Date: {dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}; sizes: "
        f"{sizes_name}; whole run {seconds:.0f} s (measured).\n\n"
        "## Machine\n\n" + table(["", ""], machine(load)) + "\n\n"
        "## Versions\n\n" + table(["package", "version"], versions()) + "\n\n"
        "## Duration\n\n" + timing + "\n\n"
        "## Summary\n\n" + summary + "\n\n" + "\n".join(report.sections)
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="results file (default: a new file under the temporary directory)",
    )
    parser.add_argument(
        "--only", nargs="+", choices=list(STEPS), default=list(STEPS), help="run these only"
    )
    args = parser.parse_args(argv)
    output: Path = args.output if args.output is not None else default_output()
    sizes = QUICK if args.quick else FULL
    command = ".venv/bin/python -m benchmarks" + (
        " " + " ".join(sys.argv[1:]) if argv is None and sys.argv[1:] else ""
    )
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    report = Report()
    durations: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="reconify-bench-") as spool_dir:
        # A private spool: nothing left by another run is resent into these counts.
        os.environ["RECONIFY_SPOOL_DIR"] = os.path.join(spool_dir, "main")
        run = BenchRun(sizes, report, Path(spool_dir))
        for name, step in STEPS.items():
            if name in args.only:
                started = time.perf_counter()
                step(run)
                durations[name] = time.perf_counter() - started
    write(output, command, "quick" if args.quick else "full", report, load, durations)
    for target in report.targets:
        log(f"{'PASS' if target.ok else 'MISS'} {target.name}: {target.measured}")
    log(f"whole run {sum(durations.values()):.0f} s; results written to {output}")
    print(output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
