"""Each offline check of the Collector configuration can fail: deliberately broken copies
of the real files, each rejected by the check that looks for its defect."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from .collector_checks import (
    CONFIG_PATH,
    OVERLAY_PATH,
    check_extensions_started,
    check_memory_limiter_first,
    check_no_batch_before_the_queue,
    check_overlay,
    check_unused_components,
    load_config,
    merged,
)
from .collector_value_checks import (
    ALL_CHECKS,
    check_bind_reasons,
    check_env_reference_syntax,
    check_genai_filter,
    check_no_literal_secrets,
    check_receivers_bind_all,
    check_reconify_exporter,
)

Config = dict[str, Any]


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config()


@pytest.fixture(scope="module")
def overlay() -> Config:
    return load_config(OVERLAY_PATH)


def reconify(c: Config) -> Config:
    exporter: Config = c["exporters"]["otlphttp/reconify"]
    return exporter


def reconify_processors(c: Config) -> list[str]:
    processors: list[str] = c["service"]["pipelines"]["traces/reconify"]["processors"]
    return processors


# --------------------------------------------------------------------------- the base

BROKEN: list[tuple[str, Callable[[Config], Any], Callable[[Config], list[str]]]] = [
    (
        "extension not started",
        lambda c: c["service"]["extensions"].remove("file_storage/reconify"),
        check_extensions_started,
    ),
    (
        "unused exporter",
        lambda c: c["exporters"].update(debug={"verbosity": "basic"}),
        check_unused_components,
    ),
    (
        "unused processor",
        lambda c: c["processors"].update({"attributes/x": {}}),
        check_unused_components,
    ),
    (
        "memory_limiter not first",
        lambda c: reconify_processors(c).reverse(),
        check_memory_limiter_first,
    ),
    (
        "batch before the queue",
        lambda c: reconify_processors(c).append("batch"),
        check_no_batch_before_the_queue,
    ),
    (
        "batch before the logs queue",
        lambda c: c["service"]["pipelines"]["logs/reconify"]["processors"].append("batch"),
        check_no_batch_before_the_queue,
    ),
    (
        "literal bearer",
        lambda c: reconify(c)["headers"].update(Authorization="Bearer s3cr3t"),
        check_no_literal_secrets,
    ),
    (
        "secret default",
        lambda c: reconify(c)["headers"].update(Authorization="Bearer ${env:T:-abc123}"),
        check_no_literal_secrets,
    ),
    (
        "scheme-less reference",
        lambda c: c["exporters"]["otlp/jaeger"].update(endpoint="${JAEGER_HOST}:4317"),
        check_env_reference_syntax,
    ),
    (
        "bare $NAME",
        lambda c: c["exporters"]["otlp/jaeger"].update(endpoint="$JAEGER_HOST:4317"),
        check_env_reference_syntax,
    ),
    (
        "receiver on localhost",
        lambda c: c["receivers"]["otlp"]["protocols"]["grpc"].update(endpoint="localhost:4317"),
        check_receivers_bind_all,
    ),
    (
        "receiver on its default",
        lambda c: c["receivers"]["otlp"]["protocols"].update(http=None),
        check_receivers_bind_all,
    ),
    (
        "health_check on localhost",
        lambda c: c["extensions"]["health_check"].update(endpoint="localhost:13133"),
        check_receivers_bind_all,
    ),
    (
        "bridge port 80",
        lambda c: reconify(c).update(endpoint="${env:RECONIFY_BRIDGE_ENDPOINT:-http://b:80}"),
        check_reconify_exporter,
    ),
    (
        "bridge URL with a path",
        lambda c: reconify(c).update(endpoint="http://b:4318/v1/traces"),
        check_reconify_exporter,
    ),
    ("no compression", lambda c: reconify(c).update(compression="none"), check_reconify_exporter),
    (
        "filter error_mode propagate",
        lambda c: c["processors"]["filter/genai"].update(error_mode="propagate"),
        check_genai_filter,
    ),
]


@pytest.mark.parametrize(("what", "breaker", "check"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_copy_is_rejected(
    what: str,
    breaker: Callable[[Config], Any],
    check: Callable[[Config], list[str]],
    config: Config,
) -> None:
    broken = copy.deepcopy(config)
    breaker(broken)
    assert check(broken), f"{check.__name__} accepted a copy with: {what}"


def test_a_bind_without_its_reason_is_rejected() -> None:
    text = CONFIG_PATH.read_text(encoding="utf-8")
    text = text.replace("      # 0.0.0.0, not the default localhost", "      # the receivers")
    assert check_bind_reasons(text) == [
        f"line {n}: 0.0.0.0 without a comment saying why"
        for n, line in enumerate(text.splitlines(), 1)
        if line.strip().startswith("endpoint: 0.0.0.0:431")
    ]


def test_broken_file_text_is_rejected(tmp_path: Path) -> None:
    """A broken copy written to disk fails through the same load + check path."""
    text = CONFIG_PATH.read_text(encoding="utf-8")
    before = "processors: [memory_limiter, filter/genai]"
    assert before in text
    broken_path = tmp_path / "broken.yaml"
    broken_path.write_text(
        text.replace(before, "processors: [filter/genai, memory_limiter, batch]")
    )
    problems = [p for check in ALL_CHECKS for p in check(load_config(broken_path))]
    assert any("memory_limiter is not the first" in p for p in problems)
    assert any("'batch' holds spans in memory" in p for p in problems)


def test_unparsable_yaml_is_rejected(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("receivers:\n  otlp: [unclosed\n", encoding="utf-8")
    with pytest.raises(yaml.YAMLError):
        load_config(bad)


# --------------------------------------------------------------------------- the overlay


def traces_exporters(o: Config) -> list[str]:
    exporters: list[str] = o["service"]["pipelines"]["traces"]["exporters"]
    return exporters


OVERLAY_BROKEN: list[tuple[str, Callable[[Config], Any], str]] = [
    (
        "drops the base's Jaeger exporter (lists are replaced whole)",
        lambda o: traces_exporters(o).remove("otlp/jaeger"),
        "overlay pipeline 'traces' drops the base's exporters ['otlp/jaeger']",
    ),
    (
        "connector on one side only",
        lambda o: o["service"]["pipelines"].pop("metrics/datadog"),
        "connector 'datadog/connector' must export from one pipeline into another",
    ),
    (
        "exporter defined, used nowhere",
        lambda o: o["exporters"].update({"datadog/eu": {"api": {"key": "${env:DD_EU_KEY}"}}}),
        "overlay component 'datadog/eu' is used by no pipeline",
    ),
    (
        "a pipeline names an undefined component",
        lambda o: traces_exporters(o).append("datadog/missing"),
        "overlay pipeline 'traces': exporters 'datadog/missing' is not defined",
    ),
    (
        "a component that is not Datadog's",
        lambda o: o["exporters"].update(debug={}),
        "overlay defines 'debug', not a Datadog component",
    ),
    (
        "changes the base's settings",
        lambda o: o.update(processors={"batch": {"timeout": "1s"}}),
        "overlay changes ['processors']",
    ),
    (
        "changes service settings",
        lambda o: o["service"].update(extensions=["health_check"]),
        "overlay changes service settings other than pipelines",
    ),
]


@pytest.mark.parametrize(
    ("what", "breaker", "problem"), OVERLAY_BROKEN, ids=[b[0] for b in OVERLAY_BROKEN]
)
def test_broken_overlay_is_rejected(
    what: str, breaker: Callable[[Config], Any], problem: str, config: Config, overlay: Config
) -> None:
    broken = copy.deepcopy(overlay)
    breaker(broken)
    assert problem in check_overlay(config, broken), what


def test_a_literal_datadog_key_in_the_overlay_is_rejected(config: Config, overlay: Config) -> None:
    broken = copy.deepcopy(overlay)
    broken["exporters"]["datadog"]["api"]["key"] = "0123456789abcdef0123456789abcdef"
    assert check_no_literal_secrets(merged(config, broken)) == [
        "exporters.datadog.api.key: secret is not an ${env:NAME} reference"
    ]
