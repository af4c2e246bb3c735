"""Loopback stand-ins for reconify-otel's tests, demo, examples and benchmarks."""

from pathlib import Path

RECORDINGS = Path(__file__).resolve().parent / "recordings"
"""Recorded OpenAI and Anthropic traffic (see ``recordings/ATTRIBUTION.md``)."""

ASSISTANTS_RECORDINGS = RECORDINGS / "openai-assistants"
LLM_RECORDINGS = RECORDINGS / "llm"
