"""Loopback stand-ins for the OpenAI Assistants API (``OpenAI-Beta: assistants=v2``).

OpenAI shut the public Assistants API down, so the real ``openai`` SDK is driven
against these servers instead:

* ``reconify_otel.offline.assistants.ReplayAssistantsAPI`` (product: ``reconify-otel demo``
  runs on it) replays a recorded VCR.py cassette, byte for byte what OpenAI answered.
* :class:`SimulatedAssistantsAPI` keeps assistants, threads, messages, runs and
  run steps in memory, for flows no recording covers (tool calls, failures,
  streaming of every kind, async clients, many turns).

Both log every request they receive (:attr:`requests`) and send
``openai-poll-after-ms: 1`` so the SDK's polling helpers do not sleep a second
between polls.

The implementation is split by concern in ``_assistants/``: ``server`` (HTTP, answers in
OpenAI's shapes, shared with the replay), ``state`` (stores and builders), ``runs`` (a
run's life), ``simulated`` (the routes).

Example::

    with SimulatedAssistantsAPI() as api:
        client = OpenAI(base_url=api.base_url, api_key="sk-test")
        ...
"""

from ._assistants.simulated import SimulatedAssistantsAPI
from ._assistants.state import PROMPT_OVERHEAD, RUN_OUTCOMES, RunOutcome

__all__ = [
    "PROMPT_OVERHEAD",
    "RUN_OUTCOMES",
    "RunOutcome",
    "SimulatedAssistantsAPI",
]
