"""The offline layer: otel-collector-config.yaml and collector/datadog-overlay.yaml pass
every check a real Collector cannot make (collector_checks.py, collector_value_checks.py),
and hold the values docs/collector.md states. test_collector_config_broken.py proves each
check can fail; test_real_collector_*.py run the files on a real Collector."""

from __future__ import annotations

import re
from typing import Any

import pytest

from .collector_checks import (
    CONFIG_PATH,
    OVERLAY_PATH,
    check_memory_limiter_first,
    check_overlay,
    check_unused_components,
    load_config,
    merged,
    pipelines,
    resolve_defaults,
)
from .collector_value_checks import (
    ALL_CHECKS,
    check_bind_reasons,
    check_env_reference_syntax,
    check_no_literal_secrets,
)


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return load_config()


@pytest.fixture(scope="module")
def overlay() -> dict[str, Any]:
    return load_config(OVERLAY_PATH)


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda f: f.__name__)
def test_the_base_passes(check: Any, config: dict[str, Any]) -> None:
    assert check(config) == []


def test_every_0_0_0_0_bind_says_why() -> None:
    assert check_bind_reasons(CONFIG_PATH.read_text(encoding="utf-8")) == []


def test_the_datadog_overlay_passes(config: dict[str, Any], overlay: dict[str, Any]) -> None:
    assert check_overlay(config, overlay) == []


@pytest.mark.parametrize(
    "check",
    [
        check_unused_components,
        check_memory_limiter_first,
        check_no_literal_secrets,
        check_env_reference_syntax,
    ],
    ids=lambda f: f.__name__,
)
def test_base_plus_overlay_passes(
    check: Any, config: dict[str, Any], overlay: dict[str, Any]
) -> None:
    assert check(merged(config, overlay)) == []


def test_the_overlay_adds_datadog_to_the_traces_and_its_own_metrics_pipeline(
    config: dict[str, Any], overlay: dict[str, Any]
) -> None:
    full = merged(config, overlay)
    pipes = pipelines(full)
    assert set(pipes) == {"traces", "traces/reconify", "logs/reconify", "metrics/datadog"}
    assert pipes["traces"]["exporters"] == ["otlp/jaeger", "datadog", "datadog/connector"]
    assert pipes["traces"]["receivers"] == pipelines(config)["traces"]["receivers"]
    assert pipes["metrics/datadog"] == {
        "receivers": ["datadog/connector"],
        "processors": ["memory_limiter", "batch"],
        "exporters": ["datadog"],
    }
    assert pipes["traces/reconify"] == pipelines(config)["traces/reconify"]
    assert pipes["logs/reconify"] == pipelines(config)["logs/reconify"]
    api = full["exporters"]["datadog"]["api"]
    assert api["key"] == "${env:DD_API_KEY}"
    assert resolve_defaults(api["site"]) == "datadoghq.com"


def test_the_values_docs_collector_md_states(config: dict[str, Any]) -> None:
    assert config["extensions"]["health_check"]["endpoint"] == "0.0.0.0:13133"
    storage = config["extensions"]["file_storage/reconify"]
    assert (storage["directory"], storage["create_directory"]) == (
        "/var/lib/otelcol/reconify",
        True,
    )
    exporters = config["exporters"]
    assert resolve_defaults(exporters["otlp/jaeger"]["endpoint"]) == "jaeger:4317"
    reconify = exporters["otlphttp/reconify"]
    assert resolve_defaults(reconify["endpoint"]) == "http://reconify-bridge:4318"
    retry = reconify["retry_on_failure"]
    assert (retry["initial_interval"], retry["max_interval"], retry["max_elapsed_time"]) == (
        "5s",
        "30s",
        "300s",
    )
    queue = reconify["sending_queue"]
    assert (queue["storage"], queue["num_consumers"], queue["queue_size"]) == (
        "file_storage/reconify",
        4,
        1000,
    )
    assert queue["batch"] == {
        "sizer": "items",
        "min_size": 256,
        "max_size": 512,
        "flush_timeout": "1s",
    }
    assert pipelines(config)["traces/reconify"]["processors"] == ["memory_limiter", "filter/genai"]
    assert pipelines(config)["logs/reconify"] == {
        "receivers": ["otlp"],
        "processors": ["memory_limiter", "filter/genai-events"],
        "exporters": ["otlphttp/reconify"],
    }


@pytest.mark.parametrize("path", [CONFIG_PATH, OVERLAY_PATH], ids=lambda p: p.name)
def test_no_secret_like_literals_in_the_text(path: Any) -> None:
    text = path.read_text(encoding="utf-8")
    # A Datadog API key is 32 hex chars; bearer tokens are long opaque strings.
    assert not re.search(r"\b[0-9a-f]{32}\b", text)
    assert not re.search(r"Bearer (?!\$\{env:)", text)


# --------------------------------------------------------------------------- helpers


def test_resolve_defaults() -> None:
    assert resolve_defaults("${env:X:-http://a:4318}") == "http://a:4318"
    assert resolve_defaults("Bearer ${env:T}") == "Bearer "
    assert resolve_defaults("plain") == "plain"


def test_merged_replaces_lists_and_merges_maps() -> None:
    base = {"a": {"x": 1, "l": [1, 2]}, "b": 2}
    assert merged(base, {"a": {"l": [3], "y": 4}}) == {"a": {"x": 1, "l": [3], "y": 4}, "b": 2}
