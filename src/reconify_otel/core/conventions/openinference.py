"""OpenInference (Arize Phoenix): every span of kind LLM is a model call.

The provider instrumentations (``-openai``, ``-anthropic``) name their spans after the
SDK's response class or method and record the request body and answer as JSON. The
frameworks' (``-langchain``, ``-litellm``, ``-openai-agents``) name them anything; their
provider (``llm.provider``/``llm.system``) picks the format. No ``gen_ai.*`` attribute.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from reconify_otel.core.conventions import providers
from reconify_otel.core.conventions.classification import Classification, Convention, Kind

SCOPE_PREFIX = "openinference.instrumentation."  # every OpenInference instrumentation
# The provider instrumentations record every API call as an LLM span (an Assistants
# ``Run``, a ``Thread``...): theirs are model calls only under the names below.
PROVIDER_SCOPES = frozenset(
    {"openinference.instrumentation.openai", "openinference.instrumentation.anthropic"}
)
SPAN_KIND = "openinference.span.kind"
LLM = "LLM"  # the span kind of a model call
INPUT_VALUE = "input.value"  # the request body as JSON
OUTPUT_VALUE = "output.value"  # the provider's answer as JSON
INVOCATION_PARAMETERS = "llm.invocation_parameters"
PROVIDER = "llm.provider"
SYSTEM = "llm.system"
SESSION_ID = "session.id"
INPUT_MESSAGES = "llm.input_messages"  # ``{prefix}.N.message.role`` / ``.content`` ...
OUTPUT_MESSAGES = "llm.output_messages"
MESSAGE_ROLE = "message.role"
MESSAGE_CONTENT = "message.content"
MESSAGE_NAME = "message.name"
MESSAGE_TOOL_CALL_ID = "message.tool_call_id"
MESSAGE_TOOL_CALLS = "message.tool_calls"  # ``.N.tool_call.id`` / ``.function.name`` ...
TOOL_CALL_ID = "tool_call.id"
TOOL_CALL_NAME = "tool_call.function.name"
TOOL_CALL_ARGUMENTS = "tool_call.function.arguments"
TOOLS = "llm.tools"  # ``{prefix}.N.tool.json_schema``: each tool's definition as JSON
TOOL_JSON_SCHEMA = "tool.json_schema"
MODEL_NAME = "llm.model_name"
REQUEST_MODEL_NAME = "llm.request.model_name"
RESPONSE_MODEL_NAME = "llm.response.model_name"
FINISH_REASON = "llm.finish_reason"
TOKEN_COUNT_PROMPT = "llm.token_count.prompt"
TOKEN_COUNT_COMPLETION = "llm.token_count.completion"
TOKEN_COUNT_TOTAL = "llm.token_count.total"
TOKEN_COUNT_CACHE_READ = "llm.token_count.prompt_details.cache_read"
TOKEN_COUNT_CACHE_WRITE = "llm.token_count.prompt_details.cache_write"
TOKEN_COUNT_REASONING = "llm.token_count.completion_details.reasoning"

SPAN_KINDS = {
    "ChatCompletion": Kind.CHAT,
    "ParsedChatCompletion": Kind.CHAT,
    "Completion": Kind.COMPLETION,
    "Response": Kind.RESPONSES,
    "ParsedResponse": Kind.RESPONSES,
    "Messages": Kind.ANTHROPIC,
    "messages.create": Kind.ANTHROPIC,
    "messages.stream": Kind.ANTHROPIC,
    "messages.parse": Kind.ANTHROPIC,
    "beta.messages.create": Kind.ANTHROPIC,
    "beta.messages.stream": Kind.ANTHROPIC,
    "beta.messages.parse": Kind.ANTHROPIC,
}
# A Responses API answer as ``output.value`` (the Agents SDK's ``response`` spans).
_RESPONSE_OBJECT = re.compile(r'"object":\s*"response"')

_BY_NAME = {
    name: Classification(kind, Convention.OPENINFERENCE) for name, kind in SPAN_KINDS.items()
}
_FRAMEWORK = {
    kind: Classification(kind, Convention.OPENINFERENCE_MESSAGES)
    for kind in (
        Kind.CHAT,
        Kind.RESPONSES,
        Kind.ANTHROPIC,
        Kind.MISTRAL,
        Kind.COHERE,
        Kind.GEMINI,
        Kind.BEDROCK,
        Kind.UNIVERSAL,
    )
}


def classify(name: str, attributes: Mapping[str, Any], scope: str = "") -> Classification | None:
    """Every LLM span: the provider instrumentations' by their names (their bodies are
    the provider's), any other (a framework's) by its provider."""
    if attributes.get(SPAN_KIND) != LLM:
        return None
    found = _BY_NAME.get(name)
    if found is not None or scope in PROVIDER_SCOPES:
        return found
    provider = attributes.get(PROVIDER) or attributes.get(SYSTEM)
    provider = providers.named(provider) if isinstance(provider, str) else ""  # not a kvlist
    if provider in providers.ANTHROPIC:
        return _FRAMEWORK[Kind.ANTHROPIC]
    if provider in providers.OPENAI:
        return _FRAMEWORK[Kind.RESPONSES if _is_response(attributes) else Kind.CHAT]
    kind = providers.chat_kind(provider)
    if kind is not None:
        return _FRAMEWORK[kind]
    return Classification(
        Kind.CHAT, Convention.OPENINFERENCE_MESSAGES, unsupported_provider=provider or "unknown"
    )


def _is_response(attributes: Mapping[str, Any]) -> bool:
    """``output.value`` is a Responses object (a JSON object saying so), not an answer's
    text that happens to hold those words."""
    answer = attributes.get(OUTPUT_VALUE)
    if not isinstance(answer, str) or not answer.startswith("{"):
        return False
    return _RESPONSE_OBJECT.search(answer) is not None
