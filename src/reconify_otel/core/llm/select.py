"""Which spans are plain LLM calls, and which reader maps each.

``llm_flavor`` runs on every span an application makes, so it decides by name first
(set lookups and one ``startswith``); only the official ``chat {model}`` spans, whose
name other GenAI instrumentations share, and OpenInference's generic class names need
an attribute or two. The project's own Assistants spans (``invoke_agent ...``,
``openai.assistant.run``) are not plain calls and never match.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconify_otel.core.llm.genai import ANTHROPIC, CHAT, COMPLETION, RESPONSES, map_genai
from reconify_otel.core.llm.openinference import map_openinference
from reconify_otel.core.llm.shapes import LlmCall

# traceloop/openllmetry, every attribute generation.
TRACELOOP = {
    "openai.chat": CHAT,
    "openai.completion": COMPLETION,
    "openai.response": RESPONSES,
    "anthropic.chat": ANTHROPIC,
}
# OpenInference: the SDK's response class name (openai), the method (anthropic).
OPENINFERENCE = {
    "ChatCompletion": CHAT,
    "ParsedChatCompletion": CHAT,
    "Completion": COMPLETION,
    "Response": RESPONSES,
    "ParsedResponse": RESPONSES,
    "Messages": ANTHROPIC,
    "messages.create": ANTHROPIC,
    "messages.stream": ANTHROPIC,
    "messages.parse": ANTHROPIC,
    "beta.messages.create": ANTHROPIC,
    "beta.messages.stream": ANTHROPIC,
    "beta.messages.parse": ANTHROPIC,
}
_OPENAI_PROVIDERS = frozenset({"openai", "azure.ai.openai", "az.ai.openai"})
_ANTHROPIC_PROVIDERS = frozenset({"anthropic"})


def llm_flavor(name: str, attributes: Mapping[str, Any]) -> str | None:
    """Cheap test run on every span: which call it records (``chat``, ``completion``,
    ``responses``, ``anthropic``), or None; most names answer after two set lookups."""
    flavor = TRACELOOP.get(name)
    if flavor is not None:
        return flavor
    flavor = OPENINFERENCE.get(name)
    if flavor is not None:
        return flavor if attributes.get("openinference.span.kind") == "LLM" else None
    if name.startswith("chat"):
        return _official(name, attributes)
    return None


def is_llm_call(name: str, attributes: Mapping[str, Any]) -> bool:
    return llm_flavor(name, attributes) is not None


def map_llm_call(name: str, attributes: Mapping[str, Any]) -> LlmCall | str:
    """Map a selected span (see ``llm_flavor``); a short reason when it cannot be.
    (``capture_content=False`` is applied later, to the finished payload: ``core.privacy``.)
    """
    # The readers probe dozens of keys; an SDK span's attributes (a mapping proxy over
    # BoundedAttributes) answer each through the ABC's ``get``: one copy costs less.
    if type(attributes) is not dict:
        attributes = dict(attributes)
    flavor = llm_flavor(name, attributes)
    if flavor is None:
        return "not an LLM call span"
    mapper = map_openinference if name in OPENINFERENCE else map_genai
    return mapper(flavor, attributes)


def _official(name: str, attributes: Mapping[str, Any]) -> str | None:
    """``chat {model}``: the GenAI conventions' span name, shared by every instrumentation
    that follows them, so the provider decides (OpenAI or Anthropic only)."""
    if not (name == "chat" or name.startswith("chat ")):
        return None
    if attributes.get("gen_ai.operation.name") != "chat":
        return None
    provider = attributes.get("gen_ai.provider.name") or attributes.get("gen_ai.system")
    if not isinstance(provider, str):  # a kvlist from the bridge cannot even be looked up
        return None
    if provider in _ANTHROPIC_PROVIDERS:
        return ANTHROPIC
    if provider not in _OPENAI_PROVIDERS:
        return None
    # A Responses API call made under the same conventions: its ids say so.
    response_id = attributes.get("gen_ai.response.id")
    if isinstance(response_id, str) and response_id.startswith("resp_"):
        return RESPONSES
    return CHAT
