"""``IdentitySpanProcessor``: records the current user and session on LLM spans.

It must run at span start, on the application's thread, where the ``contextvars`` of
``reconify_otel.session(...)`` / ``user(...)`` are visible; exporters only see finished
spans on the processor's thread. ``AssistantsInstrumentor`` stamps its own spans; add
this processor for spans of other instrumentations (traceloop/openllmetry, the official
OpenAI one, OpenInference, the frameworks'). Frameworks write the attributes that make a
span a call after it starts, so every span of an LLM instrumentation's scope is stamped.
"""

from __future__ import annotations

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from reconify_otel.core.conventions import wants_identity
from reconify_otel.identity import stamp


class IdentitySpanProcessor(SpanProcessor):
    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        # AssistantsInstrumentor's spans carry what was current when the run started,
        # which may differ from what is current when the span is made.
        scope = span.instrumentation_scope
        if wants_identity(span.name, span.attributes or {}, scope.name if scope else ""):
            stamp(span)

    def on_end(self, span: ReadableSpan) -> None:
        return None

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
