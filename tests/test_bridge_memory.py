"""Peak memory under the worst the limits allow, measured on the bridge's own process.

Found by an adversarial run: 8 concurrent gzip bombs grew the bridge by 1,109 MiB and 8
valid 60 MiB bodies by 1,280 MiB, against a documented 8 x 64 MiB. Now every request
takes its bytes from one budget (``RECONIFY_BRIDGE_MAX_REQUEST_MEMORY``) before holding
them, and the process's peak resident memory (VmHWM) must stay within the bound
docs/collector.md states: the budget plus ``OVERHEAD_MIB``. A resource bound, not timing.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1 import trace_pb2

from reconify_otel.bridge.config import MIB, BridgeConfig
from reconify_otel.offline.sink import ReconifySink

from .bridge_helpers import TOKEN
from .bridge_process import BridgeProcess, bridge_process

OVERHEAD_MIB = 64  # threads, connection buffers, allocator slack (stated in docs/collector.md)
CONCURRENT = 8


def _field(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field: repeated fields concatenate."""
    size, length = len(payload), bytearray()
    while size > 0x7F:
        length.append(size & 0x7F | 0x80)
        size >>= 7
    length.append(size)
    return bytes([number << 3 | 2]) + bytes(length) + payload


def dense_body(size: int) -> bytes:
    """A valid ExportTraceServiceRequest of about ``size`` bytes whose spans carry many
    small attributes: among the costliest OTLP to parse per byte (~9.5x in memory)."""
    span = trace_pb2.Span(name="dense", trace_id=b"t" * 16, span_id=b"s" * 8)
    span.attributes.extend(KeyValue(key=f"k{i}", value=AnyValue(int_value=i)) for i in range(40))
    one = _field(2, span.SerializeToString())  # ScopeSpans.spans
    return _field(1, _field(2, one * (size // len(one))))  # resource_spans.scope_spans


def gzip_bomb(size: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return compressor.compress(bytes(size)) + compressor.flush()


def burst(bridge: BridgeProcess, body: bytes) -> list[int]:
    headers = {
        "Content-Type": "application/x-protobuf",
        "Content-Encoding": "gzip",
        "Authorization": f"Bearer {TOKEN}",
    }

    def one(_: int) -> int:
        url = f"{bridge.url}/v1/traces"
        return requests.post(url, data=body, headers=headers, timeout=120).status_code

    with ThreadPoolExecutor(CONCURRENT) as pool:
        return list(pool.map(one, range(CONCURRENT)))


@pytest.fixture
def bridge(tmp_path: Path, sink: ReconifySink) -> Iterator[BridgeProcess]:
    with bridge_process(tmp_path, sink.url, {"RECONIFY_BRIDGE_TOKEN": TOKEN}) as running:
        running.health()  # warm: imports and first allocations are not request memory
        yield running


BOUND_MIB = BridgeConfig.max_request_memory / MIB + OVERHEAD_MIB


def test_concurrent_gzip_bombs_stay_within_the_bound(bridge: BridgeProcess) -> None:
    before = bridge.peak_rss_mib()
    statuses = burst(bridge, gzip_bomb(2 * BridgeConfig.max_decompressed_bytes))
    grown = bridge.peak_rss_mib() - before
    assert set(statuses) <= {413, 429} and statuses.count(413) >= 1, statuses
    assert grown <= BOUND_MIB, f"+{grown:.0f} MiB"


def test_concurrent_largest_valid_bodies_stay_within_the_bound(bridge: BridgeProcess) -> None:
    body = gzip.compress(dense_body(BridgeConfig.max_decompressed_bytes - MIB), 1)
    assert len(body) <= BridgeConfig.max_body_bytes
    before = bridge.peak_rss_mib()
    statuses = burst(bridge, body)
    grown = bridge.peak_rss_mib() - before
    assert set(statuses) <= {200, 429} and statuses.count(200) >= 1, statuses
    assert grown <= BOUND_MIB, f"+{grown:.0f} MiB"
