"""Mark ``opentelemetry-instrumentation-openai``'s run spans as superseded by ours.

While ``AssistantsInstrumentor`` is active it reports every run completely, so the
upstream ``openai.assistant.run``/``run_stream`` spans would be duplicates (and often
incomplete ones). The mark travels with the span, so an exporter in another process
(the OTLP bridge) can skip them too. Other exporters still see the spans unchanged
except for the one attribute.
"""

from __future__ import annotations

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from reconify_otel.core import attributes as A


class SupersedeUpstreamRuns(SpanProcessor):
    def __init__(self) -> None:
        self.active = True  # the SDK cannot remove a processor: uninstrument switches it off

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        if self.active and span.name in A.UPSTREAM_SPAN_NAMES:
            span.set_attribute(A.SUPERSEDED, True)

    def on_end(self, span: ReadableSpan) -> None:
        return None
