"""Bridge limits and token: explicit argument, then ``RECONIFY_BRIDGE_*`` variable, then default.

The same precedence as the Reconify settings (``settings.resolve``), so a container
is configured by environment alone and a bad value fails at start, not per request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from reconify_otel.settings import Secret, is_loopback, number, pick

ENV_TOKEN: Final = "RECONIFY_BRIDGE_TOKEN"
ENV_MAX_BODY_BYTES: Final = "RECONIFY_BRIDGE_MAX_BODY_BYTES"
ENV_MAX_DECOMPRESSED_BYTES: Final = "RECONIFY_BRIDGE_MAX_DECOMPRESSED_BYTES"
ENV_MAX_IN_FLIGHT: Final = "RECONIFY_BRIDGE_MAX_IN_FLIGHT"
ENV_DEDUP_WINDOW: Final = "RECONIFY_BRIDGE_DEDUP_WINDOW"
ENV_RETRY_AFTER: Final = "RECONIFY_BRIDGE_RETRY_AFTER"
ENV_BODY_TIMEOUT: Final = "RECONIFY_BRIDGE_BODY_TIMEOUT"

MIB: Final = 1024 * 1024


@dataclass(frozen=True)
class BridgeConfig:
    token: Secret | None = None
    # The Collector's batch/reconify (512 spans) stays far below these; 64 MiB is the
    # OTLP client's own ceiling for what it may send.
    max_body_bytes: int = 16 * MIB
    max_decompressed_bytes: int = 64 * MIB
    # Requests decoded and sent at once; beyond this the bridge answers 429.
    max_in_flight: int = 8
    # (trace_id, span_id) pairs remembered to absorb the Collector's whole-batch retries.
    dedup_window: int = 100_000
    # Retry-After (seconds) when Reconify gave none.
    retry_after: float = 5.0
    # Seconds a client may take to upload one body (a stalled upload answers 408).
    body_timeout: float = 30.0


def resolve_config(
    *,
    token: str | None = None,
    max_body_bytes: int | None = None,
    max_decompressed_bytes: int | None = None,
    max_in_flight: int | None = None,
    dedup_window: int | None = None,
    retry_after: float | None = None,
    body_timeout: float | None = None,
) -> BridgeConfig:
    raw_token = pick(token, ENV_TOKEN)
    default = BridgeConfig()
    return BridgeConfig(
        token=Secret(str(raw_token)) if raw_token else None,
        max_body_bytes=number(
            max_body_bytes, ENV_MAX_BODY_BYTES, default.max_body_bytes, int, "max_body_bytes", 1
        ),
        max_decompressed_bytes=number(
            max_decompressed_bytes,
            ENV_MAX_DECOMPRESSED_BYTES,
            default.max_decompressed_bytes,
            int,
            "max_decompressed_bytes",
            1,
        ),
        max_in_flight=number(
            max_in_flight, ENV_MAX_IN_FLIGHT, default.max_in_flight, int, "max_in_flight", 1
        ),
        dedup_window=number(
            dedup_window, ENV_DEDUP_WINDOW, default.dedup_window, int, "dedup_window", 0
        ),
        retry_after=number(
            retry_after, ENV_RETRY_AFTER, default.retry_after, float, "retry_after", 0
        ),
        body_timeout=number(
            body_timeout, ENV_BODY_TIMEOUT, default.body_timeout, float, "body_timeout", 0.01
        ),
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
