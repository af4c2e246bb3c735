"""Adversarial probes of the Amazon Bedrock mapping, the GenAI log events' join (in process
and through the bridge's ``/v1/logs``) and the relaxed dedup rules of commit 6107830.

Each test is a defect the probes found (credentials in a framework's parameters, a log
event that failed a batch, doubled tool history, unbounded memory, dedup that merged two
calls...), fixed since: it failed before the fix. Fast: no SDK traffic replayed, one
bridge at most.
"""

from __future__ import annotations

import gc
import json
import tracemalloc
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from reconify_otel import ReconifySpanExporter
from reconify_otel.core.llm.events import GenAiEvent
from reconify_otel.core.record import SpanRecord
from reconify_otel.exporter.log_processor import ReconifyLogRecordProcessor
from reconify_otel.handler.calls import answer_of, flavor_of, known_call, request_text
from reconify_otel.identity import span_attributes
from reconify_otel.offline.sink import ReconifySink
from reconify_otel.prepare import Prepared
from reconify_otel.runtime.counters import Counters
from reconify_otel.runtime.event_join import EventJoin

from .handler_llm_helpers import handler_for
from .helpers import offline_preparer

BOTOCORE = "opentelemetry.instrumentation.botocore"
OI_BEDROCK = "openinference.instrumentation.bedrock"
OI_LITELLM = "openinference.instrumentation.litellm"
TRACE, SPAN = 0x5A1E, 0x0B0C
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
AWS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
AWS_SESSION = "FwoGZXIvYXdzEXAMPLESESSIONTOKEN"


def botocore_attributes(request_id: str = "req-1", **extra: Any) -> dict[str, Any]:
    """A Converse call's span as ``opentelemetry-instrumentation-botocore`` 0.66b2 writes
    it: no messages (they are log events)."""
    return {
        "gen_ai.system": "aws.bedrock",
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "anthropic.claude-3-sonnet-20240229-v1:0",
        "aws.request_id": request_id,
        "gen_ai.usage.input_tokens": 16,
        "gen_ai.usage.output_tokens": 19,
        "gen_ai.response.finish_reasons": ["end_turn"],
        **extra,
    }


def span(attributes: dict[str, Any], *, name: str = "chat m", scope: str = BOTOCORE) -> SpanRecord:
    return SpanRecord(
        name=name,
        attributes=attributes,
        start_ns=1_000_000_000,
        end_ns=2_000_000_000,
        trace_id=TRACE,
        span_id=SPAN,
        scope=scope,
    )


def prepared(record: SpanRecord, events: Sequence[GenAiEvent] = (), **options: Any) -> Prepared:
    preparer = offline_preparer(**options)
    for event in events:
        preparer.events.add(record.trace_id, record.span_id, event)
    result = preparer.prepare(record)
    assert isinstance(result, Prepared), result
    return result


# --- 1. secrets ------------------------------------------------------------------------


def test_litellm_bedrock_credentials_in_invocation_parameters_are_never_sent() -> None:
    # As openinference-instrumentation-litellm 0.1.51 writes litellm.responses(
    # model="bedrock/...", input="Say hi", aws_access_key_id=..., ...): input.value is the
    # input as given, invocation parameters every kwarg but api_key, input, tools, model.
    parameters = {
        "aws_access_key_id": AWS_KEY_ID,
        "aws_secret_access_key": AWS_SECRET,
        "aws_session_token": AWS_SESSION,
        "aws_region_name": "us-east-1",
        "temperature": 0,
    }
    attributes = {
        "openinference.span.kind": "LLM",
        "llm.provider": "aws",
        "llm.model_name": "bedrock/anthropic.claude-3-haiku-20240307-v1:0",
        "input.value": "Say hi",
        "input.mime_type": "text/plain",
        "llm.input_messages.0.message.role": "user",
        "llm.input_messages.0.message.content": "Say hi",
        "llm.invocation_parameters": json.dumps(parameters),
        "llm.output_messages.0.message.role": "assistant",
        "llm.output_messages.0.message.content": "Hello!",
        "llm.token_count.prompt": 3,
        "llm.token_count.completion": 2,
    }
    for mask in (False, True):
        record = span(attributes, name="responses", scope=OI_LITELLM)
        body = prepared(record, mask_pii=mask).body.decode()
        for secret in (AWS_SECRET, AWS_KEY_ID, AWS_SESSION):
            assert secret not in body


def test_log_chat_bedrock_drops_nested_aws_credentials(sink: ReconifySink) -> None:
    request = {
        "modelId": "meta.llama3-8b-instruct-v1:0",
        "body": json.dumps({"prompt": "Hi"}),
        "Credentials": {
            "AccessKeyId": AWS_KEY_ID,
            "SecretAccessKey": AWS_SECRET,
            "SessionToken": AWS_SESSION,
        },
        "request": {"headers": {"X-Amz-Security-Token": AWS_SESSION}},
    }
    response = {"requestId": "req-creds", "body": {"generation": "Hello", "stop_reason": "stop"}}
    handler = handler_for(None, sink.url)
    assert handler.log_chat(request, response, 1_000, 2_000, format="bedrock")
    assert handler.close(5)
    (payload,) = sink.payloads
    text = json.dumps(payload)
    for secret in (AWS_SECRET, AWS_KEY_ID, AWS_SESSION):
        assert secret not in text


# --- 2. content off --------------------------------------------------------------------


def test_content_off_keeps_the_tool_results_tool_use_id() -> None:
    request = {
        "modelId": "anthropic.claude-3",
        "messages": [
            {"role": "user", "content": [{"text": "Weather in Paris?"}]},
            {
                "role": "assistant",
                "content": [
                    {"toolUse": {"toolUseId": "tu-1", "name": "weather", "input": {"c": "P"}}}
                ],
            },
            {
                "role": "user",
                "content": [{"toolResult": {"toolUseId": "tu-1", "content": [{"text": "20C"}]}}],
            },
        ],
    }
    response = {"requestId": "req-tool", "body": {"stopReason": "end_turn"}}
    flavor = flavor_of("bedrock", request, response)
    assert flavor is not None
    known = known_call(
        flavor, request_text(request), answer_of("bedrock", response), 1, 2, span_attributes()
    )
    assert known is not None
    preparer = offline_preparer(capture_content=False)
    result = preparer.prepare(*known)
    assert isinstance(result, Prepared)
    result_block = result.payload["request"]["messages"][2]["content"][0]["toolResult"]
    assert "20C" not in json.dumps(result.payload)
    assert result_block["toolUseId"] == "tu-1"


# --- 3. malformed input ----------------------------------------------------------------

POISON = ("gen_ai.assistant.message", {"tool_calls": 5})  # a scalar where a list belongs


def test_one_malformed_log_event_does_not_fail_the_trace_batch(
    sink: ReconifySink, start_bridge: Any
) -> None:
    from .bridge_events import CHOICE, USER, bedrock_call, export_logs, without_keys
    from .bridge_helpers import TOKEN, post, protobuf

    url, _ = start_bridge(events_wait=0)
    poisoned = bedrock_call("req-poisoned", [USER, POISON, CHOICE])
    innocent = bedrock_call("req-innocent")
    export_logs(url, poisoned.logs + innocent.logs, TOKEN)
    answer = post(url, protobuf(poisoned.spans + innocent.spans))
    assert answer.status_code == 200
    sent = {without_keys(p)["response"]["requestId"] for p in sink.payloads}
    assert sent == {"req-poisoned", "req-innocent"}


def test_one_malformed_log_event_does_not_cost_the_call_in_process() -> None:
    preparer = offline_preparer()
    record = span(botocore_attributes("req-poisoned"))
    for name, body in (
        ("gen_ai.user.message", {"content": [{"text": "Hi"}]}),
        POISON,
        ("gen_ai.choice", {"index": 0, "message": {"content": [{"text": "Hello"}]}}),
    ):
        preparer.events.add(TRACE, SPAN, GenAiEvent(name, body, {}))
    result = preparer.prepare(record)
    assert isinstance(result, Prepared), result


def test_an_answer_repr_bomb_costs_bounded_memory() -> None:
    bomb = "[" + "{}," * (64 * 1024) + "{}]"
    attributes = {
        "openinference.span.kind": "LLM",
        "llm.provider": "aws",
        "llm.system": "cohere",
        "llm.model_name": "cohere.command-text-v14",
        "input.value": "Tell me a joke",
        "output.value": bomb,
        "llm.token_count.prompt": 3,
    }
    record = span(attributes, name="bedrock.invoke_model", scope=OI_BEDROCK)
    preparer = offline_preparer()
    gc.collect()
    tracemalloc.start()
    try:
        preparer.prepare(record)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 * len(bomb), f"{peak / 1e6:.0f} MB to map one {len(bomb)}-byte span"


def test_a_genai_record_on_emit_cannot_read_is_counted() -> None:
    exporter = ReconifySpanExporter("http://127.0.0.1:9/track", "a", "b")
    try:
        processor = ReconifyLogRecordProcessor(exporter)

        record = SimpleNamespace(  # an SDK-like record whose attributes are no mapping
            event_name="gen_ai.choice",
            attributes=5,
            body={"message": {"content": "x"}},
            trace_id=TRACE,
            span_id=SPAN,
        )
        processor.on_emit(record)
        assert any(v for v in exporter.stats().values())
    finally:
        exporter.shutdown()


def test_a_nan_parameter_is_not_sent_as_invalid_json() -> None:
    attributes = botocore_attributes()
    attributes["gen_ai.request.temperature"] = float("nan")
    record = span(attributes)
    body = prepared(record).body

    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not JSON")

    try:
        json.loads(body, parse_constant=refuse)
    except ValueError as error:
        raise AssertionError(str(error)) from None


# --- 4. bounds -------------------------------------------------------------------------


def test_a_long_conversation_keeps_its_question_and_answer() -> None:
    events = [
        GenAiEvent(
            "gen_ai.user.message" if n % 2 == 0 else "gen_ai.assistant.message",
            {"content": [{"text": f"turn {n}"}]},
            {},
        )
        for n in range(79)
    ]
    events.append(
        GenAiEvent(
            "gen_ai.choice",
            {"index": 0, "finish_reason": "end_turn", "message": {"content": [{"text": "END"}]}},
            {},
        )
    )
    payload = prepared(span(botocore_attributes()), events).payload
    answer = payload["response"]["body"]["output"]["message"]["content"]
    assert answer == [{"text": "END"}]
    assert payload["request"]["messages"][-1] == {
        "role": "user",
        "content": [{"text": "turn 78"}],
    }


def test_a_long_stream_keeps_its_question() -> None:
    now = [0.0]
    join = EventJoin(clock=lambda: now[0])
    join.add(TRACE, SPAN, GenAiEvent("gen_ai.user.message", {"content": "Q"}, {}))
    now[0] = 130.0  # a long stream; meanwhile another call starts
    join.add(TRACE, SPAN + 1, GenAiEvent("gen_ai.user.message", {"content": "other"}, {}))
    join.add(TRACE, SPAN, GenAiEvent("gen_ai.choice", {"message": {"content": "A"}}, {}))
    assert [e.name for e in join.take(TRACE, SPAN)] == ["gen_ai.user.message", "gen_ai.choice"]


def test_bridge_events_held_are_bounded_in_memory_not_only_in_wire_bytes() -> None:
    from reconify_otel.bridge.arrivals import EventArrivals
    from reconify_otel.bridge.otlp_logs import genai_events

    limit = 1024 * 1024
    arrivals = EventArrivals(EventJoin(), Counters(), 0.0, 1, max_bytes=limit)
    request = ExportLogsServiceRequest()
    records = request.resource_logs.add().scope_logs.add().log_records
    for n in range(64):
        record = records.add()
        record.trace_id = (7).to_bytes(16, "big")
        record.span_id = (n // 32 + 1).to_bytes(8, "big")
        record.event_name = "gen_ai.user.message"
        values = record.body.array_value.values
        for _ in range(4400):
            values.add().kvlist_value.SetInParent()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        arrivals.add(genai_events(request).events)
        del request, records, record, values
        gc.collect()
        retained = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert 0 < arrivals.held_bytes <= limit
    assert retained <= 4 * limit, f"{retained / 1e6:.0f} MB held for {arrivals.held_bytes} B"
