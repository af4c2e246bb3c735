"""A Bedrock call as ``opentelemetry-instrumentation-botocore`` records it: a span without
its messages, and the messages as GenAI log events emitted inside that span, with the real
SDK (``TracerProvider``, ``LoggerProvider``); and the real OTLP/HTTP exporters that send
them (to the bridge, or to a Collector). The payload the bridge must send for it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import (
    InMemoryLogRecordExporter,
    LogRecordExportResult,
    SimpleLogRecordProcessor,
)
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

MODEL = "anthropic.claude-3-sonnet-20240229-v1:0"
SCOPE = "opentelemetry.instrumentation.botocore"
QUESTION = "Tell me a joke about opentelemetry"
ANSWER = "Why did ..."
START_NS = 1_774_963_843_123_456_789
END_NS = START_NS + 1_500_000_000
BEDROCK = {"gen_ai.system": "aws.bedrock"}  # every event's attributes, as botocore sets them
USER = ("gen_ai.user.message", {"content": QUESTION})
CHOICE = (
    "gen_ai.choice",
    {
        "index": 0,
        "finish_reason": "end_turn",
        "message": {"role": "assistant", "content": [{"type": "text", "text": ANSWER}]},
    },
)


@dataclass(frozen=True)
class Call:
    """One recorded call: its span and its log events, as the SDK hands them to exporters."""

    request_id: str
    spans: list[ReadableSpan]
    logs: list[ReadableLogRecord]


def bedrock_call(
    request_id: str,
    events: Sequence[tuple[str, Any]] = (USER, CHOICE),
    *,
    by_attribute: bool = False,
    extra: dict[str, Any] | None = None,
) -> Call:
    """A Converse call's span, and ``events`` emitted inside it (the user message at the
    call's start, the choice once the model answered). ``by_attribute``: events named by
    the ``event.name`` attribute, as SDKs before ``LogRecord.event_name`` did; ``extra``:
    more span attributes."""
    spans, logs = InMemorySpanExporter(), InMemoryLogRecordExporter()
    tracer_provider, logger_provider = TracerProvider(), LoggerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    logger = logger_provider.get_logger(SCOPE)
    attributes = {
        "gen_ai.system": "aws.bedrock",
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": MODEL,
        "aws.request_id": request_id,
        "gen_ai.usage.input_tokens": 16,
        "gen_ai.usage.output_tokens": 19,
        "gen_ai.response.finish_reasons": ["end_turn"],
        **(extra or {}),
    }
    with tracer_provider.get_tracer(SCOPE).start_as_current_span(
        f"chat {MODEL}",
        kind=SpanKind.CLIENT,
        attributes=attributes,
        start_time=START_NS,
        end_on_exit=False,
    ) as span:
        for name, body in events:
            if by_attribute:
                logger.emit(body=body, attributes={**BEDROCK, "event.name": name})
            else:
                logger.emit(event_name=name, body=body, attributes=BEDROCK)
        span.end(END_NS)
    return Call(request_id, list(spans.get_finished_spans()), list(logs.get_finished_logs()))


def expected(request_id: str, *, messages: bool = True) -> dict[str, Any]:
    """The payload the bridge sends for ``bedrock_call(request_id)`` (without the keys):
    with its messages, or as the span alone maps (its events never came)."""
    answer = [{"text": ANSWER}] if messages else []
    return {
        "reconify": {"format": "bedrock", "type": "chat", "version": "3.1.0"},
        "timestamps": {"request": START_NS // 1_000_000, "response": END_NS // 1_000_000},
        "session": None,
        "sessionTimeout": None,
        "user": {},
        "request": {
            "modelId": MODEL,
            "messages": [{"role": "user", "content": [{"text": QUESTION}]}] if messages else None,
        },
        "response": {
            "requestId": request_id,
            "body": {
                "output": {"message": {"role": "assistant", "content": answer}},
                "stopReason": "end_turn",
                "usage": {"inputTokens": 16, "outputTokens": 19, "totalTokens": 35},
            },
        },
    }


def without_keys(payload: dict[str, Any]) -> dict[str, Any]:
    """A payload as the sink received it, its keys (``reconify.appKey``/``apiKey``) left out."""
    header = {k: v for k, v in payload["reconify"].items() if k not in ("appKey", "apiKey")}
    return {**payload, "reconify": header}


def export_spans(url: str, spans: Sequence[ReadableSpan], token: str | None = None) -> None:
    """The SDK's OTLP/HTTP span exporter, as an application (or nothing else) sends."""
    exporter = OTLPSpanExporter(
        endpoint=f"{url}/v1/traces", compression=Compression.Gzip, headers=_auth(token)
    )
    try:
        assert exporter.export(spans) is SpanExportResult.SUCCESS
    finally:
        exporter.shutdown()


def export_logs(url: str, logs: Sequence[ReadableLogRecord], token: str | None = None) -> None:
    """The SDK's OTLP/HTTP log exporter."""
    exporter = OTLPLogExporter(
        endpoint=f"{url}/v1/logs", compression=Compression.Gzip, headers=_auth(token)
    )
    try:
        assert exporter.export(logs) is LogRecordExportResult.SUCCESS
    finally:
        exporter.shutdown()


def _auth(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token is not None else {}
