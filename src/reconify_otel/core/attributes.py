"""Span attribute names this project reads and writes (the contract in docs/attributes.md).

The LLM conventions' names are owned by ``core.conventions`` (one module per convention)
and re-exported here for the writers (instrumentation, handler); users and sessions,
which no convention of span kinds owns, are named here.
"""

from __future__ import annotations

from reconify_otel.core.conventions.assistants import (
    INVOKE_AGENT,
    REQUEST_MESSAGE,
    RESPONSE_MESSAGES,
    RUN_ID,
    RUN_STATUS,
    USAGE_TOTAL_TOKENS,
)
from reconify_otel.core.conventions.genai import (
    AGENT_ID,
    AGENT_NAME,
    CONVERSATION_ID,
    ERROR_TYPE,
    INPUT_MESSAGES,
    OPERATION_NAME,
    OUTPUT_MESSAGES,
    PROVIDER_NAME,
    REQUEST_MODEL,
    RESPONSE_ID,
    RESPONSE_MODEL,
    SYSTEM,
    USAGE_COMPLETION_TOKENS,
    USAGE_INPUT_TOKENS,
    USAGE_OUTPUT_TOKENS,
    USAGE_PROMPT_TOKENS,
)
from reconify_otel.core.conventions.traceloop import RUN as UPSTREAM_RUN
from reconify_otel.core.conventions.traceloop import RUN_NAMES as UPSTREAM_SPAN_NAMES
from reconify_otel.core.conventions.traceloop import RUN_STREAM as UPSTREAM_RUN_STREAM
from reconify_otel.core.conventions.traceloop import SESSION_ID as TRACELOOP_SESSION_ID
from reconify_otel.core.conventions.traceloop import SUPERSEDED
from reconify_otel.core.conventions.traceloop import USER_ID as TRACELOOP_USER_ID

__all__ = [
    "AGENT_ID",
    "AGENT_NAME",
    "CONVERSATION_ID",
    "ENDUSER_ID",
    "ERROR_TYPE",
    "INPUT_MESSAGES",
    "INVOKE_AGENT",
    "OPERATION_NAME",
    "OUTPUT_MESSAGES",
    "PROVIDER_NAME",
    "REQUEST_MESSAGE",
    "REQUEST_MODEL",
    "RESPONSE_ID",
    "RESPONSE_MESSAGES",
    "RESPONSE_MODEL",
    "RUN_ID",
    "RUN_STATUS",
    "SESSION_ID",
    "SESSION_TIMEOUT",
    "SUPERSEDED",
    "SYSTEM",
    "TRACELOOP_SESSION_ID",
    "TRACELOOP_USER_ID",
    "UPSTREAM_RUN",
    "UPSTREAM_RUN_STREAM",
    "UPSTREAM_SPAN_NAMES",
    "USAGE_COMPLETION_TOKENS",
    "USAGE_INPUT_TOKENS",
    "USAGE_OUTPUT_TOKENS",
    "USAGE_PROMPT_TOKENS",
    "USAGE_TOTAL_TOKENS",
    "USER_AUTHENTICATED",
    "USER_EMAIL",
    "USER_FULL_NAME",
    "USER_ID",
    "USER_PERSONAL",
    "USER_REF",
]

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
