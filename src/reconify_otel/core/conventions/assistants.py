"""OpenAI Assistants runs as this project writes them (``AssistantsInstrumentor``, the
handler's ``log_assistant``): ``invoke_agent {assistant}`` spans, the GenAI agent
attributes, and ``openai.assistants.*`` for what the conventions lack.

The run's own messages travel as full ``thread.message`` JSON so the payload can be
rebuilt exactly (ids, created_at, content blocks with annotations, attachments, metadata).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconify_otel.core.conventions.classification import Classification, Convention, Kind

INVOKE_AGENT = "invoke_agent"  # the span name's first word, and the operation
RUN_ID = "openai.assistants.run.id"
RUN_STATUS = "openai.assistants.run.status"
REQUEST_MESSAGE = "openai.assistants.request.message"
RESPONSE_MESSAGES = "openai.assistants.response.messages"
USAGE_TOTAL_TOKENS = "openai.assistants.usage.total_tokens"

_RUN = Classification(Kind.ASSISTANT, Convention.ASSISTANTS)


def classify(name: str, attributes: Mapping[str, Any]) -> Classification | None:
    """Other frameworks name agent spans ``invoke_agent`` too: the run id tells ours."""
    return _RUN if name.startswith(INVOKE_AGENT) and RUN_ID in attributes else None
