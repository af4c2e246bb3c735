"""What a span is, decided once: the kind of interaction and the convention it is written in.

Selection produces it and the span record carries it, so the mapping dispatches on it
instead of reading the name and attributes again.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Kind(str, Enum):
    """The interaction a span records; the values are the ``interactions`` option's words."""

    ASSISTANT = "assistant"
    CHAT = "chat"
    COMPLETION = "completion"
    RESPONSES = "responses"
    ANTHROPIC = "anthropic"
    MISTRAL = "mistral"
    COHERE = "cohere"
    GEMINI = "gemini"
    BEDROCK = "bedrock"
    UNIVERSAL = "universal"  # any other provider's chat call, in the OpenAI chat shape


class Convention(Enum):
    """Whose layout the attributes follow, which picks the reader."""

    GENAI = "genai"  # any span the GenAI semantic conventions say is a model call
    TRACELOOP = "traceloop"  # openllmetry's span names, gen_ai.* or older llm.* attributes
    OPENINFERENCE = "openinference"  # the provider's request body and answer as JSON
    # An OpenInference LLM span of a framework (LangChain, LiteLLM, the Agents SDK): its
    # ``input.value`` is the framework's own input, so the messages are read from
    # ``llm.input_messages.*``/``llm.output_messages.*``.
    OPENINFERENCE_MESSAGES = "openinference_messages"
    ASSISTANTS = "assistants"  # this project's ``invoke_agent`` spans


@dataclass(frozen=True, slots=True)
class Classification:
    kind: Kind
    convention: Convention
    # ``openai.assistant.run_stream``: every answer on the span is the run's own (a polled
    # run's span lists the whole page of the thread).
    streamed: bool = False
    # A model call of a provider Reconify has no format for: skipped and counted.
    unsupported_provider: str | None = None
