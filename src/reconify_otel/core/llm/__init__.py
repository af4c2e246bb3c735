"""Plain LLM calls (OpenAI chat, legacy completions, Responses API; Anthropic messages)
from the spans of three instrumentation conventions, as Reconify payload parts.

Pure: a classified span's attributes in, ``LlmCall`` (or a reason it cannot be mapped)
out. Which span is which is ``core.conventions``'; the readers are here, per convention:
``genai`` (GenAI semantic conventions: traceloop, official openai-v2), ``legacy``
(traceloop's older ``gen_ai.prompt.N.*`` attributes), ``openinference``; ``shapes``
builds the provider objects every reader returns.
"""

from reconify_otel.core.llm.select import is_llm_call, llm_flavor, map_call, map_llm_call
from reconify_otel.core.llm.shapes import LlmCall

__all__ = ["LlmCall", "is_llm_call", "llm_flavor", "map_call", "map_llm_call"]
