"""Reconify and the LLM providers, offline, on 127.0.0.1: what ``reconify-otel sink`` and
``reconify-otel demo`` run, and what the tests, examples and benchmarks talk to.

* ``sink.ReconifySink``: a Reconify-compatible endpoint that keeps what it receives and
  can be told to fail (status codes, delays, dropped connections); ``sink_cli`` serves it.
* ``replay``: recorded OpenAI and Anthropic calls served to the real SDKs.
* ``assistants.ReplayAssistantsAPI``: a recorded OpenAI Assistants conversation.

The recordings are real provider traffic (``recordings/ATTRIBUTION.md``). Nothing here is
imported by ``import reconify_otel``; reading a recording needs PyYAML (the ``demo`` extra).
"""

from pathlib import Path

RECORDINGS = Path(__file__).resolve().parent / "recordings"
"""Recorded OpenAI and Anthropic traffic (see ``recordings/ATTRIBUTION.md``)."""

ASSISTANTS_RECORDINGS = RECORDINGS / "openai-assistants"
LLM_RECORDINGS = RECORDINGS / "llm"
