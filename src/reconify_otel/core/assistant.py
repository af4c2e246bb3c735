"""Pure mapping: one finished assistant-run span in, one Reconify interaction out.

No I/O and no keys here. Every source (SDK spans, OTLP spans at the bridge, the
handler API's Assistants objects) arrives as a ``SpanRecord`` and leaves through
``map_run``, so the same run always yields the same payload whichever route it took.
The Reconify keys are added only when a payload is encoded for sending.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconify_otel.core.conventions import Classification, Convention, Kind, classify
from reconify_otel.core.conventions import assistants as R
from reconify_otel.core.conventions import genai as G
from reconify_otel.core.conventions import traceloop as T
from reconify_otel.core.envelope import interaction
from reconify_otel.core.interaction import Interaction
from reconify_otel.core.llm.genai import openai_usage
from reconify_otel.core.llm.legacy import GENERATIONS
from reconify_otel.core.llm.values import indexed
from reconify_otel.core.payload import NO_DEFAULTS, Defaults, Payload, Skip, Skipped
from reconify_otel.core.record import SpanRecord
from reconify_otel.core.values import as_list, as_str, first_str, json_attr


def is_assistant_run(name: str, attributes: Mapping[str, Any]) -> bool:
    """Whether ``classify`` takes the span for an assistant run."""
    found = classify(name, attributes)
    return found is not None and found.kind is Kind.ASSISTANT


def map_run(span: SpanRecord, defaults: Defaults = NO_DEFAULTS) -> Interaction | Skipped:
    """Map a selected span (its classification an assistant run) to an interaction.
    A record that was not classified is read by its name, as selection would have."""
    attrs = span.attributes
    if span.is_error:
        return Skipped(Skip.ERROR_RUN, str(attrs.get(G.ERROR_TYPE) or attrs.get(R.RUN_STATUS)))
    bad: list[str] = []
    found = span.classification
    if found is None and span.name in T.RUN_NAMES:  # superseded: still read as traceloop's
        found = Classification(Kind.ASSISTANT, Convention.TRACELOOP, span.name == T.RUN_STREAM)
    if found is not None and found.convention is Convention.TRACELOOP:
        request, response = _upstream_messages(attrs, bad, found.streamed)
    else:
        request, response = _own_messages(attrs, bad)
    if response is None:
        return Skipped(Skip.NO_ANSWER, "the span holds no assistant message")

    model = first_str(attrs, G.REQUEST_MODEL, G.RESPONSE_MODEL, T.REQUEST_MODEL, T.RESPONSE_MODEL)
    thread_id = as_str(attrs.get(G.CONVERSATION_ID))
    if request is None:
        request = _message("user", None)
    if request.get("assistant_id") is None:
        request["assistant_id"] = as_str(attrs.get(G.AGENT_ID))
    if request.get("thread_id") is None:
        request["thread_id"] = thread_id
    request["model"] = model
    response["usage"] = _usage(attrs, bad)

    return interaction(span, defaults, bad, Kind.ASSISTANT, thread_id, (request, response))


# --- this project's own contract (docs/attributes.md) -------------------------------


def _own_messages(
    attrs: Mapping[str, Any], bad: list[str]
) -> tuple[Payload | None, Payload | None]:
    request = json_attr(attrs, R.REQUEST_MESSAGE, dict, bad)
    answers = json_attr(attrs, R.RESPONSE_MESSAGES, list, bad)
    run_id = as_str(attrs.get(R.RUN_ID))
    response: Payload | None = None
    messages = [m for m in answers or () if isinstance(m, dict)]
    if messages:
        # A run may write several assistant messages: the newest names the answer and
        # every message's content is kept, oldest first.
        response = dict(messages[-1])
        response["content"] = [block for m in messages for block in as_list(m.get("content"))]
        if response.get("run_id") is None:
            response["run_id"] = run_id
    if request is None or response is None:
        upstream_request, upstream_response = _semconv_messages(attrs, bad, every_answer=True)
        request = request if request is not None else upstream_request
        if response is None and upstream_response is not None:
            response = upstream_response
            response["run_id"] = run_id
            response["thread_id"] = as_str(attrs.get(G.CONVERSATION_ID))
            response["assistant_id"] = as_str(attrs.get(G.AGENT_ID))
    return (dict(request) if request is not None else None), response


# --- opentelemetry-instrumentation-openai, every attribute generation ------------------


def _upstream_messages(
    attrs: Mapping[str, Any], bad: list[str], every_answer: bool
) -> tuple[Payload | None, Payload | None]:
    """``every_answer``: a streamed run's outputs are all its own; a polled run's span
    lists the whole page of the thread, so only its last answer is this run's."""
    if G.INPUT_MESSAGES in attrs or G.OUTPUT_MESSAGES in attrs:
        return _semconv_messages(attrs, bad, every_answer)
    for prefix_in, prefix_out in GENERATIONS:
        inputs = _indexed(attrs, prefix_in)
        outputs = _indexed(attrs, prefix_out)
        if inputs or outputs:
            # Old versions also listed user messages among completions.
            users = [e for e in inputs + outputs if e[0] == "user"]
            answers = [(i, e) for i, e in enumerate(outputs) if e[0] != "user"]
            return _pick(attrs, users, answers, every_answer)
    return None, _pick(attrs, [], [], every_answer)[1]


Entry = tuple[str, list[str]]  # role, text parts


def _semconv_messages(
    attrs: Mapping[str, Any], bad: list[str], every_answer: bool
) -> tuple[Payload | None, Payload | None]:
    inputs = _parts_entries(json_attr(attrs, G.INPUT_MESSAGES, list, bad))
    outputs = _parts_entries(json_attr(attrs, G.OUTPUT_MESSAGES, list, bad))
    users = [e for e in inputs if e[0] == "user"]
    answers = [(i, e) for i, e in enumerate(outputs) if e[0] != "user"]
    return _pick(attrs, users, answers, every_answer)


def _pick(
    attrs: Mapping[str, Any],
    users: list[Entry],
    answers: list[tuple[int, Entry]],
    every_answer: bool,
) -> tuple[Payload | None, Payload | None]:
    request = _message("user", users[-1][1]) if users else None
    if not answers:
        # Content may be off (events instead of attributes) while the ids still flow.
        answer_id = _response_id(attrs, None)
        return request, (_message("assistant", None, answer_id) if answer_id else None)
    chosen = answers if every_answer else answers[-1:]
    texts = [text for _, entry in chosen for text in entry[1]]
    index = None if every_answer else chosen[-1][0]
    return request, _message("assistant", texts, _response_id(attrs, index))


def _response_id(attrs: Mapping[str, Any], index: int | None) -> str | None:
    """The id at ``gen_ai.response.{index}.id``; with no index, the highest index's."""
    if index is not None:
        return as_str(attrs.get(f"{G.INDEXED_RESPONSES}.{index}.id"))
    ids = [
        f["id"]
        for f in indexed(attrs, G.INDEXED_RESPONSES).values()
        if isinstance(f.get("id"), str)
    ]
    return ids[-1] if ids else None


def _parts_entries(messages: list[Any] | None) -> list[Entry]:
    entries: list[Entry] = []
    for message in messages or ():
        if not isinstance(message, dict):
            continue
        texts: list[str] = []
        for part in as_list(message.get("parts")):
            if isinstance(part, dict) and isinstance(part.get("content"), str):
                texts.append(part["content"])
        if isinstance(message.get("content"), str):  # pre-parts JSON shape
            texts.append(message["content"])
        entries.append((str(message.get("role") or "assistant"), texts))
    return entries


def _indexed(attrs: Mapping[str, Any], prefix: str) -> list[Entry]:
    """``{prefix}.N.role`` / ``{prefix}.N.content`` pairs, in index order."""
    entries: list[Entry] = []
    for fields in indexed(attrs, prefix).values():
        if "role" in fields or "content" in fields:
            role, content = fields.get("role"), fields.get("content")
            texts = [content] if isinstance(content, str) else []
            entries.append((role if isinstance(role, str) else "assistant", texts))
    return entries


def text_block(value: str) -> Payload:
    return {"type": "text", "text": {"value": value, "annotations": []}}


def _message(role: str, texts: list[str] | None, message_id: str | None = None) -> Payload:
    """A ``thread.message`` with only what a span can tell; unknown fields stay null."""
    return {
        "id": message_id,
        "object": "thread.message",
        "created_at": None,
        "assistant_id": None,
        "thread_id": None,
        "run_id": None,
        "role": role,
        "content": [text_block(t) for t in texts] if texts is not None else [],
        "attachments": None,
        "metadata": None,
    }


def _usage(attrs: Mapping[str, Any], bad: list[str]) -> Payload | None:
    return openai_usage(attrs, bad, R.USAGE_TOTAL_TOKENS, T.USAGE_TOTAL_TOKENS)
