"""What kind of span this is, decided in one place: each convention's names and its
classifier (``genai``, ``traceloop``, ``openinference``, ``assistants``).

``classify`` answers for every route (exporter, handler, bridge, the identity processor),
and ``collector_filter`` writes the same rule for the Collector. The readers that turn a
classified span into a payload live in ``core.llm`` and ``core.assistant``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from reconify_otel.core.conventions import assistants, genai, openinference, traceloop
from reconify_otel.core.conventions.classification import Classification, Convention, Kind

__all__ = [
    "CANDIDATE_NAMES",
    "CANDIDATE_PREFIXES",
    "Classification",
    "Convention",
    "Kind",
    "classify",
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
# Every name ``classify`` can accept is one of these or starts with one of the prefixes:
# a name that is neither is answered without reading an attribute.
CANDIDATE_NAMES = frozenset(_BY_NAME)
CANDIDATE_PREFIXES = tuple(prefix for prefix, _ in _BY_PREFIX)


def classify(name: str, attributes: Mapping[str, Any]) -> Classification | None:
    """The interaction a finished span records, or None; by name first (one dict lookup,
    one ``startswith``), then an attribute or two where a name is shared."""
    classifier = _BY_NAME.get(name)
    if classifier is not None:
        return classifier(name, attributes)
    for prefix, by_prefix in _BY_PREFIX:
        if name.startswith(prefix):
            return by_prefix(name, attributes)
    return None


def wants_identity(name: str, attributes: Mapping[str, Any]) -> bool:
    """At span start: should the current user and session be written on this span? Every
    span that may become an interaction; an ``invoke_agent`` span only without a run id,
    since AssistantsInstrumentor's own carry what was current when the run started."""
    if name in traceloop.RUN_NAMES:
        return True  # superseded or not: that is only known once the span ends
    if name.startswith(assistants.INVOKE_AGENT):
        return assistants.RUN_ID not in attributes
    return classify(name, attributes) is not None
