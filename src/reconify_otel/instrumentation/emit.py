"""Turn a finished run into its one ``invoke_agent`` span, with the run's real start and end."""

from __future__ import annotations

from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer

from reconify_otel.core import attributes as A
from reconify_otel.core.run_attributes import run_span_attributes, span_name
from reconify_otel.identity import with_identity
from reconify_otel.instrumentation.tracker import FinishedRun


class SpanEmitter:
    def __init__(self, tracer: Tracer, capture_content: bool) -> None:
        self._tracer = tracer
        self.capture_content = capture_content

    def __call__(self, finished: FinishedRun) -> None:
        attrs = with_identity(
            run_span_attributes(
                finished.run,
                finished.request,
                finished.answers,
                assistant=finished.assistant,
                capture_content=self.capture_content,
            ),
            finished.identity,
        )
        if finished.error is not None:
            attrs[A.ERROR_TYPE] = type(finished.error).__qualname__
        # Created only now, with the recorded start: a span open across polls or a stream
        # would be lost if the app dropped the run half-way.
        span = self._tracer.start_span(
            span_name(finished.run, finished.assistant),
            context=finished.context,
            kind=SpanKind.CLIENT,
            attributes=attrs,
            start_time=finished.start_ns,
        )
        if finished.error is not None:
            span.record_exception(finished.error)
        if A.ERROR_TYPE in attrs:
            detail = (finished.run.get("last_error") or {}) if finished.error is None else {}
            message = str(finished.error) if finished.error is not None else detail.get("message")
            span.set_status(Status(StatusCode.ERROR, message or str(attrs[A.ERROR_TYPE])))
        span.end(end_time=finished.end_ns)
