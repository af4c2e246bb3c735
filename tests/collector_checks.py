"""Offline checks of the Collector configuration: what a real Collector cannot tell.

``otelcol validate`` and the real-Collector tests (test_real_collector_*.py) already check
that component types exist, fields and durations parse, pipeline references resolve, the
filter's OTTL compiles and behaves. These checks cover the rest: choices the Collector
accepts silently (an unused component, memory_limiter not first, a batch processor
before the persistent queue, an extension defined but never started), and the Datadog
overlay, which no Collector that can be built here is able to load. Each checker returns
a list of problems; empty means fine. Value checks: collector_value_checks.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
CONFIG_PATH = ROOT / "otel-collector-config.yaml"
OVERLAY_PATH = ROOT / "collector" / "datadog-overlay.yaml"
RECONIFY_PIPELINE = "traces/reconify"
RECONIFY_PIPELINES = (RECONIFY_PIPELINE, "logs/reconify")
COMPONENT_KINDS = ("receivers", "processors", "exporters", "connectors", "extensions")

REF = re.compile(r"(?<!\$)\$\{([^}]*)\}")
ENV_REF = re.compile(r"^env:([A-Za-z_][A-Za-z0-9_]*)(:-(.*))?$", re.DOTALL)


# --------------------------------------------------------------------------- helpers


def load_config(path: Path = CONFIG_PATH) -> dict[str, Any]:
    with path.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    assert isinstance(data, dict), "config root must be a mapping"
    return data


def merged(base: Any, overlay: Any) -> Any:
    """The Collector's merge of two --config files: maps key by key, the later winning;
    anything else (lists included) replaced whole."""
    if isinstance(base, dict) and isinstance(overlay, dict):
        out = dict(base)
        for key, value in overlay.items():
            out[key] = merged(base[key], value) if key in base else value
        return out
    return overlay


def component_type(component_id: str) -> str:
    return component_id.split("/", 1)[0]


def section(config: dict[str, Any], name: str) -> dict[str, Any]:
    value = config.get(name) or {}
    return value if isinstance(value, dict) else {}


def pipelines(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    value = section(config, "service").get("pipelines") or {}
    return value if isinstance(value, dict) else {}


def named_by_pipelines(config: dict[str, Any]) -> set[str]:
    return {
        cid
        for pipe in pipelines(config).values()
        for kind in ("receivers", "processors", "exporters")
        for cid in pipe.get(kind) or []
    }


def walk(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Yield (key path, value) for every scalar in the document."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, (*path, str(key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, (*path, f"[{index}]"))
    else:
        yield path, node


def resolve_defaults(value: str) -> str:
    """Replace ${env:NAME:-default} by its default and ${env:NAME} by ''."""

    def repl(match: re.Match[str]) -> str:
        env = ENV_REF.match(match.group(1))
        if env is None:
            return match.group(0)
        return env.group(3) or ""

    return REF.sub(repl, value)


# --------------------------------------------------------------------------- checkers


def check_extensions_started(config: dict[str, Any]) -> list[str]:
    """An extension defined but not in service.extensions is never started; the
    Collector accepts that silently."""
    listed = set(section(config, "service").get("extensions") or [])
    return [
        f"extension {eid!r} is defined but not listed in service.extensions"
        for eid in sorted(set(section(config, "extensions")) - listed)
    ]


def check_unused_components(config: dict[str, Any]) -> list[str]:
    used = named_by_pipelines(config)
    return [
        f"{name[:-1]} {cid!r} is defined but used by no pipeline"
        for name in ("receivers", "processors", "exporters", "connectors")
        for cid in section(config, name)
        if cid not in used
    ]


def check_memory_limiter_first(config: dict[str, Any]) -> list[str]:
    problems = []
    for pid, pipe in pipelines(config).items():
        procs = pipe.get("processors") or []
        if not procs or component_type(procs[0]) != "memory_limiter":
            problems.append(f"pipeline {pid!r}: memory_limiter is not the first processor")
    return problems


def check_no_batch_before_the_queue(config: dict[str, Any]) -> list[str]:
    """The Reconify routes (spans, and the GenAI log events of calls) batch in their
    exporter's persistent queue: a batch processor would hold spans or events in memory
    before they reach the disk, where a crash loses them."""
    return [
        f"pipeline {name!r}: processor {pid!r} holds spans in memory before "
        "the persistent queue (batch in the exporter's sending_queue instead)"
        for name in RECONIFY_PIPELINES
        for pid in pipelines(config).get(name, {}).get("processors") or []
        if component_type(pid) == "batch"
    ]


def check_overlay(base: dict[str, Any], overlay: dict[str, Any]) -> list[str]:
    """collector/datadog-overlay.yaml on top of the base: it adds Datadog components only,
    each defined and used (a connector on both sides), keeps every component a restated
    list had in the base (the Collector replaces lists whole), and names nothing that
    neither file defines."""
    problems = []
    full = merged(base, overlay)
    if set(overlay) - {"exporters", "connectors", "service"}:
        problems.append(
            f"overlay changes {sorted(set(overlay) - {'exporters', 'connectors', 'service'})}"
        )
    if set(section(overlay, "service")) - {"pipelines"}:
        problems.append("overlay changes service settings other than pipelines")
    added = [cid for kind in COMPONENT_KINDS for cid in section(overlay, kind)]
    for cid in added:
        if component_type(cid) != "datadog":
            problems.append(f"overlay defines {cid!r}, not a Datadog component")
        elif cid not in named_by_pipelines(full):
            problems.append(f"overlay component {cid!r} is used by no pipeline")
    defined = {cid for kind in COMPONENT_KINDS for cid in section(full, kind)}
    for pid, pipe in pipelines(overlay).items():
        before = pipelines(base).get(pid, {})
        for kind, ids in pipe.items():
            for cid in ids or []:
                if cid not in defined:
                    problems.append(f"overlay pipeline {pid!r}: {kind} {cid!r} is not defined")
            lost = [cid for cid in before.get(kind) or [] if cid not in (ids or [])]
            if lost:
                problems.append(f"overlay pipeline {pid!r} drops the base's {kind} {lost}")
    for cid in section(overlay, "connectors"):
        full_pipes = pipelines(full)
        out = {p for p, v in full_pipes.items() if cid in (v.get("exporters") or [])}
        into = {p for p, v in full_pipes.items() if cid in (v.get("receivers") or [])}
        if not out or not into or out == into:
            problems.append(f"connector {cid!r} must export from one pipeline into another")
    return problems
