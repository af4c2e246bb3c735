"""Bedrock calls traced by each instrumentation that records them, for the tests: the
real boto3 client replaying the recordings on loopback, spans to ``ReconifySpanExporter``
(and the bridge), botocore's GenAI log events to ``ReconifyLogRecordProcessor`` (and the
bridge's ``/v1/logs``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

from reconify_otel import ReconifyLogRecordProcessor
from reconify_otel.offline.replay import RecordedCall, recorded_calls

from .llm_replay import Pipeline

FIXTURES = Path(__file__).parent / "fixtures" / "providers" / "bedrock"
SETUPS = ("traceloop", "botocore", "openinference")
# Every switch the three read, cleared so the host's environment cannot leak in.
_SWITCHES = ("TRACELOOP_TRACE_CONTENT", "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT")


def recorded(*names: str) -> list[RecordedCall]:
    return [call for name in names for call in recorded_calls(FIXTURES / f"{name}.yaml")]


def every_call() -> list[RecordedCall]:
    return [c for path in sorted(FIXTURES.glob("*.yaml")) for c in recorded_calls(path)]


@contextlib.contextmanager
def bedrock_traced(
    pipeline: Pipeline, setups: tuple[str, ...], bridge_url: str | None = None, content: bool = True
) -> Iterator[LoggerProvider]:
    """``setups`` instrumented on ``pipeline``'s provider in that order, with a logger
    provider for botocore's events; everything uninstrumented after."""
    logs = LoggerProvider()
    logs.add_log_record_processor(ReconifyLogRecordProcessor(pipeline.exporter))
    if bridge_url is not None:
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter

        from .bridge_helpers import TOKEN

        otlp = OTLPLogExporter(
            endpoint=f"{bridge_url}/v1/logs", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        logs.add_log_record_processor(BatchLogRecordProcessor(otlp))
    with pytest.MonkeyPatch.context() as env, contextlib.ExitStack() as stack:
        for name in _SWITCHES:
            env.delenv(name, raising=False)
        env.setenv("TRACELOOP_TRACE_CONTENT", "true" if content else "false")
        env.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", str(content).lower())
        for setup in setups:
            instrumentor = _instrumentor(setup, content)
            kwargs: dict[str, Any] = {"tracer_provider": pipeline.provider}
            if setup != "openinference":
                kwargs["logger_provider"] = logs
            instrumentor.instrument(**kwargs)
            stack.callback(instrumentor.uninstrument)
        stack.callback(logs.shutdown)
        yield logs


def _instrumentor(setup: str, content: bool) -> Any:
    if setup == "traceloop":
        from opentelemetry.instrumentation.bedrock import BedrockInstrumentor

        return BedrockInstrumentor()
    if setup == "botocore":
        from opentelemetry.instrumentation.botocore import BotocoreInstrumentor

        return BotocoreInstrumentor()
    from openinference.instrumentation import TraceConfig
    from openinference.instrumentation.bedrock import BedrockInstrumentor as OpenInference

    hidden = TraceConfig(hide_inputs=not content, hide_outputs=not content)
    return _Configured(OpenInference(), hidden)


class _Configured:
    """OpenInference's instrumentor, given its ``TraceConfig`` when instrumented."""

    def __init__(self, instrumentor: Any, config: Any) -> None:
        self._instrumentor, self._config = instrumentor, config

    def instrument(self, **kwargs: Any) -> None:
        self._instrumentor.instrument(config=self._config, **kwargs)

    def uninstrument(self) -> None:
        self._instrumentor.uninstrument()
