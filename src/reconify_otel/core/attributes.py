"""Span attribute names this project reads and writes (the contract in docs/attributes.md).

One place for every name, so the instrumentation that writes an attribute and the
mapping that reads it can never drift apart.
"""

from __future__ import annotations

# OpenTelemetry GenAI semantic conventions (development status).
OPERATION_NAME = "gen_ai.operation.name"
PROVIDER_NAME = "gen_ai.provider.name"
SYSTEM = "gen_ai.system"  # deprecated spelling of the provider
CONVERSATION_ID = "gen_ai.conversation.id"
AGENT_ID = "gen_ai.agent.id"
AGENT_NAME = "gen_ai.agent.name"
REQUEST_MODEL = "gen_ai.request.model"
RESPONSE_MODEL = "gen_ai.response.model"
RESPONSE_ID = "gen_ai.response.id"
INPUT_MESSAGES = "gen_ai.input.messages"
OUTPUT_MESSAGES = "gen_ai.output.messages"
USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
USAGE_PROMPT_TOKENS = "gen_ai.usage.prompt_tokens"  # deprecated
USAGE_COMPLETION_TOKENS = "gen_ai.usage.completion_tokens"  # deprecated
ERROR_TYPE = "error.type"

INVOKE_AGENT = "invoke_agent"

# This project's own attributes for what the conventions lack. The run's own
# messages travel as full ``thread.message`` JSON so the payload can be rebuilt
# exactly (ids, created_at, content blocks with annotations, attachments, metadata).
RUN_ID = "openai.assistants.run.id"
RUN_STATUS = "openai.assistants.run.status"
REQUEST_MESSAGE = "openai.assistants.request.message"
RESPONSE_MESSAGES = "openai.assistants.response.messages"
USAGE_TOTAL_TOKENS = "openai.assistants.usage.total_tokens"

# Span names of opentelemetry-instrumentation-openai (traceloop/openllmetry).
UPSTREAM_RUN = "openai.assistant.run"
UPSTREAM_RUN_STREAM = "openai.assistant.run_stream"
UPSTREAM_SPAN_NAMES = frozenset({UPSTREAM_RUN, UPSTREAM_RUN_STREAM})
# Set on those spans while AssistantsInstrumentor reports the same runs: skip them.
SUPERSEDED = "reconify.superseded"

# Users and sessions (``identity``): OpenTelemetry names where they exist.
SESSION_ID = "session.id"
USER_ID = "user.id"
USER_EMAIL = "user.email"
USER_FULL_NAME = "user.full_name"
ENDUSER_ID = "enduser.id"
SESSION_TIMEOUT = "reconify.session.timeout"
USER_AUTHENTICATED = "reconify.user.is_authenticated"
USER_PERSONAL = "reconify.user.personal"  # JSON: firstName, lastName, email, phone, gender
USER_REF = "reconify.user.ref"  # personal fields kept in-process, see identity.py
TRACELOOP_USER_ID = "traceloop.association.properties.user_id"
TRACELOOP_SESSION_ID = "traceloop.association.properties.session_id"
