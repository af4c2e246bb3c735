"""Offline checks of otel-collector-config.yaml (no Collector binary needed).

The checker functions below return a list of problems (empty means fine). The tests run
them on the real file and, to prove each check can fail, on deliberately broken copies.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

CONFIG_PATH = Path(__file__).resolve().parent.parent / "otel-collector-config.yaml"

PIPELINE_SIGNALS = {"traces", "metrics", "logs", "profiles"}

# Component types removed from the Collector (contrib); a config using them fails to load.
REMOVED_TYPES: dict[str, dict[str, str]] = {
    "exporters": {
        "jaeger": "removed in v0.85; use otlp/jaeger (Jaeger ingests OTLP)",
        "jaeger_thrift": "removed in v0.85; use otlp/jaeger or otlphttp/jaeger",
        "logging": "removed in favour of the debug exporter",
    },
    "processors": {
        "spanmetrics": "removed; use the spanmetrics connector",
    },
    "extensions": {
        "memory_ballast": "removed; use memory_limiter / GOMEMLIMIT",
    },
    "receivers": {},
    "connectors": {},
}

# Go time.ParseDuration syntax (sign and the bare "0" accepted, as Go does).
_GO_DURATION = re.compile(r"^[-+]?(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$")
_GO_DURATION_ZERO = re.compile(r"^[-+]?0$")

DURATION_KEYS = {
    "check_interval",
    "timeout",
    "initial_interval",
    "max_interval",
    "max_elapsed_time",
    "interval",
    "flush_timeout",
    "idle_conn_timeout",
    "read_timeout",
    "write_timeout",
    "read_header_timeout",
    "collection_interval",
    "decision_wait",
}

_SECRET_KEY = re.compile(
    r"(^|[-_])(key|token|secret|password|passwd|authorization|apikey|api[-_]key|credentials?)$",
    re.IGNORECASE,
)
# Keys that end like a secret but hold a path or a routing choice.
_NOT_SECRET_KEYS = {"routing_key", "key_file", "cert_file", "ca_file", "client_ca_file"}

_REF = re.compile(r"(?<!\$)\$\{([^}]*)\}")
_ENV_REF = re.compile(r"^env:([A-Za-z_][A-Za-z0-9_]*)(:-(.*))?$", re.DOTALL)
_AUTH_SCHEMES = {"", "bearer", "basic", "apikey", "token"}


# --------------------------------------------------------------------------- helpers


def load_config(path: Path = CONFIG_PATH) -> dict[str, Any]:
    with path.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    assert isinstance(data, dict), "config root must be a mapping"
    return data


def component_type(component_id: str) -> str:
    return component_id.split("/", 1)[0]


def section(config: dict[str, Any], name: str) -> dict[str, Any]:
    value = config.get(name) or {}
    return value if isinstance(value, dict) else {}


def pipelines(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    service = section(config, "service")
    value = service.get("pipelines") or {}
    return value if isinstance(value, dict) else {}


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
        env = _ENV_REF.match(match.group(1))
        if env is None:
            return match.group(0)
        return env.group(3) or ""

    return _REF.sub(repl, value)


def is_go_duration(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    return bool(_GO_DURATION_ZERO.match(value) or _GO_DURATION.match(value))


# --------------------------------------------------------------------------- checkers


def check_pipeline_references(config: dict[str, Any]) -> list[str]:
    problems = []
    receivers = section(config, "receivers")
    processors = section(config, "processors")
    exporters = section(config, "exporters")
    connectors = section(config, "connectors")
    all_pipelines = pipelines(config)
    if not all_pipelines:
        problems.append("service.pipelines is empty")
    for pid, pipe in all_pipelines.items():
        if component_type(pid) not in PIPELINE_SIGNALS:
            problems.append(f"pipeline {pid!r}: unknown signal type")
        if not isinstance(pipe, dict):
            problems.append(f"pipeline {pid!r} is not a mapping")
            continue
        if not pipe.get("receivers"):
            problems.append(f"pipeline {pid!r} has no receivers")
        if not pipe.get("exporters"):
            problems.append(f"pipeline {pid!r} has no exporters")
        for cid in pipe.get("receivers") or []:
            if cid not in receivers and cid not in connectors:
                problems.append(f"pipeline {pid!r}: receiver {cid!r} is not defined")
        for cid in pipe.get("processors") or []:
            if cid not in processors:
                problems.append(f"pipeline {pid!r}: processor {cid!r} is not defined")
        for cid in pipe.get("exporters") or []:
            if cid not in exporters and cid not in connectors:
                problems.append(f"pipeline {pid!r}: exporter {cid!r} is not defined")
    return problems


def check_connectors(config: dict[str, Any]) -> list[str]:
    problems = []
    all_pipelines = pipelines(config)
    for cid in section(config, "connectors"):
        as_exporter = {p for p, v in all_pipelines.items() if cid in (v.get("exporters") or [])}
        as_receiver = {p for p, v in all_pipelines.items() if cid in (v.get("receivers") or [])}
        if not as_exporter:
            problems.append(f"connector {cid!r} is not used as an exporter in any pipeline")
        if not as_receiver:
            problems.append(f"connector {cid!r} is not used as a receiver in any pipeline")
        if as_exporter and as_receiver and as_exporter == as_receiver:
            problems.append(f"connector {cid!r} feeds back into the same pipeline")
    return problems


def check_extensions(config: dict[str, Any]) -> list[str]:
    problems = []
    defined = set(section(config, "extensions"))
    listed = section(config, "service").get("extensions") or []
    for eid in listed:
        if eid not in defined:
            problems.append(f"service.extensions lists undefined extension {eid!r}")
    for eid in sorted(defined - set(listed)):
        problems.append(f"extension {eid!r} is defined but not listed in service.extensions")
    if len(listed) != len(set(listed)):
        problems.append("service.extensions has duplicates")
    return problems


def check_unused_components(config: dict[str, Any]) -> list[str]:
    used: set[str] = set()
    for pipe in pipelines(config).values():
        for kind in ("receivers", "processors", "exporters"):
            used.update(pipe.get(kind) or [])
    problems = []
    for name in ("receivers", "processors", "exporters"):
        for cid in section(config, name):
            if cid not in used:
                problems.append(f"{name[:-1]} {cid!r} is defined but used by no pipeline")
    return problems


def check_memory_limiter_first(config: dict[str, Any]) -> list[str]:
    problems = []
    for pid, pipe in pipelines(config).items():
        procs = pipe.get("processors") or []
        if not procs or component_type(procs[0]) != "memory_limiter":
            problems.append(f"pipeline {pid!r}: memory_limiter is not the first processor")
    return problems


def check_batch_after_filter(config: dict[str, Any]) -> list[str]:
    problems = []
    for pid, pipe in pipelines(config).items():
        types = [component_type(p) for p in pipe.get("processors") or []]
        batches = [i for i, t in enumerate(types) if t == "batch"]
        filters = [i for i, t in enumerate(types) if t == "filter"]
        if batches and filters and min(batches) < max(filters):
            problems.append(f"pipeline {pid!r}: batch runs before filter")
    return problems


def check_removed_types(config: dict[str, Any]) -> list[str]:
    problems = []
    for kind, removed in REMOVED_TYPES.items():
        for cid in section(config, kind):
            why = removed.get(component_type(cid))
            if why:
                problems.append(f"{kind} {cid!r}: {why}")
    return problems


def check_no_literal_secrets(config: dict[str, Any]) -> list[str]:
    problems = []
    for path, value in walk(config):
        if not path:
            continue
        key = path[-1]
        if key.lower() in _NOT_SECRET_KEYS or not _SECRET_KEY.search(key):
            continue
        where = ".".join(path)
        if value is None:
            continue
        if not isinstance(value, str):
            problems.append(f"{where}: secret-looking value is not an ${{env:NAME}} reference")
            continue
        refs = [_ENV_REF.match(m.group(1)) for m in _REF.finditer(value)]
        if not refs or any(r is None for r in refs):
            problems.append(f"{where}: secret is not an ${{env:NAME}} reference")
            continue
        if any(r is not None and r.group(3) for r in refs):
            problems.append(f"{where}: secret reference carries a literal default")
        rest = _REF.sub("", value).strip().lower()
        if rest not in _AUTH_SCHEMES:
            problems.append(f"{where}: literal text {rest!r} beside the env reference")
    return problems


def check_env_reference_syntax(config: dict[str, Any]) -> list[str]:
    problems = []
    for path, value in walk(config):
        if not isinstance(value, str):
            continue
        for match in _REF.finditer(value):
            if not _ENV_REF.match(match.group(1)):
                problems.append(
                    f"{'.'.join(path)}: {match.group(0)!r} is not ${{env:NAME}} or "
                    "${env:NAME:-default}"
                )
        # A bare $NAME is the deprecated expansion form.
        if re.search(r"(?<!\$)\$[A-Za-z_]", value):
            problems.append(f"{'.'.join(path)}: bare $NAME expansion; use ${{env:NAME}}")
    return problems


def check_durations(config: dict[str, Any]) -> list[str]:
    problems = []
    for path, value in walk(config):
        if not path or path[-1] not in DURATION_KEYS:
            continue
        candidate = resolve_defaults(value) if isinstance(value, str) else value
        if not is_go_duration(candidate):
            problems.append(f"{'.'.join(path)}: {value!r} is not a Go duration")
    return problems


def _host_port(endpoint: str) -> tuple[str, str]:
    host, _, port = resolve_defaults(endpoint).rpartition(":")
    return host, port


def check_receivers_bind_all(config: dict[str, Any]) -> list[str]:
    problems = []
    for rid, rcfg in section(config, "receivers").items():
        if component_type(rid) != "otlp":
            continue
        protocols = (rcfg or {}).get("protocols") or {}
        expected = {"grpc": "4317", "http": "4318"}
        for proto, port in expected.items():
            pcfg = protocols.get(proto)
            if pcfg is None:
                problems.append(f"receiver {rid!r}: protocol {proto} not enabled")
                continue
            endpoint = (pcfg or {}).get("endpoint")
            if not isinstance(endpoint, str):
                problems.append(f"receiver {rid!r}.{proto}: no endpoint (default is localhost)")
                continue
            host, got_port = _host_port(endpoint)
            if host != "0.0.0.0":
                problems.append(f"receiver {rid!r}.{proto}: binds {host!r}, not 0.0.0.0")
            if got_port != port:
                problems.append(f"receiver {rid!r}.{proto}: port {got_port}, expected {port}")
    for xid, xcfg in section(config, "extensions").items():
        if component_type(xid) == "health_check":
            host, _ = _host_port(str((xcfg or {}).get("endpoint", "localhost:13133")))
            if host != "0.0.0.0":
                problems.append(f"extension {xid!r} binds {host!r}, not 0.0.0.0")
    return problems


def _reconify_exporter(config: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    for eid, ecfg in section(config, "exporters").items():
        etype, _, name = eid.partition("/")
        if etype in {"otlphttp", "otlp_http"} and name == "reconify":
            return eid, ecfg or {}
    return None


def check_reconify_exporter(config: dict[str, Any]) -> list[str]:
    found = _reconify_exporter(config)
    if found is None:
        return ["no otlphttp/reconify exporter"]
    eid, ecfg = found
    problems = []
    endpoint = resolve_defaults(str(ecfg.get("endpoint", "")))
    url = urlsplit(endpoint)
    if url.scheme not in {"http", "https"} or url.port != 4318:
        problems.append(f"{eid}: endpoint {endpoint!r} is not an http(s) URL on port 4318")
    if url.path not in {"", "/"}:
        problems.append(f"{eid}: endpoint has a path; the exporter appends /v1/traces itself")
    if ecfg.get("compression") != "gzip":
        problems.append(f"{eid}: compression is not gzip")
    headers = ecfg.get("headers") or {}
    auth = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
    if not isinstance(auth, str) or not re.fullmatch(
        r"Bearer \$\{env:RECONIFY_BRIDGE_TOKEN\}", auth
    ):
        problems.append(f"{eid}: Authorization header is not 'Bearer ${{env:...TOKEN}}'")
    retry = ecfg.get("retry_on_failure") or {}
    if retry.get("enabled") is False or not retry:
        problems.append(f"{eid}: retry_on_failure is not enabled")
    queue = ecfg.get("sending_queue") or {}
    if queue.get("enabled") is not True:
        problems.append(f"{eid}: sending_queue is not enabled")
    storage = queue.get("storage")
    extensions = section(config, "extensions")
    listed = section(config, "service").get("extensions") or []
    if not storage:
        problems.append(f"{eid}: sending_queue has no storage (queue lost on restart)")
    elif component_type(storage) != "file_storage" or storage not in extensions:
        problems.append(f"{eid}: storage {storage!r} is not a defined file_storage extension")
    elif storage not in listed:
        problems.append(f"{eid}: storage {storage!r} is not listed in service.extensions")
    return problems


def check_genai_filter(config: dict[str, Any]) -> list[str]:
    problems = []
    processors = section(config, "processors")
    fcfg = processors.get("filter/genai")
    if not isinstance(fcfg, dict):
        return ["processor filter/genai is not defined"]
    if fcfg.get("error_mode") != "ignore":
        problems.append("filter/genai: error_mode is not ignore")
    conditions = ((fcfg.get("traces") or {}).get("span")) or []
    if len(conditions) != 1:
        problems.append("filter/genai: expected exactly one span condition")
    for cond in conditions:
        text = str(cond)
        if not text.startswith("not ("):
            problems.append("filter/genai: condition must be a negation (keep GenAI, drop rest)")
        for needle in (
            'attributes["gen_ai.provider.name"] != nil',
            'attributes["gen_ai.system"] != nil',
        ):
            if needle not in text:
                problems.append(f"filter/genai: missing {needle}")
        if text.count("(") != text.count(")") or text.count('"') % 2:
            problems.append("filter/genai: unbalanced parentheses or quotes")
        for pattern in re.findall(r'IsMatch\(name, "([^"]*)"\)', text):
            try:
                re.compile(pattern)
            except re.error as exc:
                problems.append(f"filter/genai: bad regex {pattern!r}: {exc}")
    for pid, pipe in pipelines(config).items():
        if "filter/genai" in (pipe.get("processors") or []) and not any(
            component_type(e) in {"otlphttp", "otlp_http"} for e in pipe.get("exporters") or []
        ):
            problems.append(f"pipeline {pid!r}: filter/genai used outside the reconify route")
    return problems


ALL_CHECKS = [
    check_pipeline_references,
    check_connectors,
    check_extensions,
    check_unused_components,
    check_memory_limiter_first,
    check_batch_after_filter,
    check_removed_types,
    check_no_literal_secrets,
    check_env_reference_syntax,
    check_durations,
    check_receivers_bind_all,
    check_reconify_exporter,
    check_genai_filter,
]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return load_config()


# --------------------------------------------------------------------------- real file


def test_file_parses(config: dict[str, Any]) -> None:
    for top in ("receivers", "processors", "exporters", "connectors", "extensions", "service"):
        assert isinstance(config.get(top), dict), f"missing section {top}"


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda f: f.__name__)
def test_config_passes(check: Any, config: dict[str, Any]) -> None:
    assert check(config) == []


def test_expected_pipelines(config: dict[str, Any]) -> None:
    pipes = pipelines(config)
    assert set(pipes) == {"traces", "metrics/datadog", "traces/reconify"}
    assert {"otlp/jaeger", "datadog", "datadog/connector"} <= set(pipes["traces"]["exporters"])
    assert pipes["metrics/datadog"]["receivers"] == ["datadog/connector"]
    assert pipes["metrics/datadog"]["exporters"] == ["datadog"]
    assert pipes["traces/reconify"]["exporters"] == ["otlphttp/reconify"]
    assert pipes["traces/reconify"]["processors"][1] == "filter/genai"


def test_memory_limiter_settings(config: dict[str, Any]) -> None:
    ml = config["processors"]["memory_limiter"]
    assert ml["check_interval"] == "1s"
    assert 0 < ml["spike_limit_mib"] < ml["limit_mib"]


def test_jaeger_and_datadog_exporters(config: dict[str, Any]) -> None:
    jaeger = config["exporters"]["otlp/jaeger"]
    assert _host_port(jaeger["endpoint"]) == ("jaeger", "4317")
    assert jaeger["tls"]["insecure"] is True
    api = config["exporters"]["datadog"]["api"]
    assert api["key"] == "${env:DD_API_KEY}"
    assert resolve_defaults(api["site"]) == "datadoghq.com"


def test_reconify_retry_and_storage(config: dict[str, Any]) -> None:
    exp = config["exporters"]["otlphttp/reconify"]
    retry = exp["retry_on_failure"]
    assert (retry["initial_interval"], retry["max_interval"], retry["max_elapsed_time"]) == (
        "5s",
        "30s",
        "300s",
    )
    assert exp["sending_queue"]["num_consumers"] >= 1
    assert exp["sending_queue"]["queue_size"] >= exp["sending_queue"]["num_consumers"]
    storage = config["extensions"]["file_storage/reconify"]
    assert storage["directory"] == "/var/lib/otelcol/reconify"
    assert storage["create_directory"] is True


def test_health_check_port(config: dict[str, Any]) -> None:
    assert config["extensions"]["health_check"]["endpoint"] == "0.0.0.0:13133"


def test_no_secret_like_literals_anywhere() -> None:
    text = CONFIG_PATH.read_text(encoding="utf-8")
    # A Datadog API key is 32 hex chars; bearer tokens are long opaque strings.
    assert not re.search(r"\b[0-9a-f]{32}\b", text)
    assert not re.search(r"Bearer (?!\$\{env:)", text)


# --------------------------------------------------------------------------- helpers


@pytest.mark.parametrize(
    "value",
    ["1s", "300ms", "1.5h", "2h45m", "1h30m10s", "10us", "10µs", "0", "500ns", "-1s"],
)
def test_go_duration_accepts(value: str) -> None:
    assert is_go_duration(value)


@pytest.mark.parametrize("value", ["", "1", "1 s", "5sec", "1d", "s", "1.s5", "10", 5, None])
def test_go_duration_rejects(value: Any) -> None:
    assert not is_go_duration(value)


def test_resolve_defaults() -> None:
    assert resolve_defaults("${env:X:-http://a:4318}") == "http://a:4318"
    assert resolve_defaults("Bearer ${env:T}") == "Bearer "
    assert resolve_defaults("plain") == "plain"


# --------------------------------------------------------------------------- broken copies


def _break_undefined_processor(c: dict[str, Any]) -> None:
    c["service"]["pipelines"]["traces"]["processors"].append("attributes/missing")


def _break_undefined_exporter(c: dict[str, Any]) -> None:
    c["service"]["pipelines"]["traces"]["exporters"].append("otlp/nowhere")


def _break_connector_one_sided(c: dict[str, Any]) -> None:
    del c["service"]["pipelines"]["metrics/datadog"]


def _break_extension_unlisted(c: dict[str, Any]) -> None:
    c["service"]["extensions"].remove("file_storage/reconify")


def _break_extension_undefined(c: dict[str, Any]) -> None:
    c["service"]["extensions"].append("pprof")


def _break_unused_exporter(c: dict[str, Any]) -> None:
    c["exporters"]["debug"] = {"verbosity": "basic"}


def _break_memory_limiter_not_first(c: dict[str, Any]) -> None:
    procs = c["service"]["pipelines"]["traces/reconify"]["processors"]
    procs.insert(0, procs.pop(procs.index("filter/genai")))


def _break_batch_before_filter(c: dict[str, Any]) -> None:
    c["service"]["pipelines"]["traces/reconify"]["processors"] = [
        "memory_limiter",
        "batch/reconify",
        "filter/genai",
    ]


def _break_removed_jaeger(c: dict[str, Any]) -> None:
    c["exporters"]["jaeger"] = {"endpoint": "jaeger:14250"}


def _break_removed_logging(c: dict[str, Any]) -> None:
    c["exporters"]["logging"] = {}


def _break_literal_api_key(c: dict[str, Any]) -> None:
    c["exporters"]["datadog"]["api"]["key"] = "0123456789abcdef0123456789abcdef"


def _break_literal_bearer(c: dict[str, Any]) -> None:
    c["exporters"]["otlphttp/reconify"]["headers"]["Authorization"] = "Bearer s3cr3t"


def _break_secret_default(c: dict[str, Any]) -> None:
    c["exporters"]["datadog"]["api"]["key"] = "${env:DD_API_KEY:-abc123}"


def _break_old_env_syntax(c: dict[str, Any]) -> None:
    c["exporters"]["datadog"]["api"]["site"] = "${DD_SITE}"


def _break_bare_env(c: dict[str, Any]) -> None:
    c["exporters"]["otlp/jaeger"]["endpoint"] = "$JAEGER_HOST:4317"


def _break_duration(c: dict[str, Any]) -> None:
    c["processors"]["memory_limiter"]["check_interval"] = "1sec"


def _break_duration_int(c: dict[str, Any]) -> None:
    c["exporters"]["otlphttp/reconify"]["retry_on_failure"]["max_interval"] = 30


def _break_localhost_receiver(c: dict[str, Any]) -> None:
    c["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"] = "localhost:4317"


def _break_default_receiver(c: dict[str, Any]) -> None:
    c["receivers"]["otlp"]["protocols"]["http"] = None


def _break_reconify_port(c: dict[str, Any]) -> None:
    c["exporters"]["otlphttp/reconify"]["endpoint"] = "${env:RECONIFY_ENDPOINT:-http://b:80}"


def _break_reconify_compression(c: dict[str, Any]) -> None:
    c["exporters"]["otlphttp/reconify"]["compression"] = "none"


def _break_reconify_storage(c: dict[str, Any]) -> None:
    c["exporters"]["otlphttp/reconify"]["sending_queue"]["storage"] = "file_storage/other"


def _break_reconify_no_storage(c: dict[str, Any]) -> None:
    del c["exporters"]["otlphttp/reconify"]["sending_queue"]["storage"]


def _break_filter_error_mode(c: dict[str, Any]) -> None:
    c["processors"]["filter/genai"]["error_mode"] = "propagate"


def _break_filter_not_negated(c: dict[str, Any]) -> None:
    span = c["processors"]["filter/genai"]["traces"]["span"]
    span[0] = span[0].removeprefix("not ")


BROKEN = [
    (_break_undefined_processor, check_pipeline_references),
    (_break_undefined_exporter, check_pipeline_references),
    (_break_connector_one_sided, check_connectors),
    (_break_extension_unlisted, check_extensions),
    (_break_extension_undefined, check_extensions),
    (_break_unused_exporter, check_unused_components),
    (_break_memory_limiter_not_first, check_memory_limiter_first),
    (_break_batch_before_filter, check_batch_after_filter),
    (_break_removed_jaeger, check_removed_types),
    (_break_removed_logging, check_removed_types),
    (_break_literal_api_key, check_no_literal_secrets),
    (_break_literal_bearer, check_no_literal_secrets),
    (_break_secret_default, check_no_literal_secrets),
    (_break_old_env_syntax, check_env_reference_syntax),
    (_break_bare_env, check_env_reference_syntax),
    (_break_duration, check_durations),
    (_break_duration_int, check_durations),
    (_break_localhost_receiver, check_receivers_bind_all),
    (_break_default_receiver, check_receivers_bind_all),
    (_break_reconify_port, check_reconify_exporter),
    (_break_reconify_compression, check_reconify_exporter),
    (_break_reconify_storage, check_reconify_exporter),
    (_break_reconify_no_storage, check_reconify_exporter),
    (_break_filter_error_mode, check_genai_filter),
    (_break_filter_not_negated, check_genai_filter),
]


@pytest.mark.parametrize(("breaker", "check"), BROKEN, ids=lambda f: f.__name__)
def test_broken_copy_is_rejected(breaker: Any, check: Any, config: dict[str, Any]) -> None:
    broken = copy.deepcopy(config)
    breaker(broken)
    assert check(broken), f"{check.__name__} accepted a config broken by {breaker.__name__}"


def test_broken_file_text_is_rejected(tmp_path: Path) -> None:
    """A broken copy written to disk fails through the same load + check path."""
    text = CONFIG_PATH.read_text(encoding="utf-8")
    text = text.replace(
        "processors: [memory_limiter, filter/genai, batch/reconify]",
        "processors: [filter/genai, memory_limiter, batch/reconify, transform/missing]",
    )
    broken_path = tmp_path / "broken.yaml"
    broken_path.write_text(text, encoding="utf-8")
    broken = load_config(broken_path)
    problems = [p for check in ALL_CHECKS for p in check(broken)]
    assert any("memory_limiter is not the first" in p for p in problems)
    assert any("'transform/missing' is not defined" in p for p in problems)


def test_unparsable_yaml_is_rejected(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("receivers:\n  otlp: [unclosed\n", encoding="utf-8")
    with pytest.raises(yaml.YAMLError):
        load_config(bad)
