"""traceloop/openllmetry (``opentelemetry-instrumentation-openai``, ``-anthropic``...): its
span names, which alone say what a span is, and its older ``llm.*`` attributes.

Its current releases write the GenAI names (``genai``) on these spans.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconify_otel.core.conventions import providers
from reconify_otel.core.conventions.classification import Classification, Convention, Kind

CHAT_SPAN = "openai.chat"
COMPLETION_SPAN = "openai.completion"
RESPONSE_SPAN = "openai.response"
ANTHROPIC_SPAN = "anthropic.chat"
MISTRAL_SPAN = "mistralai.chat"  # opentelemetry-instrumentation-mistralai (mistralai 1.x)
COHERE_SPAN = "cohere.chat"  # opentelemetry-instrumentation-cohere
# opentelemetry-instrumentation-vertexai: the ``vertexai`` SDK's GenerativeModel calls (its
# ``llm.request.type`` says "completion"; they are Gemini's generateContent).
VERTEXAI_SPANS = (
    "vertexai.generate_content",
    "vertexai.generate_content_async",
    "vertexai.send_message",
)
RUN = "openai.assistant.run"
RUN_STREAM = "openai.assistant.run_stream"

# The plain calls, every attribute generation.
CALL_KINDS = {
    CHAT_SPAN: Kind.CHAT,
    COMPLETION_SPAN: Kind.COMPLETION,
    RESPONSE_SPAN: Kind.RESPONSES,
    ANTHROPIC_SPAN: Kind.ANTHROPIC,
    MISTRAL_SPAN: Kind.MISTRAL,
    COHERE_SPAN: Kind.COHERE,
    **dict.fromkeys(VERTEXAI_SPANS, Kind.GEMINI),
}
RUN_NAMES = frozenset({RUN, RUN_STREAM})
SPAN_NAMES = (*CALL_KINDS, RUN, RUN_STREAM)
# This project's mark on those run spans while AssistantsInstrumentor reports the same
# runs: they are skipped.
SUPERSEDED = "reconify.superseded"

# Older attributes (before the gen_ai.* names).
INDEXED_PROMPTS = "llm.prompts"
INDEXED_COMPLETIONS = "llm.completions"
INDEXED_FUNCTIONS = "llm.request.functions"
REQUEST_MODEL = "llm.request.model"
RESPONSE_MODEL = "llm.response.model"
USAGE_TOTAL_TOKENS = "llm.usage.total_tokens"
USER = "llm.user"
IS_STREAMING = "llm.is_streaming"

# Instrumentations whose ``gen_ai.request.*`` parameters are copied from the answer (the
# Agents SDK's response span holds the Response, not the request): not what was sent.
ANSWER_ECHO_SCOPES = frozenset({"opentelemetry.instrumentation.openai_agents"})

# Its instrumentations' scopes (``opentelemetry.instrumentation.openai.v1``, ``.langchain``,
# ``.openai_agents``...): every span of theirs is about a model call or a run of them.
SCOPE_PREFIXES = (
    "opentelemetry.instrumentation.openai",
    "opentelemetry.instrumentation.anthropic",
    "opentelemetry.instrumentation.langchain",
    "opentelemetry.instrumentation.mistralai",
    "opentelemetry.instrumentation.cohere",
    "opentelemetry.instrumentation.google_generativeai",
    "opentelemetry.instrumentation.vertexai",
)

# Users and sessions, as traceloop's SDK associates them.
USER_ID = "traceloop.association.properties.user_id"
SESSION_ID = "traceloop.association.properties.session_id"

_CALLS = {name: Classification(kind, Convention.TRACELOOP) for name, kind in CALL_KINDS.items()}
_ELSEWHERE = {
    kind: Classification(kind, Convention.TRACELOOP) for kind in (Kind.UNIVERSAL, Kind.MISTRAL)
}
_RUNS = {
    RUN: Classification(Kind.ASSISTANT, Convention.TRACELOOP),
    RUN_STREAM: Classification(Kind.ASSISTANT, Convention.TRACELOOP, streamed=True),
}


def classify(name: str, attributes: Mapping[str, Any]) -> Classification | None:
    """By name; a run only while no AssistantsInstrumentor supersedes it, a chat only when
    it went to OpenAI (else another provider's format: ``providers.openai_sdk_kind``)."""
    found = _CALLS.get(name)
    if found is not None:
        if name == CHAT_SPAN:
            provider = providers.provider_of(attributes) or ""
            elsewhere = providers.openai_sdk_kind(provider, attributes)
            if elsewhere is not None:
                return _ELSEWHERE[elsewhere]
        return found
    run = _RUNS.get(name)
    if run is not None and attributes.get(SUPERSEDED) is not True:
        return run
    return None
