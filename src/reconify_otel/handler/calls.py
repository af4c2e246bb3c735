"""A plain LLM call the handler saw (its keyword arguments, the provider's answer) as
the call the one mapping shapes, and the record around it that carries the envelope
(times, user, session).

The request and the answer are what went over the wire, so they are filtered to the
documented shapes as OpenInference's ``input.value``/``output.value`` are
(``core.llm.openinference.map_bodies``): the same call gives the same payload whichever
route it took.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from reconify_otel import identity
from reconify_otel.core.conventions import Kind
from reconify_otel.core.llm.genai import ANTHROPIC, CHAT, COMPLETION, RESPONSES
from reconify_otel.core.llm.openinference import map_bodies
from reconify_otel.core.llm.responses import without_options
from reconify_otel.core.llm.shapes import LlmCall
from reconify_otel.core.llm.values import as_dict, as_str, parse_json
from reconify_otel.core.record import SpanRecord
from reconify_otel.core.run_attributes import to_dict

# The object each OpenAI answer says it is, and the call it answers.
_OPENAI_OBJECTS = {"chat.completion": CHAT, "text_completion": COMPLETION, "response": RESPONSES}


def given(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments the API received: no ``omit``/``NOT_GIVEN`` placeholders, none
    of the SDK's own options (``extra_headers``, ``timeout``...) and no credential."""
    return without_options(
        {k: v for k, v in kwargs.items() if type(v).__name__ not in ("Omit", "NotGiven")}
    )


def request_text(kwargs: Mapping[str, Any]) -> str:
    """The request as JSON, taken when the call is made."""
    return json.dumps(given(kwargs), default=_json_value)


# ``log_chat``'s formats sent as given, as Reconify's modules send them.
AS_SENT = {
    "universal": Kind.UNIVERSAL,
    "mistral": Kind.MISTRAL,
    "cohere": Kind.COHERE,
    "gemini": Kind.GEMINI,
    "bedrock": Kind.BEDROCK,
}
FORMATS = ("universal", "openai", "anthropic", *(f for f in AS_SENT if f != "universal"))


def answer_of(provider_format: str, response: Any) -> dict[str, Any] | str | None:
    """The answer as a dict (SDK objects dumped); for ``universal`` also a text, as
    Reconify's ``logChat`` takes one (parsed later when it is JSON). None: neither."""
    if not isinstance(provider_format, str):
        return None
    if provider_format == "universal" and isinstance(response, str):
        return response
    return to_dict(response)


def flavor_of(provider_format: str, request: Mapping[str, Any], response: Any) -> Kind | None:
    """Which call ``log_chat`` was given: the format, and for ``openai`` the answer's
    ``object``, else the request's content key (``prompt``, ``input``, ``messages``);
    None when neither does."""
    if not isinstance(provider_format, str):
        return None
    if provider_format == "anthropic":
        return ANTHROPIC
    if provider_format in AS_SENT:
        return AS_SENT[provider_format]
    if provider_format != "openai" or not isinstance(response, Mapping):
        return None
    found = _OPENAI_OBJECTS.get(str(response.get("object")))
    if found is not None:
        return found
    for key, kind in (("prompt", COMPLETION), ("input", RESPONSES), ("messages", CHAT)):
        if key in request:
            return kind
    return None


def known_call(
    flavor: Kind,
    request: str,
    response: Any,
    start_ns: int,
    end_ns: int,
    captured: identity.Captured,
) -> tuple[SpanRecord, LlmCall] | None:
    """The call (``request``: from ``request_text``) and its envelope's record, for
    ``Preparer.prepare``; None when the answer is no object.

    Each call gets its own random trace id: calls without a provider id are then never
    taken for duplicates of one another (``core.dedup``), while one call logged twice is.
    """
    answer = response if isinstance(response, str) else to_dict(response)
    if answer is None:
        return None
    # JSON values only, as sent: SDK objects dumped, NaN and infinities null; a text answer
    # (``universal``) parsed when it is JSON, else sent as the text it is.
    body_in = parse_json(request)
    if isinstance(answer, str):
        parsed = parse_json(answer)
        body_out: Any = parsed if parsed is not None else answer
    else:
        body_out = parse_json(json.dumps(answer, default=_json_value))
    call = map_bodies(flavor, as_dict(body_in), body_out)
    if call.response_id is None:
        call = replace(call, response_id=response_id_of(flavor, body_out))
    record = SpanRecord(
        name=flavor.value,
        attributes=identity.with_identity({}, captured),
        start_ns=start_ns,
        end_ns=max(start_ns, end_ns),
        # A Response can come back (or a stream end) with status "failed": an error, not sent.
        is_error=flavor == RESPONSES and as_dict(answer).get("status") == "failed",
        trace_id=random.getrandbits(128),
    )
    return record, call


# Where an answer sent as given holds the provider's id, when not under ``id``: the one
# its spans record as the response id (Gemini's REST ``responseId`` and the SDK's dump,
# Cohere's v1 ``response_id``), so one call logged twice is one call (``core.dedup``).
_IDS = {
    Kind.GEMINI: ("responseId", "response_id"),
    Kind.COHERE: ("response_id",),
    Kind.BEDROCK: ("requestId",),
}


def response_id_of(flavor: Kind, answer: Any) -> str | None:
    found = as_dict(answer)
    return next((v for k in _IDS.get(flavor, ()) if (v := as_str(found.get(k)))), None)


def _json_value(value: Any) -> Any:
    """Request values JSON cannot write: SDK objects as the SDK sends them (fields that were
    set), sets as lists, UTF-8 bytes as their text; anything else (a callable, a client,
    binary data) as null, never a guess."""
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json", exclude_unset=True)
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    if isinstance(value, (bytes, bytearray)):  # a Bedrock body given as boto3 takes it
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return None
    return None
