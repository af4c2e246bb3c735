"""Property-based fuzzing of the pure mapping with hostile span attributes.

Every route (raw ``SpanRecord``, real SDK spans through ``from_sdk``, OTLP protobuf spans
through ``from_otlp`` / ``selected_spans``) must map any attribute soup without raising:
a span the application or a Collector hands over is never a reason for an exception.
Selection must follow the documented rule, a skip must name its one possible reason, and
a payload must have the contract's shape and encode.

The defects this file found were fixed in src; each is pinned by a ``test_regression_*``
test in test_fuzz_mapping_regressions.py with its exact input and exact outcome. No check
here is ever switched off.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from google.protobuf.message import DecodeError
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1 import trace_pb2
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from reconify_otel.bridge.otlp_spans import from_otlp, selected_spans
from reconify_otel.core import attributes as A
from reconify_otel.core.assistant import is_assistant_run
from reconify_otel.core.encoding import encode, masked
from reconify_otel.core.mapping import is_selected, map_span
from reconify_otel.core.payload import NO_DEFAULTS, Defaults, Skip, Skipped
from reconify_otel.core.record import SpanRecord
from reconify_otel.exporter.sdk_record import from_sdk
from reconify_otel.prepare import Preparer

from .fuzz_strategies import (
    ATTRIBUTES,
    DEFAULTS,
    FUZZ,
    NAMES,
    PAYLOAD_KEYS,
    PB_ATTRIBUTES,
    PB_BASE,
    TIMESTAMP,
    VALUE,
    plain,
)
from .helpers import offline_preparer

PREPARERS = (
    offline_preparer(),
    offline_preparer(mask_pii=True, max_field_bytes=64, max_payload_bytes=2048),
    offline_preparer(capture_content=False),
)
# prepare() turns any exception into Skipped(UNMAPPABLE, <exception class>): that keeps
# the batch, so the properties below fail on any such skip but nesting past the stack.
UNMAPPABLE = "unmappable"


# --- properties ----------------------------------------------------------------------------


USER_KEYS = {"userId", "isAuthenticated", "firstName", "lastName", "email", "phone", "gender"}


def check_mapping(record: SpanRecord, defaults: Defaults = NO_DEFAULTS) -> None:
    """map_span never raises; a payload has the contract's shape and always encodes."""
    result = map_span(record, defaults)
    if isinstance(result, Skipped):
        # map_run skips for two reasons only: an ERROR span, or no assistant message.
        assert result.reason is (Skip.ERROR_RUN if record.is_error else Skip.NO_ANSWER)
        return
    assert all(isinstance(name, str) for name in result.bad_attributes)
    payload = result.to_json()
    assert set(payload) == PAYLOAD_KEYS
    assert payload["reconify"] == {"format": "openai", "type": "assistant", "version": "3.1.0"}
    assert payload["timestamps"] == {
        "request": record.start_ns // 1_000_000,
        "response": record.end_ns // 1_000_000,
    }
    timeout = record.attributes.get(A.SESSION_TIMEOUT)
    if timeout is None:
        assert payload["sessionTimeout"] == defaults.session_timeout
    elif type(timeout) is int and timeout:
        assert payload["sessionTimeout"] == timeout
    else:  # a string or float that may or may not spell a whole number
        assert payload["sessionTimeout"] is None or type(payload["sessionTimeout"]) is int
    assert set(payload["user"]) <= USER_KEYS
    assert {"model", "thread_id", "assistant_id"} <= set(payload["request"])
    assert {"usage", "content"} <= set(payload["response"])
    json.dumps(payload)
    masked(payload)
    decoded = json.loads(encode(payload, "a", "b"))
    assert decoded["reconify"]["appKey"] == "a" and decoded["reconify"]["apiKey"] == "b"


def check_prepare(record: SpanRecord, preparer: Preparer) -> None:
    """What every route really runs after ``map_span``: shaping (privacy, caps), encoding."""
    result = preparer.prepare(record)  # never raises: a crash would be Skipped(UNMAPPABLE)
    if isinstance(result, Skipped):
        # Only nesting past the stack is an expected reason; any other is a crash caught.
        if result.reason.value == UNMAPPABLE:
            assert result.detail == "RecursionError", result
        return
    sent = json.loads(result.body)
    assert set(sent) == PAYLOAD_KEYS
    assert (sent["reconify"]["appKey"], sent["reconify"]["apiKey"]) == ("a", "b")


@FUZZ
@given(
    name=st.one_of(st.sampled_from(NAMES), st.text(max_size=20)),
    attributes=st.one_of(ATTRIBUTES, st.dictionaries(st.text(max_size=30), VALUE, max_size=6)),
)
def test_is_assistant_run_follows_the_documented_rule(
    name: str, attributes: dict[str, Any]
) -> None:
    # docs/attributes.md: the upstream run spans unless marked superseded, and
    # ``invoke_agent ...`` spans that carry the run id.
    if name in ("openai.assistant.run", "openai.assistant.run_stream"):
        expected = attributes.get("reconify.superseded") is not True
    else:
        expected = name.startswith("invoke_agent") and "openai.assistants.run.id" in attributes
    assert is_assistant_run(name, attributes) is expected


@FUZZ
@given(
    name=st.sampled_from(NAMES),
    attributes=ATTRIBUTES,
    start=TIMESTAMP,
    end=TIMESTAMP,
    is_error=st.booleans(),
    defaults=DEFAULTS,
    preparer=st.sampled_from(PREPARERS),
)
def test_map_span_on_records_never_raises_and_payloads_encode(
    name: str,
    attributes: dict[str, Any],
    start: int,
    end: int,
    is_error: bool,
    defaults: Defaults,
    preparer: Preparer,
) -> None:
    is_assistant_run(name, attributes)
    record = SpanRecord(name, attributes, start, end, is_error)
    check_mapping(record, defaults)
    check_prepare(record, preparer)


# --- real SDK spans: the SDK drops or converts some values before the mapping sees them ---

_MEMORY = InMemorySpanExporter()
_PROVIDER = TracerProvider()
_PROVIDER.add_span_processor(SimpleSpanProcessor(_MEMORY))
_TRACER = _PROVIDER.get_tracer("fuzz")


@pytest.fixture(autouse=True, scope="module")
def _quiet_sdk() -> Any:
    """The SDK warns about every value it drops; thousands of warnings help nobody."""
    logger = logging.getLogger("opentelemetry.attributes")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    yield
    logger.setLevel(level)


@FUZZ
@given(
    name=st.sampled_from(NAMES),
    attributes=ATTRIBUTES,
    start=st.integers(min_value=0, max_value=2**64 - 1),
    end=st.one_of(st.none(), st.integers(min_value=0, max_value=2**64 - 1)),
    error=st.booleans(),
)
def test_map_span_on_sdk_spans(
    name: str, attributes: dict[str, Any], start: int, end: int | None, error: bool
) -> None:
    _MEMORY.clear()
    # Keys the SDK refuses (empty) are dropped by it; the rest is whatever it kept.
    span = _TRACER.start_span(name, attributes=attributes, start_time=start)
    if error:
        span.set_status(Status(StatusCode.ERROR, "boom"))
    span.end(end_time=end)
    (finished,) = _MEMORY.get_finished_spans()
    if not is_assistant_run(finished.name, finished.attributes or {}):
        return
    check_mapping(from_sdk(finished))
    check_prepare(from_sdk(finished), PREPARERS[0])


# --- OTLP protobuf spans: any AnyValue tree, through a wire round trip like the bridge -----


@FUZZ
@given(
    name=st.one_of(st.sampled_from(NAMES), st.text(max_size=10)),
    base=PB_BASE,
    attributes=PB_ATTRIBUTES,
    start=st.integers(min_value=0, max_value=2**64 - 1),
    end=st.integers(min_value=0, max_value=2**64 - 1),
    status=st.sampled_from([0, 1, 2, 7]),
    trace_id=st.binary(max_size=20),
    span_id=st.binary(max_size=10),
)
def test_map_span_on_otlp_spans(
    name: str,
    base: list[tuple[str, Any]],
    attributes: list[tuple[str, AnyValue]],
    start: int,
    end: int,
    status: int,
    trace_id: bytes,
    span_id: bytes,
) -> None:
    pairs = [KeyValue(key=k, value=plain(v)) for k, v in base]
    pairs += [KeyValue(key=k, value=v) for k, v in attributes]
    span = trace_pb2.Span(
        name=name,
        attributes=pairs,
        start_time_unix_nano=start,
        end_time_unix_nano=end,
        status=trace_pb2.Status(code=status),  # type: ignore[arg-type]
        trace_id=trace_id,
        span_id=span_id,
    )
    request = ExportTraceServiceRequest()
    request.resource_spans.add().scope_spans.add().spans.append(span)
    # What the bridge does: bytes on the wire, parsed, selected lazily, converted.
    try:
        wire = ExportTraceServiceRequest.FromString(request.SerializeToString())
    except DecodeError as error:  # the bridge answers 400: nesting beyond upb's 100 levels
        assert "MaxDepth" in str(error)
        return
    selected = list(selected_spans(wire))
    record = from_otlp(wire.resource_spans[0].scope_spans[0].spans[0])
    # Selected lazily on the wire exactly when the converted span is selected.
    expected = [repr(record)] if is_selected(record.name, record.attributes) else []
    assert [repr(found) for found in selected] == expected  # NaN != NaN: compare spellings
    if name in NAMES:
        check_mapping(record)
        check_prepare(record, PREPARERS[1])
