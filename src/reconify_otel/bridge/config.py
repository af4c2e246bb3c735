"""Bridge limits and token: explicit argument, then ``RECONIFY_BRIDGE_*`` variable, then default.

The same policy and machinery as the Reconify settings (``settings.read_options``), so a
container is configured by environment alone and a bad value fails at start, not per
request. ``BRIDGE_OPTIONS`` lists every limit once; docs/collector.md's table is checked
against it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any, Final

from reconify_otel.endpoint import is_loopback
from reconify_otel.settings import Option, Parse, Secret, numeric, pick, read_options

ENV_TOKEN: Final = "RECONIFY_BRIDGE_TOKEN"
MIB: Final = 1024 * 1024
# The most the bridge asks a client to wait, whatever Reconify asked of it: a Collector
# told to wait a day would hold (or drop) its queue for a day.
MAX_RETRY_AFTER: Final = 60.0
# The longest a call's span may wait for its GenAI log events: far below the Collector's
# 30 s per-attempt timeout, which would otherwise resend a batch still waiting here.
MAX_EVENTS_WAIT: Final = 10.0


@dataclass(frozen=True)
class BridgeConfig:
    token: Secret | None = None
    # The shipped Collector's batches (512 spans at most) stay far below these.
    max_body_bytes: int = 8 * MIB
    max_decompressed_bytes: int = 32 * MIB
    # Requests decoded and sent at once; beyond this the bridge answers 429.
    max_in_flight: int = 8
    # Request data held at once, counted as ``budget.cost`` estimates it; beyond: 429.
    max_request_memory: int = 512 * MIB
    # (trace_id, span_id) pairs remembered to absorb the Collector's whole-batch retries.
    dedup_window: int = 100_000
    # Retry-After (seconds) when Reconify gave none.
    retry_after: float = 5.0
    # Seconds a client may take to upload one body (a stalled upload answers 408).
    body_timeout: float = 30.0
    # Seconds from connecting (or from the first byte of the next request) to a full head.
    header_timeout: float = 10.0
    # Seconds an idle keep-alive connection stays open between requests.
    idle_timeout: float = 30.0
    # Connections open at once, lowered to fit the open-file limit (ulimit -n).
    max_connections: int = 512
    # Seconds a call's span without content waits for its GenAI log events (/v1/logs).
    events_wait: float = 1.0


def _option(
    name: str, kind: type, minimum: float, meaning: str, maximum: float | None = None
) -> Option:
    parse = numeric(kind, minimum)
    return Option(
        name,
        f"RECONIFY_BRIDGE_{name.upper()}",
        parse if maximum is None else _at_most(parse, maximum),
        meaning,
    )


def _at_most(parse: Parse, maximum: float) -> Parse:
    def bounded(value: Any, env: str, default: Any, name: str) -> Any:
        parsed = parse(value, env, default, name)
        if parsed > maximum:
            raise ValueError(f"{name} (or {env}) must be at most {maximum:g}, got a larger number")
        return parsed

    return bounded


BRIDGE_OPTIONS: Final = (
    _option("max_body_bytes", int, 1, "largest body as sent (compressed); larger: 413"),
    _option("max_decompressed_bytes", int, 1, "largest body after gzip/deflate; larger: 413"),
    _option("max_in_flight", int, 1, "requests decoded and sent at once; beyond: 429"),
    _option("max_request_memory", int, 1, "request data held at once; beyond: 429"),
    _option("dedup_window", int, 0, "spans remembered to drop retried duplicates; 0: off"),
    _option("retry_after", float, 0, "Retry-After seconds when Reconify gave none"),
    _option("body_timeout", float, 0.01, "seconds to upload one body; then 408"),
    _option("header_timeout", float, 0.01, "seconds to send a request head; then closed"),
    _option("idle_timeout", float, 0.01, "seconds a connection may idle between requests"),
    _option("max_connections", int, 1, "connections open at once; the idlest makes room"),
    _option(
        "events_wait",
        float,
        0,
        "seconds a call's span waits for its GenAI log events; 0: never",
        MAX_EVENTS_WAIT,
    ),
)
_DEFAULTS: Final = {f.name: f.default for f in fields(BridgeConfig)}


def resolve_config(*, token: str | None = None, **limits: Any) -> BridgeConfig:
    """``BridgeConfig`` from keyword arguments (names as in ``BRIDGE_OPTIONS``), the
    environment and the defaults; a bad value is a ``ValueError`` now."""
    unknown = sorted(set(limits) - {o.name for o in BRIDGE_OPTIONS})
    if unknown:
        raise TypeError(f"unknown bridge option(s) {unknown}")
    raw_token = pick(token, ENV_TOKEN)
    return BridgeConfig(
        token=Secret(str(raw_token)) if raw_token else None,
        **read_options(BRIDGE_OPTIONS, limits, _DEFAULTS),
    )


def check_bind(host: str, token: Secret | None) -> None:
    """Refuse to serve beyond loopback without a token: anyone on the network could
    otherwise make the bridge send interactions under this app's Reconify keys."""
    if token is not None or is_loopback(host):
        return
    raise ValueError(
        f"refusing to listen on {host!r} without a token: beyond loopback the bridge needs "
        f"--token or the {ENV_TOKEN} environment variable (the same value as the "
        "Collector's Authorization: Bearer header)"
    )


# host[:port], the host a name or dotted address, or an IPv6 address in brackets.
_HOST_HEADER: Final = re.compile(r"(?:([A-Za-z0-9.-]+)|\[([0-9A-Fa-f:.]+)\])(?::([0-9]{1,5}))?")


def loopback_host_header(value: str | None) -> bool:
    """A ``Host`` header naming this machine (``localhost``, 127.0.0.0/8, ``[::1]``, with
    a port or not). Without a token only these are served: a web page whose name an
    attacker re-pointed at 127.0.0.1 (DNS rebinding) sends its own name and is refused.
    Parsed strictly: anything but host[:port] (userinfo, a path, a bare IPv6 address, a
    port out of range) is refused, whatever part of it names this machine."""
    match = _HOST_HEADER.fullmatch((value or "").strip(" \t"))
    if match is None:
        return False
    name, ipv6, port = match.groups()
    if port is not None and not 0 < int(port) < 65536:
        return False
    if ipv6 is not None:
        return is_loopback(ipv6) and ":" in ipv6  # [127.0.0.1] is not IPv6
    return is_loopback(name)
