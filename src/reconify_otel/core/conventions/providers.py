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

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

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


def provider_of(attributes: Mapping[str, Any]) -> str | None:
    """The provider a GenAI span names (``gen_ai.provider.name``, else ``gen_ai.system``),
    as ``named`` spells it; None for none (or a kvlist from the bridge, which no name is)."""
    provider = attributes.get(PROVIDER_NAME) or attributes.get(SYSTEM)
    return named(provider) if isinstance(provider, str) else None


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


# The provider as the GenAI conventions name it (``gen_ai.system`` before).
PROVIDER_NAME = "gen_ai.provider.name"
SYSTEM = "gen_ai.system"
# Where an OpenAI SDK call went: the conventions' server address and port, and traceloop's
# base URL (``openai.base_url``).
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
API_BASE = "gen_ai.openai.api_base"
# The OpenAI-compatible APIs of other providers, by the end of their host name: the OpenAI
# SDK pointed at one of them makes no OpenAI call. Mistral's is its own format's shape.
COMPATIBLE_HOSTS = {
    **dict.fromkeys(
        (
            *("groq.com", "deepseek.com", "x.ai", "perplexity.ai", "together.xyz"),
            *("together.ai", "fireworks.ai", "openrouter.ai", "cerebras.ai", "deepinfra.com"),
            *("sambanova.ai", "hyperbolic.xyz", "novita.ai", "nvidia.com", "huggingface.co"),
        ),
        Kind.UNIVERSAL,
    ),
    "mistral.ai": Kind.MISTRAL,
}
# Local servers' default ports, on loopback: Ollama, vLLM, LM Studio, llama.cpp's server.
LOCAL_SERVER_PORTS = frozenset({11434, 8000, 1234, 8080})
_LOOPBACK = ("localhost", "127.0.0.1", "::1", "[::1]")


def openai_sdk_kind(provider: str, attributes: Mapping[str, Any]) -> Kind | None:
    """The format of an OpenAI SDK chat call that went to another provider's compatible
    API (or None: OpenAI's own, as far as the span tells): by the provider the span names
    (traceloop derives it from the base URL, ``openrouter``), else by the host it went to.
    A host this list does not know (a gateway in front of OpenAI, say) stays OpenAI's."""
    if provider and provider not in OPENAI:
        kind = chat_kind(provider)
        return kind if kind in CHAT_SHAPED else Kind.UNIVERSAL
    host, port = _server(attributes)
    if not host:
        return None
    if host in _LOOPBACK or host.startswith("127."):
        return Kind.UNIVERSAL if port in LOCAL_SERVER_PORTS else None
    for suffix, kind in COMPATIBLE_HOSTS.items():
        if host == suffix or host.endswith("." + suffix):
            return kind
    return None


def _server(attributes: Mapping[str, Any]) -> tuple[str, int | None]:
    address = attributes.get(SERVER_ADDRESS)
    if isinstance(address, str) and address:
        port = attributes.get(SERVER_PORT)
        return address.lower(), port if isinstance(port, int) else None
    base = attributes.get(API_BASE)
    if not isinstance(base, str) or not base:
        return "", None
    try:
        url = urlsplit(base)
        return (url.hostname or "").lower(), url.port
    except ValueError:  # a port that is no number
        return "", None
