"""Value checks of the Collector configuration that a real Collector cannot tell: no
literal secrets, ``${env:NAME}`` reference syntax, receivers bound to 0.0.0.0 (with the
reason in a comment), the defaults the tests override (bridge endpoint), and the
GenAI filter's error mode. ``ALL_CHECKS``: every checker the shipped base must pass.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from .collector_checks import (
    ENV_REF,
    REF,
    check_extensions_started,
    check_memory_limiter_first,
    check_no_batch_before_the_queue,
    check_unused_components,
    component_type,
    resolve_defaults,
    section,
    walk,
)

SECRET_KEY = re.compile(
    r"(^|[-_])(key|token|secret|password|passwd|authorization|apikey|api[-_]key|credentials?)$",
    re.IGNORECASE,
)
# Keys that end like a secret but hold a path or a routing choice.
NOT_SECRET_KEYS = {"routing_key", "key_file", "cert_file", "ca_file", "client_ca_file"}
AUTH_SCHEMES = {"", "bearer", "basic", "apikey", "token"}


def check_no_literal_secrets(config: dict[str, Any]) -> list[str]:
    problems = []
    for path, value in walk(config):
        if not path or value is None:
            continue
        key = path[-1]
        if key.lower() in NOT_SECRET_KEYS or not SECRET_KEY.search(key):
            continue
        where = ".".join(path)
        if not isinstance(value, str):
            problems.append(f"{where}: secret-looking value is not an ${{env:NAME}} reference")
            continue
        refs = [ENV_REF.match(m.group(1)) for m in REF.finditer(value)]
        if not refs or any(r is None for r in refs):
            problems.append(f"{where}: secret is not an ${{env:NAME}} reference")
            continue
        if any(r is not None and r.group(3) for r in refs):
            problems.append(f"{where}: secret reference carries a literal default")
        rest = REF.sub("", value).strip().lower()
        if rest not in AUTH_SCHEMES:
            problems.append(f"{where}: literal text {rest!r} beside the env reference")
    return problems


def check_env_reference_syntax(config: dict[str, Any]) -> list[str]:
    """Other forms load fine and are not expanded: the Collector would use them as text."""
    problems = []
    for path, value in walk(config):
        if not isinstance(value, str):
            continue
        for match in REF.finditer(value):
            if not ENV_REF.match(match.group(1)):
                problems.append(
                    f"{'.'.join(path)}: {match.group(0)!r} is not ${{env:NAME}} or "
                    "${env:NAME:-default}"
                )
        if re.search(r"(?<!\$)\$[A-Za-z_]", value):
            problems.append(f"{'.'.join(path)}: bare $NAME expansion; use ${{env:NAME}}")
    return problems


def host_port(endpoint: str) -> tuple[str, str]:
    host, _, port = resolve_defaults(endpoint).rpartition(":")
    return host, port


def check_receivers_bind_all(config: dict[str, Any]) -> list[str]:
    """The Collector's default, localhost, is unreachable from other containers."""
    problems = []
    for rid, rcfg in section(config, "receivers").items():
        if component_type(rid) != "otlp":
            continue
        protocols = (rcfg or {}).get("protocols") or {}
        for proto, port in {"grpc": "4317", "http": "4318"}.items():
            endpoint = (protocols.get(proto) or {}).get("endpoint")
            if not isinstance(endpoint, str):
                problems.append(f"receiver {rid!r}.{proto}: no endpoint (default is localhost)")
                continue
            if host_port(endpoint) != ("0.0.0.0", port):
                problems.append(f"receiver {rid!r}.{proto}: {endpoint!r}, not 0.0.0.0:{port}")
    for xid, xcfg in section(config, "extensions").items():
        if component_type(xid) == "health_check":
            host, _ = host_port(str((xcfg or {}).get("endpoint", "localhost:13133")))
            if host != "0.0.0.0":
                problems.append(f"extension {xid!r} binds {host!r}, not 0.0.0.0")
    return problems


def check_bind_reasons(text: str) -> list[str]:
    """Each 0.0.0.0 bind in the file's text has a comment saying why, in the comment
    block just above it or above its parent key."""
    lines = text.splitlines()
    problems = []
    for number, line in enumerate(lines):
        if line.lstrip().startswith("#") or "0.0.0.0" not in line:
            continue
        above = lines[max(0, number - 4) : number]
        if not any(a.lstrip().startswith("#") and "0.0.0.0" in a for a in above):
            problems.append(f"line {number + 1}: 0.0.0.0 without a comment saying why")
    return problems


def check_reconify_exporter(config: dict[str, Any]) -> list[str]:
    """The defaults the tests replace (they point the exporter at a loopback bridge)."""
    ecfg = section(config, "exporters").get("otlphttp/reconify")
    if not isinstance(ecfg, dict):
        return ["no otlphttp/reconify exporter"]
    problems = []
    endpoint = resolve_defaults(str(ecfg.get("endpoint", "")))
    url = urlsplit(endpoint)
    if url.scheme not in {"http", "https"} or url.port != 4318:
        problems.append(f"endpoint default {endpoint!r} is not an http(s) URL on port 4318")
    if url.path not in {"", "/"}:
        problems.append("endpoint has a path; the exporter appends /v1/traces itself")
    if ecfg.get("compression") != "gzip":
        problems.append("compression is not gzip")
    return problems


def check_genai_filter(config: dict[str, Any]) -> list[str]:
    """error_mode ignore: a span the condition cannot evaluate is kept and logged, instead
    of the whole batch failing (which the Collector accepts either way)."""
    fcfg = section(config, "processors").get("filter/genai")
    if not isinstance(fcfg, dict):
        return ["processor filter/genai is not defined"]
    return [] if fcfg.get("error_mode") == "ignore" else ["filter/genai: error_mode is not ignore"]


ALL_CHECKS = [
    check_extensions_started,
    check_unused_components,
    check_memory_limiter_first,
    check_no_batch_before_the_queue,
    check_no_literal_secrets,
    check_env_reference_syntax,
    check_receivers_bind_all,
    check_reconify_exporter,
    check_genai_filter,
]
