"""OpenTelemetry GenAI semantic conventions (development status): the ``gen_ai.*`` names,
and the official ``chat {model}`` spans (``opentelemetry-instrumentation-openai-v2``).

Also traceloop's older indexed form, ``gen_ai.prompt.N.*`` / ``gen_ai.completion.N.*``
(opentelemetry-instrumentation-openai <= 0.54, -anthropic <= 0.53).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconify_otel.core.conventions import providers
from reconify_otel.core.conventions.classification import Classification, Convention, Kind

OPERATION_NAME = "gen_ai.operation.name"
PROVIDER_NAME = providers.PROVIDER_NAME
SYSTEM = providers.SYSTEM  # deprecated spelling of the provider
CONVERSATION_ID = "gen_ai.conversation.id"
AGENT_ID = "gen_ai.agent.id"
AGENT_NAME = "gen_ai.agent.name"
REQUEST_MODEL = "gen_ai.request.model"
RESPONSE_MODEL = "gen_ai.response.model"
RESPONSE_ID = "gen_ai.response.id"
RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons"
INPUT_MESSAGES = "gen_ai.input.messages"
OUTPUT_MESSAGES = "gen_ai.output.messages"
SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions"
TOOL_DEFINITIONS = "gen_ai.tool.definitions"
USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
USAGE_PROMPT_TOKENS = "gen_ai.usage.prompt_tokens"  # deprecated
USAGE_COMPLETION_TOKENS = "gen_ai.usage.completion_tokens"  # deprecated
USAGE_TOTAL_TOKENS = "gen_ai.usage.total_tokens"  # traceloop's, not in the conventions
USAGE_REASONING = "gen_ai.usage.reasoning.output_tokens"  # counted in the output too
# Each pair: the current spelling, then traceloop's.
USAGE_CACHE_READ = ("gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens")
USAGE_CACHE_WRITE = (
    "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.cache_creation_input_tokens",
)
ERROR_TYPE = "error.type"
# The log events that carry a call's content where the span does not (``core.llm.events``):
# one per message, by role, and util-genai's one event of the whole call.
MESSAGE_EVENTS = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
}
CHOICE_EVENT = "gen_ai.choice"
DETAILS_EVENT = "gen_ai.client.inference.operation.details"
EVENT_NAME = "event.name"  # the attribute SDKs before ``LogRecord.event_name`` named it by
# The instrumentations whose spans may leave their content to log events: botocore's, and
# util-genai's (its ``EVENT_ONLY`` mode; the official openai-v2 and google-genai spans).
EVENT_SCOPE_PREFIXES = (
    "opentelemetry.instrumentation.botocore",
    "opentelemetry.util.genai",
)
AWS_REQUEST_ID = "aws.request_id"  # botocore's, on its Bedrock spans

# Request parameters.
REQUEST_TEMPERATURE = "gen_ai.request.temperature"
REQUEST_TOP_P = "gen_ai.request.top_p"
REQUEST_TOP_K = "gen_ai.request.top_k"
REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
REQUEST_FREQUENCY_PENALTY = "gen_ai.request.frequency_penalty"
REQUEST_PRESENCE_PENALTY = "gen_ai.request.presence_penalty"
REQUEST_SEED = "gen_ai.request.seed"
REQUEST_STOP_SEQUENCES = "gen_ai.request.stop_sequences"
REQUEST_CHOICE_COUNT = "gen_ai.request.choice.count"
REQUEST_STREAM = "gen_ai.request.stream"  # LiteLLM's, under the latest conventions
# traceloop's Cohere spans name the penalties so.
LLM_FREQUENCY_PENALTY = "llm.frequency_penalty"
LLM_PRESENCE_PENALTY = "llm.presence_penalty"

# traceloop's additions in the gen_ai namespace.
USER = "gen_ai.user"
IS_STREAMING = "gen_ai.is_streaming"
# Indexed lists: ``{prefix}.N.role``, ``{prefix}.N.content``, ``gen_ai.response.N.id``...
INDEXED_PROMPTS = "gen_ai.prompt"
INDEXED_COMPLETIONS = "gen_ai.completion"
INDEXED_RESPONSES = "gen_ai.response"

# The official GenAI instrumentations' scopes (google-genai's spans come from util-genai's).
SCOPE_PREFIXES = (
    "opentelemetry.util.genai",
    "opentelemetry.instrumentation.openai_v2",
    "opentelemetry.instrumentation.google_genai",
)
CHAT_SPAN = "chat"  # the official instrumentations' span name: ``chat`` or ``chat {model}``
CHAT_OPERATION = "chat"
TEXT_COMPLETION_OPERATION = "text_completion"
GENERATE_CONTENT_OPERATION = "generate_content"
# The operations that are one model call (not embeddings, agents, tools or workflows).
CALL_OPERATIONS = frozenset({CHAT_OPERATION, TEXT_COMPLETION_OPERATION, GENERATE_CONTENT_OPERATION})
RESPONSES_ID_PREFIX = "resp_"  # a Responses API call recorded as ``chat``: its ids say so

_CHAT = Classification(Kind.CHAT, Convention.GENAI)
_COMPLETION = Classification(Kind.COMPLETION, Convention.GENAI)
_RESPONSES = Classification(Kind.RESPONSES, Convention.GENAI)
_ANTHROPIC = Classification(Kind.ANTHROPIC, Convention.GENAI)
_OTHERS = {
    kind: Classification(kind, Convention.GENAI)
    for kind in (Kind.MISTRAL, Kind.COHERE, Kind.GEMINI, Kind.BEDROCK, Kind.UNIVERSAL)
}


def classify(name: str, attributes: Mapping[str, Any]) -> Classification | None:
    """Whatever the span's name or instrumentation (LangChain, LiteLLM, Logfire, the
    official ones): the operation says it is a model call, the provider which."""
    operation = attributes.get(OPERATION_NAME)
    # Only text is looked up: a kvlist from the bridge (a dict) cannot even be hashed.
    if not isinstance(operation, str) or operation not in CALL_OPERATIONS:
        return None
    provider = providers.provider_of(attributes)
    if provider is None:
        return None
    if provider in providers.ANTHROPIC:
        return _ANTHROPIC
    if provider not in providers.OPENAI:
        kind = providers.chat_kind(provider)
        if kind is None:
            return Classification(Kind.CHAT, Convention.GENAI, unsupported_provider=provider)
        return _OTHERS[kind]
    if operation == TEXT_COMPLETION_OPERATION:
        return _COMPLETION
    elsewhere = providers.openai_sdk_kind(provider, attributes)
    if elsewhere is not None:
        return _OTHERS[elsewhere]
    response_id = attributes.get(RESPONSE_ID)
    if isinstance(response_id, str) and response_id.startswith(RESPONSES_ID_PREFIX):
        return _RESPONSES
    return _CHAT
