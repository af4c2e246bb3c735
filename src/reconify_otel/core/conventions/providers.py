"""Which Reconify format a model call of a provider is sent in, from the provider's name as
the conventions write it: the GenAI conventions' ``gen_ai.provider.name`` (``gen_ai.system``
before), OpenInference's ``llm.provider`` / ``llm.system``, LiteLLM's provider prefixes.

OpenAI and Anthropic have formats of their own (their calls are classified further by the
conventions), Mistral, Cohere, Gemini and Bedrock too; every other provider is an
OpenAI-compatible chat API (Groq, DeepSeek, xAI, Perplexity, a local vLLM or Ollama
server...): Reconify's ``universal`` format, the call in the OpenAI chat shape. Names are
compared in lower case.
"""

from __future__ import annotations

from reconify_otel.core.conventions.classification import Kind

OPENAI = frozenset({"openai", "azure.ai.openai", "az.ai.openai", "azure"})
ANTHROPIC = frozenset({"anthropic"})
MISTRAL = frozenset({"mistral_ai", "mistralai", "mistral"})
COHERE = frozenset({"cohere", "cohere_chat"})
# The official instrumentation's, traceloop's, the conventions', OpenInference's, LiteLLM's.
GEMINI = frozenset(
    {"gemini", "gcp.gen_ai", "gcp.gemini", "gcp.vertex_ai", "google", "vertex_ai", "vertexai"}
)
# The conventions' and botocore's, traceloop's, OpenInference's, LiteLLM's two.
BEDROCK = frozenset({"aws.bedrock", "bedrock", "aws", "bedrock_converse"})


# The kinds sent in the OpenAI chat shape: what their spans hold is read as an OpenAI chat.
CHAT_SHAPED = frozenset({Kind.CHAT, Kind.MISTRAL, Kind.UNIVERSAL})
_OWN_FORMATS = (
    (MISTRAL, Kind.MISTRAL),
    (COHERE, Kind.COHERE),
    (GEMINI, Kind.GEMINI),
    (BEDROCK, Kind.BEDROCK),
)


def named(provider: str) -> str:
    """A provider's name as the sets above spell it: instrumentations differ in case
    (``MistralAI``, ``Cohere``, ``AWS``)."""
    return provider.lower()


def shape_of(kind: Kind) -> Kind:
    """The kind whose request and answer shape ``kind``'s are (Mistral's API and the
    ``universal`` format are OpenAI's chat)."""
    return Kind.CHAT if kind in CHAT_SHAPED else kind


def chat_kind(provider: str) -> Kind | None:
    """The kind of a chat call of ``provider`` (as ``named`` spells it) that is neither
    OpenAI's nor Anthropic's (those are told apart further by their conventions); None:
    no provider named."""
    if not provider:
        return None
    for names, kind in _OWN_FORMATS:
        if provider in names:
            return kind
    return Kind.UNIVERSAL
