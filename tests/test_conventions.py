"""``core.conventions``: one classifier says what a span is, for every route, and each
convention owns its names (no attribute-name literal elsewhere in src/)."""

from __future__ import annotations

import dataclasses
import math
import re
import tokenize
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

import reconify_otel
from reconify_otel.bridge.otlp_spans import selected_spans
from reconify_otel.core import mapping
from reconify_otel.core.conventions import (
    CANDIDATE_NAMES,
    CANDIDATE_PREFIXES,
    MARKERS,
    Classification,
    Convention,
    Kind,
    classify,
    wants_identity,
)
from reconify_otel.core.conventions.logfire import call_start_ns
from reconify_otel.core.interaction import Interaction
from reconify_otel.core.llm import select
from reconify_otel.core.mapping import Selection, map_span
from reconify_otel.core.payload import Skip, Skipped
from reconify_otel.core.record import SpanRecord
from reconify_otel.handler import reconify_openai_handler
from reconify_otel.runtime.events import Event

from .fuzz_strategies import TRACELOOP_NAMES, over_spans
from .helpers import API_KEY, APP_KEY

SRC = Path(__file__).resolve().parents[1] / "src" / "reconify_otel"
CONVENTIONS = SRC / "core" / "conventions"
# What a convention's names start with (or are, for span names): owned by conventions/.
OWNED_PREFIXES = (
    "gen_ai.",
    "llm.",
    "openinference.",
    "openai.assistants.",
    "traceloop.",
    "input.value",
    "output.value",
    "reconify.superseded",
)
OWNED_NAMES = TRACELOOP_NAMES | {"invoke_agent"}
_QUOTE = re.compile(r"^[rRbBfFuU]*('''|\"\"\"|'|\")")

GENAI, TRACELOOP = Convention.GENAI, Convention.TRACELOOP
OPENINFERENCE, ASSISTANTS = Convention.OPENINFERENCE, Convention.ASSISTANTS


def string_bodies(path: Path) -> Iterator[tuple[int, str]]:
    """(line, text after the opening quote) of each string literal, f-strings included."""
    middle = getattr(tokenize, "FSTRING_MIDDLE", None)  # Python 3.12+
    with path.open("rb") as file:
        for token in tokenize.tokenize(file.readline):
            if token.type == tokenize.STRING:
                yield token.start[0], _QUOTE.sub("", token.string)
            elif middle is not None and token.type == middle:
                yield token.start[0], token.string


def test_attribute_names_are_written_only_in_the_conventions() -> None:
    found = [
        f"{path.relative_to(SRC)}:{line}: {body[:40]!r}"
        for path in sorted(SRC.rglob("*.py"))
        if CONVENTIONS not in path.parents
        for line, body in string_bodies(path)
        if body.startswith(OWNED_PREFIXES) or body.rstrip("'\"") in OWNED_NAMES
    ]
    assert found == []


def test_the_literal_finder_sees_plain_and_f_strings(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text('a = "gen_ai.system"\nb = f"llm.{x}.id"\n# "gen_ai.comment"\n')
    assert [body[:7] for _, body in string_bodies(probe)] == ["gen_ai.", "llm.{x}"]


C = Classification
CASES: list[tuple[str, dict[str, Any], Classification | None]] = [
    ("openai.chat", {}, C(Kind.CHAT, TRACELOOP)),
    ("openai.completion", {}, C(Kind.COMPLETION, TRACELOOP)),
    ("openai.response", {}, C(Kind.RESPONSES, TRACELOOP)),
    ("anthropic.chat", {}, C(Kind.ANTHROPIC, TRACELOOP)),
    ("openai.assistant.run", {}, C(Kind.ASSISTANT, TRACELOOP)),
    ("openai.assistant.run_stream", {}, C(Kind.ASSISTANT, TRACELOOP, streamed=True)),
    ("openai.assistant.run", {"reconify.superseded": True}, None),
    (
        "chat gpt-4o",
        {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai"},
        C(Kind.CHAT, GENAI),
    ),
    (
        "chat",
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.system": "az.ai.openai",
            "gen_ai.response.id": "resp_1",
        },
        C(Kind.RESPONSES, GENAI),
    ),
    (
        "chat claude",
        {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "anthropic"},
        C(Kind.ANTHROPIC, GENAI),
    ),
    (
        "chat x",
        {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "aws.bedrock"},
        C(Kind.BEDROCK, GENAI),
    ),
    # Any name: a framework's span (LangChain's ``ChatOpenAI.chat``, ``litellm_request``).
    (
        "chatbot",
        {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai"},
        C(Kind.CHAT, GENAI),
    ),
    (
        "litellm_request",
        {"gen_ai.operation.name": "text_completion", "gen_ai.system": "openai"},
        C(Kind.COMPLETION, GENAI),
    ),
    (
        "ChatOpenAI",
        {"openinference.span.kind": "LLM", "llm.provider": "openai"},
        C(Kind.CHAT, Convention.OPENINFERENCE_MESSAGES),
    ),
    (
        "response",
        {
            "openinference.span.kind": "LLM",
            "llm.system": "openai",
            "output.value": '{"id": "resp_1", "object": "response"}',
        },
        C(Kind.RESPONSES, Convention.OPENINFERENCE_MESSAGES),
    ),
    ("Assistant", {"openinference.span.kind": "AGENT", "llm.system": "openai"}, None),
    ("ChatCompletion", {"openinference.span.kind": "LLM"}, C(Kind.CHAT, OPENINFERENCE)),
    ("messages.create", {"openinference.span.kind": "LLM"}, C(Kind.ANTHROPIC, OPENINFERENCE)),
    ("ChatCompletion", {"openinference.span.kind": "CHAIN"}, None),
    ("invoke_agent Tutor", {"openai.assistants.run.id": "run_1"}, C(Kind.ASSISTANT, ASSISTANTS)),
    ("invoke_agent Tutor", {}, None),
    ("GET /users", {"gen_ai.operation.name": "chat"}, None),
]


@pytest.mark.parametrize(("name", "attributes", "expected"), CASES)
def test_classify(name: str, attributes: dict[str, Any], expected: Classification | None) -> None:
    assert classify(name, attributes) == expected


def test_a_classification_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        C(Kind.CHAT, GENAI).kind = Kind.COMPLETION  # type: ignore[misc]


def test_selection_returns_the_classification_of_the_kinds_asked_for() -> None:
    chat_only = Selection({"chat"})
    assert chat_only.classify("openai.chat", {}) == C(Kind.CHAT, TRACELOOP)
    assert chat_only.classify("anthropic.chat", {}) is None
    assert chat_only("openai.chat", {}) is True
    assert chat_only("anthropic.chat", {}) is False
    assert Selection().classify("GET /users", {}) is None


@over_spans
def test_a_span_outside_the_candidates_is_never_classified(
    name: str, attributes: dict[str, Any]
) -> None:
    """The exporter reads no attribute value of a span ``may_select`` turns down."""
    if classify(name, attributes) is not None:
        assert (
            name in CANDIDATE_NAMES
            or name.startswith(CANDIDATE_PREFIXES)
            or not MARKERS.isdisjoint(attributes)
        )
        assert Selection.may_select(name, attributes)


@over_spans
def test_identity_is_stamped_on_the_spans_it_was_stamped_on(
    name: str, attributes: dict[str, Any]
) -> None:
    """The processor's rule before the conventions owned it, written out as it was."""
    found = classify(name, attributes)
    before = (
        name in ("openai.assistant.run", "openai.assistant.run_stream")
        or (name.startswith("invoke_agent") and "openai.assistants.run.id" not in attributes)
        or (found is not None and found.kind is not Kind.ASSISTANT)
    )
    assert wants_identity(name, attributes) is before


def _count_classifications(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names ``core.mapping`` classifies (selection, or ``map_span`` on a record that
    carries none); the LLM mapping must never classify at all."""
    calls: list[str] = []

    def counted(name: str, attributes: Mapping[str, Any], scope: str = "") -> Classification | None:
        calls.append(name)
        return classify(name, attributes, scope)

    def refused(name: str, attributes: Mapping[str, Any], scope: str = "") -> Classification | None:
        raise AssertionError(f"{name} classified again")

    monkeypatch.setattr(mapping, "classify", counted)
    monkeypatch.setattr(select, "classify", refused)
    return calls


def _kv(key: str, value: str) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(string_value=value))


def test_the_bridge_classifies_each_span_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _count_classifications(monkeypatch)
    request = ExportTraceServiceRequest()
    spans = request.resource_spans.add().scope_spans.add().spans
    spans.add(name="GET /users", trace_id=b"\x01" * 16, span_id=b"\x01" * 8)
    call = spans.add(name="openai.chat", trace_id=b"\x02" * 16, span_id=b"\x02" * 8)
    call.attributes.extend(
        [_kv("gen_ai.response.id", "chatcmpl-1"), _kv("gen_ai.request.model", "m")]
    )
    records = list(selected_spans(request))
    assert [r.classification for r in records] == [C(Kind.CHAT, TRACELOOP)]
    assert isinstance(map_span(records[0]), Interaction)
    assert calls == ["openai.chat"]  # the other answered by its name alone


def test_the_mapping_follows_the_carried_classification(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _count_classifications(monkeypatch)
    attributes = {"gen_ai.response.id": "msg_1", "gen_ai.request.model": "claude"}
    record = SpanRecord(
        "anthropic.chat", attributes, 0, 1, classification=C(Kind.ANTHROPIC, TRACELOOP)
    )
    mapped = map_span(record)
    assert isinstance(mapped, Interaction)
    assert mapped.to_json()["reconify"]["format"] == "anthropic"
    assert calls == []


def test_the_handler_hands_the_pipeline_the_call_it_saw(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The handler builds the call from the SDK's request and answer: nothing is written to
    span attributes to be parsed back, and nothing is classified (the kind is known)."""
    calls = _count_classifications(monkeypatch)
    handler = reconify_openai_handler(
        app_key=APP_KEY, api_key=API_KEY, endpoint="http://127.0.0.1:9/track"
    )
    prepared: list[tuple[SpanRecord, Any]] = []
    monkeypatch.setattr(handler._preparer, "prepare", lambda *given: prepared.append(given))
    with reconify_otel.user({"userId": "u-1"}):
        handler.log_chat(
            {"model": "m", "messages": [{"role": "user", "content": "hi"}]},
            {"id": "chatcmpl-1", "object": "chat.completion", "model": "m", "choices": []},
            1_000,
            2_000,
            format="openai",
        )
    handler.close(1.0)
    ((record, call),) = prepared
    assert calls == []
    assert dict(record.attributes) == {"user.id": "u-1"}
    assert (record.start_ns, record.end_ns) == (1_000_000_000, 2_000_000_000)
    assert call.kind is Kind.CHAT and call.response_id == "chatcmpl-1"
    assert call.request == {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


# --- framework spans: by attributes, with the scope where a provider's names must say ---


def test_a_provider_instrumentations_other_api_calls_are_not_calls() -> None:
    """OpenInference's openai instrumentation records every API call (an Assistants run,
    a thread) as an LLM span: from its scope only the call names are calls; the same span
    from a framework's scope is one."""
    attributes = {"openinference.span.kind": "LLM", "llm.provider": "openai"}
    assert classify("Run", attributes, "openinference.instrumentation.openai") is None
    assert classify("Thread", attributes, "openinference.instrumentation.anthropic") is None
    assert classify("ChatCompletion", attributes, "openinference.instrumentation.openai") == C(
        Kind.CHAT, OPENINFERENCE
    )
    framework = C(Kind.CHAT, Convention.OPENINFERENCE_MESSAGES)
    assert (
        classify("ChatOpenAI", attributes, "openinference.instrumentation.langchain") == framework
    )


@pytest.mark.parametrize(
    ("name", "attributes", "expected"),
    [
        # A kvlist from the bridge where text belongs: never looked up, never raising.
        ("x", {"gen_ai.operation.name": {"k": "v"}, "gen_ai.provider.name": "openai"}, None),
        ("x", {"gen_ai.operation.name": "chat", "gen_ai.provider.name": {"k": "v"}}, None),
        (
            "x",
            {"openinference.span.kind": "LLM", "llm.provider": {"k": "v"}},
            C(Kind.CHAT, Convention.OPENINFERENCE_MESSAGES, unsupported_provider="unknown"),
        ),
        # A framework's span whose name starts like the official ``chat {model}``.
        (
            "chat_step",
            {"openinference.span.kind": "LLM", "llm.provider": "openai"},
            C(Kind.CHAT, Convention.OPENINFERENCE_MESSAGES),
        ),
        # An answer's text (LiteLLM's output.value) holding the words is no Responses object.
        (
            "completion",
            {
                "openinference.span.kind": "LLM",
                "llm.provider": "openai",
                "output.value": 'Use {"object": "response"} here',
            },
            C(Kind.CHAT, Convention.OPENINFERENCE_MESSAGES),
        ),
    ],
)
def test_hostile_or_odd_framework_spans(
    name: str, attributes: dict[str, Any], expected: Classification | None
) -> None:
    assert classify(name, attributes) == expected


def test_a_provider_without_a_reconify_format_is_skipped_and_counted() -> None:
    """Every named provider has a format (``universal`` at least); a call that names none
    cannot be put in one."""
    record = SpanRecord(
        "completion",
        {"openinference.span.kind": "LLM", "output.value": "Hello"},
        0,
        1,
    )
    found = Selection().classify(record.name, record.attributes)
    unnamed = C(Kind.CHAT, Convention.OPENINFERENCE_MESSAGES, unsupported_provider="unknown")
    assert found == unnamed
    skipped = map_span(dataclasses.replace(record, classification=found))
    assert skipped == Skipped(Skip.UNSUPPORTED_PROVIDER, "unknown")
    assert Event.skipped(Skip.UNSUPPORTED_PROVIDER).value == "skipped_unsupported_provider"


@pytest.mark.parametrize(
    ("scope", "wanted"),
    [
        ("opentelemetry.instrumentation.langchain", True),
        ("openinference.instrumentation.openai_agents", True),
        ("logfire.openai", True),
        ("litellm", True),
        ("opentelemetry.instrumentation.requests", False),
        ("", False),
    ],
)
def test_identity_goes_on_every_span_of_an_llm_instrumentation(scope: str, wanted: bool) -> None:
    """Frameworks write their attributes after the span started: at its start only the
    scope tells that it concerns model calls."""
    assert wants_identity("ChatOpenAI.chat", {}, scope) is wanted


S = 5_000_000_000  # the log span's start and end, ns


@pytest.mark.parametrize(
    ("start", "attributes", "expected"),
    [
        (S, {"logfire.span_type": "log", "duration": 1.5}, S - 1_500_000_000),
        (S, {"logfire.span_type": "span", "duration": 1.5}, S),  # not a log span
        (S - 1, {"logfire.span_type": "log", "duration": 1.5}, S - 1),  # a duration of its own
        (S, {"logfire.span_type": "log", "duration": "1.5"}, S),
        (S, {"logfire.span_type": "log", "duration": -1}, S),
        (S, {"logfire.span_type": "log", "duration": math.nan}, S),
        (S, {"logfire.span_type": "log", "duration": True}, S),
        (S, {"logfire.span_type": "log", "duration": 6.0}, S),  # before 0: not a duration
    ],
)
def test_a_logfire_streamed_answer_is_timed_from_the_calls_start(
    start: int, attributes: dict[str, Any], expected: int
) -> None:
    assert call_start_ns(start, S, attributes, "logfire.openai") == expected
    assert call_start_ns(start, S, attributes, "another.tool") == start  # Logfire's only
