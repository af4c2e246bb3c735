"""Run ``app.py`` under ``opentelemetry-instrument`` against the loopback stand-ins.

Starts the simulated Assistants API and the Reconify sink (or uses the real services when
configured, see examples/README.md), then runs, as a user would in a shell:

    OTEL_TRACES_EXPORTER=console,reconify opentelemetry-instrument python app.py

with the ``openai`` and ``RECONIFY_*`` variables pointing at them. ``opentelemetry-instrument``
loads every installed instrumentor: this project's ``reconify_assistants`` and the upstream
``openai`` one (whose run spans ours supersedes: one payload per run). The console exporter
stands for your other exporters; the span names it printed are listed at the end.

Run: ``python examples/zero_code/run_offline.py``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # examples/, for _standins

from _standins import console_span_names, report, standins

APP = Path(__file__).with_name("app.py")


def instrument_command() -> str:
    beside_python = Path(sys.executable).parent / "opentelemetry-instrument"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("opentelemetry-instrument")
    if found is None:
        sys.exit("opentelemetry-instrument not found: pip install opentelemetry-distro")
    return found


def main() -> None:
    with standins() as (base_url, openai_key, endpoint, app_key, api_key, sink):
        env = {
            **os.environ,
            "OPENAI_BASE_URL": base_url,
            "OPENAI_API_KEY": openai_key,
            "RECONIFY_ENDPOINT": endpoint,
            "RECONIFY_APP_KEY": app_key,
            "RECONIFY_API_KEY": api_key,
            "OTEL_SERVICE_NAME": "zero-code-example",
            "OTEL_TRACES_EXPORTER": "console,reconify",
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_LOGS_EXPORTER": "none",
            # The openai SDK's HTTP calls would only add transport spans here.
            "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "requests,urllib3,httpx",
            "OTEL_BSP_SCHEDULE_DELAY": "100",
        }
        done = subprocess.run(
            [instrument_command(), sys.executable, str(APP)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        # The console exporter's JSON spans are indented or braces; the rest is the app's.
        app_lines = [ln for ln in done.stdout.splitlines() if not ln.startswith((" ", "{", "}"))]
        print("\n".join(app_lines))
        if done.returncode != 0:
            sys.stderr.write(done.stderr)
            sys.exit(f"app.py exited with {done.returncode}")
        names = Counter(console_span_names(done.stdout))
        print(f"console exporter printed spans: {dict(names)}")
        answer_ids = [line.split()[1] for line in app_lines if line.startswith("answer ")]
        report(sink, len(answer_ids), answer_ids=answer_ids, console_spans=dict(names))


if __name__ == "__main__":
    main()
