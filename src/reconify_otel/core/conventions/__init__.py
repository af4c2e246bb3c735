"""What kind of span this is, decided in one place: each convention's names and its
classifier (``genai``, ``traceloop``, ``openinference``, ``assistants``).

``classify`` answers for every route (exporter, handler, bridge, the identity processor),
and ``collector_filter`` writes the same rule for the Collector. The readers that turn a
classified span into a payload live in ``core.llm`` and ``core.assistant``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from reconify_otel.core.conventions import assistants, genai, logfire, openinference, traceloop
from reconify_otel.core.conventions.classification import Classification, Convention, Kind

__all__ = [
    "CANDIDATE_NAMES",
    "CANDIDATE_PREFIXES",
    "MARKERS",
    "Classification",
    "Convention",
    "Kind",
    "classify",
    "may_classify",
    "wants_identity",
]

_Classifier = Callable[[str, Mapping[str, Any]], "Classification | None"]

_BY_NAME: dict[str, _Classifier] = {
    **dict.fromkeys(traceloop.SPAN_NAMES, traceloop.classify),
    **dict.fromkeys(openinference.SPAN_KINDS, openinference.classify),
}
_BY_PREFIX: tuple[tuple[str, _Classifier], ...] = (
    (genai.CHAT_SPAN, genai.classify),
    (assistants.INVOKE_AGENT, assistants.classify),
)
# Every name ``classify`` can accept by name is one of these or starts with one of the
# prefixes; any other span is one only if it holds one of the marker attributes.
CANDIDATE_NAMES = frozenset(_BY_NAME)
CANDIDATE_PREFIXES = tuple(prefix for prefix, _ in _BY_PREFIX)
MARKERS = frozenset({genai.OPERATION_NAME, openinference.SPAN_KIND})


def classify(name: str, attributes: Mapping[str, Any], scope: str = "") -> Classification | None:
    """The interaction a finished span records, or None: by name where a name says it
    (one dict lookup, a ``startswith``), else by what its attributes say it is, whatever
    its name or instrumentation (a framework's span, a Logfire span, an application's
    span LiteLLM wrote on). ``scope``: the instrumentation scope's name, where known."""
    classifier = _BY_NAME.get(name)
    if classifier is not None:
        return classifier(name, attributes)
    for prefix, by_prefix in _BY_PREFIX:
        if name.startswith(prefix):
            found = by_prefix(name, attributes)
            # ``invoke_agent ...`` is an agent's span, never a call; ``chat...`` may be a
            # framework's span named so (OpenInference).
            if found is not None or prefix == assistants.INVOKE_AGENT:
                return found
    if attributes.get(genai.OPERATION_NAME) is not None:
        return genai.classify(name, attributes)
    return openinference.classify(name, attributes, scope)


def may_classify(name: str, attributes: Iterable[str]) -> bool:
    """False for a span no rule can take, from its name and attribute keys alone: the
    caller need not read a value (an SDK span's attribute view answers ``get`` slowly)."""
    return (
        name in CANDIDATE_NAMES
        or name.startswith(CANDIDATE_PREFIXES)
        or not MARKERS.isdisjoint(attributes)
    )


# Instrumentation scopes whose every span concerns model calls: frameworks write their
# attributes after the span starts, so at its start only the scope tells.
LLM_SCOPE_PREFIXES = (
    *traceloop.SCOPE_PREFIXES,
    *genai.SCOPE_PREFIXES,
    openinference.SCOPE_PREFIX,
    *logfire.SCOPE_PREFIXES,
)


def wants_identity(name: str, attributes: Mapping[str, Any], scope: str = "") -> bool:
    """At span start: should the current user and session be written on this span? Every
    span that may become an interaction, and every span of an LLM instrumentation's scope;
    an ``invoke_agent`` span only without a run id, since AssistantsInstrumentor's own
    carry what was current when the run started."""
    if scope.startswith(LLM_SCOPE_PREFIXES):
        return True
    if name in traceloop.RUN_NAMES:
        return True  # superseded or not: that is only known once the span ends
    if name.startswith(assistants.INVOKE_AGENT):
        return assistants.RUN_ID not in attributes
    return classify(name, attributes) is not None
