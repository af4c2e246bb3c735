"""The bridge served for real on 127.0.0.1, fed hostile bodies: every answer is exactly
the one the body calls for.

What a body calls for is worked out here without the bridge's code, from the OTLP/HTTP
specification and the reference libraries (``gzip``, ``json``, protobuf's parser and
``json_format``): a body over the limit (decompressed, for gzip) means 413, one they
cannot read as an ``ExportTraceServiceRequest`` 400, any other 200 (the sink is up, so
forwarding succeeds). Any answer but the expected one fails the test, a 500 above all
(the Collector drops a batch on 500). One bridge serves the whole module (the campaign);
after it the bridge still answers ``/healthz`` and delivers a valid batch exactly once.
Defects found here are pinned by ``test_regression_*`` tests with their exact inputs.
HTTP-level abuse (bombs, encodings, broken framing) is in test_fuzz_bridge_http.py.
"""

from __future__ import annotations

import base64
import gzip
import json
import threading
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1 import trace_pb2

from reconify_otel.core import attributes as A

from .bridge_helpers import (
    FUZZ_MAX_BYTES,
    JSON,
    PROTOBUF,
    CampaignBridge,
    assert_healthy_and_delivering_once,
    campaign_bridge,
    one_span_request,
    otlp_json,
    own_spans,
    protobuf,
)

CAMPAIGN = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
OUTPUT_OK = json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": "hi"}]}])


@pytest.fixture(scope="module")
def bridge() -> Iterator[CampaignBridge]:
    with campaign_bridge() as started:
        yield started


def expected_status(body: bytes, content_type: str, encoding: str = "") -> int:
    """The answer ``body`` calls for, by the specification and the reference libraries."""
    data = body
    if encoding == "gzip":
        try:
            data = gzip.decompress(body)
        except (OSError, EOFError, zlib.error):
            return 400
    if len(data) > FUZZ_MAX_BYTES:
        return 413
    try:
        if content_type == JSON:
            document = json.loads(data)
            json_format.ParseDict(
                _hex_ids_as_base64(document),
                ExportTraceServiceRequest(),
                ignore_unknown_fields=True,
            )
        else:
            ExportTraceServiceRequest.FromString(data)
    except (DecodeError, json_format.ParseError, ValueError, TypeError, RecursionError):
        return 400
    return 200


# OTLP JSON (specification, "JSON Protobuf Encoding"): trace and span ids are hex strings,
# where protobuf's JSON mapping reads bytes as base64; both field spellings are accepted.
_PATH = (("resourceSpans", "resource_spans"), ("scopeSpans", "scope_spans"), ("spans",))
_ID_FIELDS = {"traceId", "trace_id", "spanId", "span_id", "parentSpanId", "parent_span_id"}


def _hex_ids_as_base64(node: Any, depth: int = 0) -> Any:
    """A copy of the document with every span's and link's hex ids in base64."""
    if depth == len(_PATH):  # a span; its links hold ids too
        if not isinstance(node, dict):
            raise TypeError("a span is not an object")
        span = {key: _id(key, value) for key, value in node.items()}
        if isinstance(span.get("links"), list):
            span["links"] = [_hex_ids_as_base64(link, depth) for link in span["links"]]
        return span
    if not isinstance(node, dict):
        if depth == 0:
            raise TypeError("the document is not an object")
        return node
    copied = dict(node)
    for spelling in _PATH[depth]:
        if isinstance(node.get(spelling), list):
            copied[spelling] = [_hex_ids_as_base64(child, depth + 1) for child in node[spelling]]
            break
    return copied


def _id(key: str, value: Any) -> Any:
    if key in _ID_FIELDS and isinstance(value, str) and value:
        return base64.b64encode(bytes.fromhex(value)).decode()  # ValueError: not hex
    return value


def check_answer(
    response: requests.Response, body: bytes, content_type: str = PROTOBUF, encoding: str = ""
) -> None:
    expected = expected_status(body, content_type, encoding)
    assert response.status_code == expected, (response.status_code, body[:200], response.text)


# --- truncated and mutated valid bodies ---------------------------------------------------


def post_all(
    bridge: CampaignBridge, bodies: list[bytes], content_type: str = PROTOBUF, encoding: str = ""
) -> None:
    """Four at a time: an error answer waits ~40 ms for a delayed ACK on loopback
    (uvicorn writes head and body apart), so one at a time would be slow."""
    local = threading.local()

    def one(body: bytes) -> tuple[bytes, requests.Response]:
        if not hasattr(local, "bridge"):
            local.bridge = CampaignBridge(bridge.url, bridge.app, bridge.sink)
        return body, local.bridge.post(body, content_type, encoding or None)

    with ThreadPoolExecutor(4) as pool:
        for body, response in pool.map(one, bodies):
            check_answer(response, body, content_type, encoding)


def test_every_sampled_prefix_of_a_valid_protobuf_body(bridge: CampaignBridge) -> None:
    body = protobuf(own_spans())
    step = max(1, len(body) // 150)
    lengths = sorted({*range(0, 48), *range(0, len(body), step), *range(len(body) - 24, len(body))})
    post_all(bridge, [body[:length] for length in lengths])
    compressed = gzip.compress(body)
    step = max(1, len(compressed) // 60)
    post_all(bridge, [compressed[:n] for n in range(0, len(compressed), step)], encoding="gzip")


def test_every_sampled_prefix_of_a_valid_json_body(bridge: CampaignBridge) -> None:
    body = otlp_json(own_spans())
    step = max(1, len(body) // 120)
    post_all(bridge, [body[:n] for n in range(0, len(body), step)], JSON)


VALID = protobuf(own_spans())


@CAMPAIGN
@given(
    flips=st.lists(
        st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255)), min_size=1, max_size=6
    )
)
def test_mutated_protobuf_bodies(bridge: CampaignBridge, flips: list[tuple[int, int]]) -> None:
    body = bytearray(VALID)
    for position, value in flips:
        body[position] = value
    check_answer(bridge.post(bytes(body)), bytes(body))


# --- random bytes and wrong JSON shapes ----------------------------------------------------


@CAMPAIGN
@given(body=st.binary(max_size=4096), content_type=st.sampled_from([PROTOBUF, JSON]))
def test_random_bytes(bridge: CampaignBridge, body: bytes, content_type: str) -> None:
    check_answer(bridge.post(body, content_type), body, content_type)


OTLP_KEYS = st.sampled_from(
    [
        "resourceSpans",
        "resource_spans",
        "scopeSpans",
        "spans",
        "links",
        "traceId",
        "spanId",
        "parentSpanId",
        "name",
        "attributes",
        "key",
        "value",
        "stringValue",
        "intValue",
        "doubleValue",
        "bytesValue",
        "arrayValue",
        "kvlistValue",
        "values",
        "startTimeUnixNano",
        "status",
        "code",
    ]
)
LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=10),
    st.sampled_from(["0102", "zz", "", "openai.assistant.run", "invoke_agent X", "1e999"]),
)
TREE = st.recursive(
    LEAF,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(OTLP_KEYS, inner, max_size=4),
    max_leaves=20,
)


def otlp_shaped(spans: Any) -> dict[str, Any]:
    return {"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}


@CAMPAIGN
@given(
    document=st.one_of(
        TREE,
        TREE.map(otlp_shaped),
        st.lists(TREE, max_size=3).map(otlp_shaped),
        st.lists(st.dictionaries(OTLP_KEYS, TREE, max_size=4), max_size=3).map(otlp_shaped),
    )
)
def test_json_of_wrong_shapes(bridge: CampaignBridge, document: Any) -> None:
    body = json.dumps(document).encode()
    check_answer(bridge.post(body, JSON), body, JSON)


@pytest.mark.parametrize(
    "body",
    [
        b"[]",
        b'"resourceSpans"',
        b"12",
        b"null",
        b"NaN",
        b"[" * 100_000,
        b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
        b'{"resourceSpans":' + b"[" * 50_000 + b"]" * 50_000 + b"}",
        json.dumps(otlp_shaped([{"attributes": [{"key": "k", "value": {"arrayValue": {}}}]}]))
        .encode()
        .replace(b'{"arrayValue": {}}', b'{"arrayValue": {"values": [{"arrayValue": ' * 3000)
        + b"}]}" * 3000,
        b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "0102"}]}]}]}' + b" " * 10,
        b"\xef\xbb\xbf{}",
        b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"name": "\\ud800"}]}]}]}',
    ],
    ids=lambda body: f"{body[:12]!r}+{len(body)}",
)
def test_json_edge_bodies(bridge: CampaignBridge, body: bytes) -> None:
    check_answer(bridge.post(body, JSON), body, JSON)


def test_protobuf_nested_beyond_the_decoder_depth(bridge: CampaignBridge) -> None:
    """AnyValue arrays nested 3,000 deep, written by hand (the library would refuse)."""
    value = AnyValue(string_value="x").SerializeToString()
    for _ in range(3000):
        array = b"\x0a" + _varint(len(value)) + value  # ArrayValue.values
        value = b"\x2a" + _varint(len(array)) + array  # AnyValue.array_value
    kv = b"\x0a\x01k\x12" + _varint(len(value)) + value
    span = trace_pb2.Span(name="openai.assistant.run").SerializeToString()
    span += b"\x4a" + _varint(len(kv)) + kv  # Span.attributes (field 9)
    scope = b"\x12" + _varint(len(span)) + span
    resource = b"\x12" + _varint(len(scope)) + scope
    body = b"\x0a" + _varint(len(resource)) + resource
    response = bridge.post(body)
    assert response.status_code == 400, response.text


def _varint(number: int) -> bytes:
    out = bytearray()
    while number > 0x7F:
        out.append((number & 0x7F) | 0x80)
        number >>= 7
    out.append(number)
    return bytes(out)


# --- the defects found --------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b'{"resourceSpans": [{"scopeSpans": [{"spans": [1]}]}]}',
        b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"links": ["x"]}]}]}]}',
        b'{"resourceSpans": [{"scopeSpans": [{"spans": [null]}]}]}',
    ],
    ids=["span-int", "link-str", "span-null"],
)
def test_regression_json_spans_that_are_not_objects_answer_400(
    bridge: CampaignBridge, body: bytes
) -> None:
    """``wire._rewrite_ids`` called ``.get`` on each span and link: the AttributeError
    escaped ``decode`` and uvicorn answered 500, which the Collector does not retry."""
    assert bridge.post(body, JSON).status_code == 400


def test_regression_a_deeply_nested_message_attribute_costs_only_its_own_run(
    bridge: CampaignBridge,
) -> None:
    """A valid run and, in the same batch, one whose message JSON nests 600 deep: the size
    cap recursed past the limit and the whole batch answered 500 (fixed in src meanwhile)."""
    deep = '[{"content": [], "metadata": ' + "[" * 600 + "]" * 600 + "}]"
    good = one_span_request(
        "invoke_agent X",
        [
            (A.RUN_ID, AnyValue(string_value="run_good")),
            (A.OUTPUT_MESSAGES, AnyValue(string_value=OUTPUT_OK)),
        ],
    )
    bad = one_span_request(
        "invoke_agent X",
        [
            (A.RUN_ID, AnyValue(string_value="run_deep")),
            (A.RESPONSE_MESSAGES, AnyValue(string_value=deep)),
        ],
    )
    request = ExportTraceServiceRequest.FromString(good)
    request.MergeFromString(bad)
    response = bridge.post(request.SerializeToString())
    assert response.status_code == 200, response.text
    assert any(p["response"]["run_id"] == "run_good" for p in bridge.sink.payloads)


# --- after the campaign --------------------------------------------------------------------


def test_after_the_campaign_the_bridge_is_healthy_and_delivers_once(
    bridge: CampaignBridge,
) -> None:
    assert_healthy_and_delivering_once(bridge)
