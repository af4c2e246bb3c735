"""OpenInference (``openinference-instrumentation-openai`` / ``-anthropic``, Arize Phoenix).

Its span names are the SDK's response class (openai) or the method (anthropic), generic
enough that the span kind must say LLM too. It writes no ``gen_ai.*`` attribute.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconify_otel.core.conventions.classification import Classification, Convention, Kind

SPAN_KIND = "openinference.span.kind"
LLM = "LLM"  # the span kind of a model call
INPUT_VALUE = "input.value"  # the request body as JSON
OUTPUT_VALUE = "output.value"  # the provider's answer as JSON
INVOCATION_PARAMETERS = "llm.invocation_parameters"
MODEL_NAME = "llm.model_name"
REQUEST_MODEL_NAME = "llm.request.model_name"
RESPONSE_MODEL_NAME = "llm.response.model_name"
FINISH_REASON = "llm.finish_reason"
TOKEN_COUNT_PROMPT = "llm.token_count.prompt"
TOKEN_COUNT_COMPLETION = "llm.token_count.completion"
TOKEN_COUNT_TOTAL = "llm.token_count.total"
TOKEN_COUNT_CACHE_READ = "llm.token_count.prompt_details.cache_read"
TOKEN_COUNT_CACHE_WRITE = "llm.token_count.prompt_details.cache_write"

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
_BY_NAME = {
    name: Classification(kind, Convention.OPENINFERENCE) for name, kind in SPAN_KINDS.items()
}


def classify(name: str, attributes: Mapping[str, Any]) -> Classification | None:
    found = _BY_NAME.get(name)
    return found if found is not None and attributes.get(SPAN_KIND) == LLM else None
