"""What README.md and docs/ state, checked against the code: variables, defaults, numbers,
and every shell command (run by a test, or listed here as needing outside services)."""

from __future__ import annotations

import re
from dataclasses import fields
from typing import Any

import pytest

from reconify_otel.bridge.config import BRIDGE_OPTIONS, ENV_TOKEN, BridgeConfig
from reconify_otel.core.payload import INTERACTION_KINDS
from reconify_otel.instrumentation.tracker import Limits
from reconify_otel.settings import ENV_API_KEY, ENV_APP_KEY, OPTIONS, Settings

from .doc_commands import README, ROOT, commands, documents, shell_blocks

README_MD, COLLECTOR_MD = "README.md", "docs/collector.md"
EXAMPLES_MD, ZERO_CODE_MD = "examples/README.md", "examples/zero_code/README.md"
ZERO_CODE_TEST = "tests/test_zero_code.py::test_the_readme_zero_code_command_sends_each_run_once"
SINK_TEST = "tests/test_demo.py::test_the_readme_sink_command_prints_payloads_with_keys_masked"
OFFLINE_TEST = "tests/test_examples.py::test_zero_code_under_opentelemetry_instrument"
REAL_COLLECTOR_TESTS = ".venv/bin/python -m pytest -m collector"
OFFLINE_COLLECTOR_TESTS = ".venv/bin/python -m pytest " + " ".join(
    f"tests/test_collector_config{part}.py" for part in ("", "_broken")
)
BRIDGE = "RECONIFY_APP_KEY=... RECONIFY_API_KEY=... RECONIFY_BRIDGE_TOKEN=... reconify-otel bridge"

# (document, how the command starts, where it runs): ".ci/run" (the README's set-up in a
# fresh copy, see test_ci_runs_the_readme_set_up_commands_in_a_fresh_copy) or a test
# ("file::function") that runs it as written.
RUN_BY = [
    (
        README_MD,
        "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' "
        "-e tests/reconify-otel-testing && ",
        ".ci/run",
    ),
    (README_MD, ".venv/bin/python -m pytest", ".ci/run"),
    (README_MD, "export RECONIFY_APP_KEY=... RECONIFY_API_KEY=...", ZERO_CODE_TEST),
    (README_MD, "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf OTEL_TRACES_EXPORTER=", ZERO_CODE_TEST),
    (README_MD, ".venv/bin/reconify-otel sink --port 0", SINK_TEST),
    ("docs/reliability.md", ".venv/bin/python -m pytest tests/test_recovery.py", ".ci/run"),
    ("docs/reliability.md", ".venv/bin/python -m pytest -m slow", ".ci/run"),
    ("CONTRIBUTING.md", ".venv/bin/python -m pytest", ".ci/run"),  # the default run, each group
    (
        "docs/reliability.md",
        ".venv/bin/python -m benchmarks --only recovery",
        "tests/test_benchmarks_smoke.py::test_the_documented_recovery_benchmark_runs_as_written",
    ),
    (
        COLLECTOR_MD,
        "collector/build.sh",
        "tests/test_real_collector_config.py::test_build_script_reuses_the_build",
    ),
    (COLLECTOR_MD, REAL_COLLECTOR_TESTS, ".ci/run"),
    (COLLECTOR_MD, OFFLINE_COLLECTOR_TESTS, ".ci/run"),
    (
        EXAMPLES_MD,
        ".venv/bin/python examples/streaming.py",
        "tests/test_examples.py::test_streaming",
    ),
    (ZERO_CODE_MD, ".venv/bin/python examples/zero_code/run_offline.py", OFFLINE_TEST),
]

# (document, how the command starts, why no test can run it offline).
EXTERNAL = [
    ("CONTRIBUTING.md", "bash .ci/run", "CI itself: every group, a cold Collector build"),
    (README_MD, BRIDGE, "real keys; binds 0.0.0.0 (tests run the bridge on 127.0.0.1)"),
    (COLLECTOR_MD, BRIDGE, "real keys; binds 0.0.0.0"),
    (COLLECTOR_MD, "docker network create otel", "Docker"),
    (COLLECTOR_MD, "docker run -d --name jaeger ", "Docker and Jaeger"),
    (COLLECTOR_MD, "docker run -d --name reconify-bridge ", "Docker, the user's image, real keys"),
    (COLLECTOR_MD, "mkdir -p otelcol-queue && sudo chown ", "root, for the Collector image's user"),
    (COLLECTOR_MD, "docker run -d --name otelcol ", "Docker, the Collector image, a Datadog key"),
    (COLLECTOR_MD, "docker run -d --name datadog-agent ", "Docker and a Datadog key"),
    (
        COLLECTOR_MD,
        "otelcol-contrib --config otel-collector-config.yaml --config collector/datadog-overlay",
        "a Collector with the Datadog components, which cannot be built here (the module proxy "
        "refuses them); test_real_collector_config.py validates the same two files",
    ),
    (
        EXAMPLES_MD,
        "OPENAI_API_KEY=sk-... OPENAI_ASSISTANT_ID=asst_... RECONIFY_APP_KEY=...",
        "real OpenAI and Reconify keys",
    ),
    (
        ZERO_CODE_MD,
        ".venv/bin/pip install -e '.[openai,zero-code]'",
        "the package index (`test` has both)",
    ),
    (ZERO_CODE_MD, ". .venv/bin/activate", "sets up the user's shell for what follows"),
    (
        ZERO_CODE_MD,
        "export OPENAI_API_KEY=sk-... OPENAI_ASSISTANT_ID=asst_...",
        "a real OpenAI key",
    ),
    (
        ZERO_CODE_MD,
        "export RECONIFY_APP_KEY=... RECONIFY_API_KEY=...",
        "real keys (run_offline.py: offline)",
    ),
    (
        ZERO_CODE_MD,
        "OTEL_SERVICE_NAME=support-bot OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf ",
        "a real OpenAI key",
    ),
]


def documented_commands() -> list[tuple[str, str]]:
    return [
        (path.relative_to(ROOT).as_posix(), command)
        for path in documents()
        for block in shell_blocks(path)
        for command in commands(block)
    ]


def accounted(document: str, command: str) -> list[tuple[str, str, str]]:
    return [e for e in RUN_BY + EXTERNAL if e[0] == document and command.startswith(e[1])]


def test_every_documented_command_is_run_by_a_test_or_needs_outside_services() -> None:
    found = documented_commands()
    unaccounted = [
        f"{doc}: {command}" for doc, command in found if len(accounted(doc, command)) != 1
    ]
    assert unaccounted == [], "add each to RUN_BY (and run it in a test) or to EXTERNAL"
    used = {entry for doc, command in found for entry in accounted(doc, command)}
    assert [entry for entry in RUN_BY + EXTERNAL if entry not in used] == []  # none stale


@pytest.mark.parametrize(("document", "start", "where"), RUN_BY)
def test_the_named_runner_exists(document: str, start: str, where: str) -> None:
    if where == ".ci/run":
        for path in re.findall(r"tests/\S+\.py", start):  # a part of the suite .ci/run runs
            assert (ROOT / path).is_file(), path
        return
    path, function = where.split("::")
    assert f"\ndef {function}(" in (ROOT / path).read_text(), where


def test_ci_runs_the_readme_set_up_commands_in_a_fresh_copy() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    install_and_demo, test_command = commands(shell_blocks(README)[0])
    assert install_and_demo.startswith(RUN_BY[0][1]) and install_and_demo.endswith(" demo")
    assert test_command == ".venv/bin/python -m pytest"
    # .ci/run reads command 1 from the README and runs command 2, both as written.
    (pattern,) = re.findall(r"install_and_demo=\"\$\(readme_command '([^']+)'\)\"", ci)
    matching = [line for line in README.read_text().splitlines() if re.search(pattern, line)]
    assert matching[0] == install_and_demo
    assert 'eval "$install_and_demo"' in ci
    assert test_command in ci.splitlines()
    # In a fresh copy of the checkout, not in the working tree beside shared/ and .venv.
    assert "git ls-files -z --cached --others --exclude-standard" in ci
    assert 'workdir="$(mktemp -d)"' in ci and 'cd "$clone"' in ci


def variables_in_code() -> set[str]:
    """Every RECONIFY_* variable the code, the Collector's configuration or its build reads."""
    names = {option.env for option in OPTIONS} | {ENV_APP_KEY, ENV_API_KEY, ENV_TOKEN}
    names |= {option.env for option in BRIDGE_OPTIONS}
    sources = [*sorted((ROOT / "src").rglob("*.py")), *sorted((ROOT / "collector").glob("*.sh"))]
    sources.append(ROOT / "otel-collector-config.yaml")
    for source in sources:
        names |= set(re.findall(r"[\"'{:](RECONIFY_[A-Z0-9_]*[A-Z0-9])\b", source.read_text()))
    return names


def test_every_variable_the_docs_name_is_read_by_the_code() -> None:
    known = variables_in_code()
    named = {
        (path.relative_to(ROOT).as_posix(), name)
        for path in documents()
        for name in re.findall(r"RECONIFY_[A-Z0-9_]+\*?", path.read_text())
        if not name.endswith(("*", "_"))  # a family, e.g. RECONIFY_BRIDGE_*
    }
    assert sorted(item for item in named if item[1] not in known) == []


def readme_defaults() -> dict[str, str]:
    section = README.read_text().split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    return dict(re.findall(r"^\| `(\w+)` \| [^|]+ \| ([^|]+) \|", section, re.MULTILINE))


def stated(cell: str) -> Any:
    """A default as the table states it: `value`, on/off, unset, none or required."""
    cell = cell.strip()
    words = {"on": True, "off": False, "none": None, "required": "required"}
    if cell in words:
        return words[cell]
    if cell.startswith("unset"):
        return None
    (value,) = re.findall(r"^`([^`]+)`", cell)
    return value


def test_the_readme_table_defaults_are_the_code_defaults() -> None:
    # Which options the table lists is test_options.py's check; here, what it says of each.
    defaults: dict[str, Any] = {f.name: f.default for f in fields(Settings)}
    # transport: None in Settings means the built-in requests client, as the table says.
    defaults.update(app_key="required", api_key="required", transport="requests")
    wrong = {
        name: (stated(cell), defaults.get(name, "not a setting"))
        for name, cell in readme_defaults().items()
        if stated(cell) != as_stated(defaults.get(name, "not a setting"))
    }
    assert wrong == {}


def as_stated(default: Any) -> Any:
    if default == INTERACTION_KINDS:
        return "all"  # every kind, as the table and RECONIFY_INTERACTIONS spell it
    return default if default is None or isinstance(default, bool) else str(default)


def test_the_limits_the_docs_state() -> None:
    readme = " ".join(README.read_text().split())
    assert f"after `answer_grace` ({Limits().answer_grace:g} s)" in readme
    assert f"the instrumentor's bookkeeping ({Limits().max_runs:,} runs in flight)" in readme
    assert f"the handler's queue ({Settings.max_queue})" in readme
    assert f"the bridge's dedup window ({BridgeConfig.dedup_window:,} ids)" in readme


def test_the_counters_and_metrics_the_readme_names_exist() -> None:
    from reconify_otel.runtime.counters import STATS_NAMES

    section = README.read_text().split("\n## Observability\n", 1)[1].split("\n## ", 1)[0]
    names = re.findall(r"`([a-z_.]+)(?:\{[^}]*\})?`", section)
    first_cells = re.findall(r"^\| ([^|]+) \|", section, re.MULTILINE)
    counters = [n for cell in first_cells for n in re.findall(r"`([a-z_]+)`", cell)]
    assert len(counters) > 20
    assert sorted(set(counters) - set(STATS_NAMES)) == []
    assert sorted(set(STATS_NAMES) - set(counters)) == []  # every counter is documented
    code = "".join(p.read_text() for p in sorted((ROOT / "src").rglob("*.py")))
    metrics = [n for n in names if n.startswith("reconify_otel.")]
    assert [m for m in metrics if f'"{m}"' not in code] == []
