"""Hypothesis strategies for fuzzing the mapping: hostile span attributes as the SDK,
an application or a Collector may hand them over (test_fuzz_mapping.py uses them), and
span names and attributes for the classifier's properties."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList

from reconify_otel.core import attributes as A
from reconify_otel.core.conventions import CANDIDATE_NAMES
from reconify_otel.core.payload import Defaults

from .ci import in_ci
from .helpers import CURRENT, OUTPUT_OK, OWN

# CI tries three times the examples of a contributor's default run (CONTRIBUTING.md).
FUZZ = settings(
    max_examples=300 if in_ci() else 100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

NAMES = ("openai.assistant.run", "openai.assistant.run_stream", "invoke_agent X")
PAYLOAD_KEYS = {
    "reconify",
    "timestamps",
    "session",
    "sessionTimeout",
    "user",
    "request",
    "response",
}
MIB = 1024 * 1024
HUGE = "x" * MIB
LEGACY = {
    "gen_ai.prompt.0.role": "user",
    "gen_ai.prompt.0.content": "question",
    "gen_ai.completion.0.role": "assistant",
    "gen_ai.completion.0.content": "answer",
    "gen_ai.usage.prompt_tokens": 3,
    "gen_ai.usage.completion_tokens": 4,
}
OLDEST = {
    "llm.prompts.0.role": "user",
    "llm.prompts.0.content": "question",
    "llm.completions.0.role": "assistant",
    "llm.completions.0.content": "answer",
    "llm.request.model": "gpt-4",
}
BASES: tuple[dict[str, Any], ...] = ({}, CURRENT, OWN, LEGACY, OLDEST)


# --- strategies ------------------------------------------------------------------------


def pick(values: tuple[Any, ...]) -> st.SearchStrategy[Any]:
    """``sampled_from`` whose repr does not print megabyte-sized values at every use."""
    return st.integers(0, len(values) - 1).map(values.__getitem__)


SPECIAL_TEXT = (
    "",
    " ",
    "\ud800",
    "a\udfffb",
    "NaN",
    "Infinity",
    "-1",
    " 12 ",
    "1e999",
    "²",
    "٣",
    "9" * 5000,
    "\x00",
    "\u202e",
    HUGE,
)
TEXT = st.one_of(
    st.text(max_size=12),
    st.text(st.characters(exclude_categories=()), max_size=8),  # lone surrogates included
    pick(SPECIAL_TEXT),
)
NUMBERS = st.one_of(
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 2**63 - 1, 2**63, -(2**63), 2**64, 10**400]),
    st.floats(),
    st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -0.0, 3.0]),
)
PRIMITIVE = st.one_of(st.none(), st.booleans(), NUMBERS, TEXT)
JSON_KEYS = st.one_of(
    st.sampled_from(
        [
            "role",
            "parts",
            "content",
            "type",
            "text",
            "value",
            "annotations",
            "id",
            "object",
            "run_id",
            "thread_id",
            "assistant_id",
            "created_at",
            "metadata",
            "attachments",
            "email",
            "firstName",
            "lastName",
            "phone",
            "gender",
        ]
    ),
    st.text(max_size=5),
)
JSON_TREE = st.recursive(
    PRIMITIVE,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(JSON_KEYS, inner, max_size=4),
    max_leaves=16,
)
ROLE = st.one_of(st.sampled_from(["user", "assistant", "system", "tool", ""]), JSON_TREE)
PART = st.one_of(
    st.fixed_dictionaries({"type": st.just("text"), "content": st.one_of(TEXT, JSON_TREE)}),
    JSON_TREE,
)
BLOCK = st.one_of(
    st.fixed_dictionaries(
        {"type": st.just("text"), "text": st.fixed_dictionaries({"value": TEXT})}
    ),
    JSON_TREE,
)
MESSAGE = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "role": ROLE,
            "parts": st.one_of(st.lists(PART, max_size=3), JSON_TREE),
            "content": st.one_of(TEXT, st.lists(BLOCK, max_size=3), JSON_TREE),
            "id": PRIMITIVE,
            "run_id": PRIMITIVE,
            "thread_id": PRIMITIVE,
            "assistant_id": PRIMITIVE,
            "metadata": JSON_TREE,
            "email": PRIMITIVE,
            "firstName": PRIMITIVE,
        },
    ),
    JSON_TREE,
)
JSON_DOC = st.one_of(st.lists(MESSAGE, max_size=4), MESSAGE, JSON_TREE)


def deep_json(depth: int, kind: str) -> str:
    """Nesting far beyond what hypothesis' recursion builds, inside a plausible message."""
    if kind == "lists":
        inner = "[" * depth + "]" * depth
    elif kind == "objects":
        inner = '{"a":' * depth + "1" + "}" * depth
    else:
        inner = "[" * depth  # unterminated
    return '[{"role": "assistant", "content": [], "parts": [], "metadata": ' + inner + "}]"


def dumps_all(doc: Any) -> list[str]:
    # NaN/Infinity as JavaScript spells them; lone surrogates as \ud800 escapes, then raw.
    return [json.dumps(doc), json.dumps(doc, ensure_ascii=False)]


JSON_TEXT = st.one_of(
    JSON_DOC.flatmap(lambda doc: st.sampled_from(dumps_all(doc))),
    st.builds(lambda doc, cut: json.dumps(doc)[:cut], JSON_DOC, st.integers(0, 40)),  # truncated
    st.builds(deep_json, st.integers(1, 1200), st.sampled_from(["lists", "objects", "open"])),
    pick(
        (
            "[" * 100_000,
            '{"a":' * 100_000,
            "[]",
            "{}",
            "null",
            "[[[]]]",
            '{"parts": []}',
            json.dumps([{"role": "assistant", "content": HUGE}]),
            json.dumps({"email": HUGE}),
        )
    ),
)
JSON_BYTES = st.one_of(
    JSON_TEXT.map(lambda text: text.encode("utf-8", "surrogatepass")),
    JSON_DOC.map(lambda doc: json.dumps(doc).encode("utf-16")),
    st.binary(max_size=24),
    st.sampled_from([b"\xff\xfe", b'"\xc3\x28"', b"[\x00]", b"\xef\xbb\xbf[]"]),
)
SEQUENCE = st.one_of(
    st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), max_size=4).map(tuple),
    st.lists(st.floats(), max_size=4).map(tuple),
    st.lists(st.booleans(), max_size=4),
    st.lists(st.text(max_size=8), max_size=4).map(tuple),
    st.lists(JSON_TEXT, max_size=2),
    st.lists(PRIMITIVE, max_size=4).map(tuple),  # mixed: the SDK drops these
)
VALUE = st.one_of(PRIMITIVE, JSON_TEXT, JSON_BYTES, SEQUENCE, st.binary(max_size=8))

FIXED_KEYS = (
    A.INPUT_MESSAGES,
    A.OUTPUT_MESSAGES,
    A.REQUEST_MESSAGE,
    A.RESPONSE_MESSAGES,
    A.RUN_ID,
    A.RUN_STATUS,
    A.CONVERSATION_ID,
    A.AGENT_ID,
    A.REQUEST_MODEL,
    A.RESPONSE_MODEL,
    A.RESPONSE_ID,
    "llm.request.model",
    "llm.response.model",
    A.USAGE_INPUT_TOKENS,
    A.USAGE_OUTPUT_TOKENS,
    A.USAGE_PROMPT_TOKENS,
    A.USAGE_COMPLETION_TOKENS,
    A.USAGE_TOTAL_TOKENS,
    "llm.usage.total_tokens",
    A.SESSION_ID,
    A.TRACELOOP_SESSION_ID,
    A.SESSION_TIMEOUT,
    A.USER_ID,
    A.ENDUSER_ID,
    A.TRACELOOP_USER_ID,
    A.USER_EMAIL,
    A.USER_PERSONAL,
    A.USER_REF,
    A.USER_AUTHENTICATED,
    A.SUPERSEDED,
    A.ERROR_TYPE,
)
INDEX = st.one_of(
    st.integers(0, 3).map(str),
    st.integers(0, 3).map(str),
    st.sampled_from(["-1", "01", "", "x", " 1", "1.5", "²", "٣", "1" * 5000, "99999999999"]),
)
INDEXED_KEY = st.one_of(
    st.builds(
        "{}.{}.{}".format,
        st.sampled_from(["gen_ai.prompt", "gen_ai.completion", "llm.prompts", "llm.completions"]),
        INDEX,
        st.sampled_from(["role", "content", "content.x", "x", ""]),
    ),
    st.builds("gen_ai.response.{}.id".format, INDEX),
)
KEY = st.one_of(st.sampled_from(FIXED_KEYS), INDEXED_KEY, st.text(max_size=6))
ATTRIBUTES = st.builds(
    lambda base, extra: {**base, **extra},
    st.sampled_from(BASES),
    st.dictionaries(KEY, VALUE, max_size=10),
)
TIMESTAMP = st.one_of(
    st.integers(),
    st.sampled_from([0, -1, -(2**63), 2**63 - 1, 2**64 - 1, 2**64, 10**30, -(10**30)]),
)


def _personal(ref: str) -> dict[str, Any] | None:
    return {"email": ref, "firstName": "Ann"} if ref.startswith("a") else None


DEFAULTS = st.sampled_from(
    [
        Defaults(),
        Defaults(session_timeout=30),
        Defaults(resolve_personal=_personal),
    ]
)


# --- OTLP AnyValue trees ------------------------------------------------------------------


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


PB_TEXT = st.one_of(TEXT.filter(_utf8), JSON_TEXT.filter(_utf8))
ANY_LEAF = st.one_of(
    PB_TEXT.map(lambda s: AnyValue(string_value=s)),
    st.booleans().map(lambda b: AnyValue(bool_value=b)),
    st.integers(min_value=-(2**63), max_value=2**63 - 1).map(lambda i: AnyValue(int_value=i)),
    st.floats().map(lambda f: AnyValue(double_value=f)),
    JSON_BYTES.map(lambda b: AnyValue(bytes_value=b)),
    st.just(AnyValue()),
)


def _array(values: list[AnyValue]) -> AnyValue:
    return AnyValue(array_value=ArrayValue(values=values))


def _kvlist(pairs: list[tuple[str, AnyValue]]) -> AnyValue:
    return AnyValue(kvlist_value=KeyValueList(values=[KeyValue(key=k, value=v) for k, v in pairs]))


ANY_VALUE = st.recursive(
    ANY_LEAF,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(_array),
        st.lists(st.tuples(st.text(max_size=6), inner), max_size=4).map(_kvlist),
    ),
    max_leaves=12,
)


def deep_any_value(depth: int, kind: str) -> AnyValue:
    value = AnyValue(string_value=OUTPUT_OK)
    for _ in range(depth):
        value = _array([value]) if kind == "array" else _kvlist([("k", value)])
    return value


PB_KEY = st.one_of(st.sampled_from(FIXED_KEYS), INDEXED_KEY, st.text(max_size=6))
PB_BASE = st.sampled_from(BASES).map(
    lambda base: [(k, v) for k, v in base.items()]  # as the SDK encodes them below
)
PB_ATTRIBUTES = st.lists(
    st.tuples(
        PB_KEY,
        st.one_of(
            ANY_VALUE,
            # Deepest that upb accepts: 100 messages, 2 per array level, 3 per kvlist level.
            st.builds(deep_any_value, st.integers(1, 40), st.just("array")),
            st.builds(deep_any_value, st.integers(1, 28), st.just("kvlist")),
        ),
    ),
    max_size=10,
)


def plain(value: Any) -> AnyValue:
    """A base attribute (str or int) as OTLP writes it."""
    if isinstance(value, str):
        return AnyValue(string_value=value)
    return AnyValue(int_value=value)


# --- the classifier ----------------------------------------------------------------------

# traceloop's span names, each selected by its name alone.
TRACELOOP_NAMES = frozenset(
    {
        "openai.chat",
        "openai.completion",
        "openai.response",
        "anthropic.chat",
        "mistralai.chat",
        "cohere.chat",
        "vertexai.generate_content",
        "vertexai.generate_content_async",
        "vertexai.send_message",
        "openai.assistant.run",
        "openai.assistant.run_stream",
    }
)
CLASSIFY_NAMES = sorted(
    {*CANDIDATE_NAMES, "chat", "chat gpt-4o", "chatbot", "invoke_agent X", "GET /", ""}
)
CLASSIFY_ATTRIBUTES = st.fixed_dictionaries(
    {},
    optional={
        "gen_ai.operation.name": st.sampled_from(["chat", "embeddings"]),
        "gen_ai.provider.name": st.sampled_from(["openai", "anthropic", "cohere"]),
        "gen_ai.response.id": st.sampled_from(["resp_1", "chatcmpl-1"]),
        "openinference.span.kind": st.sampled_from(["LLM", "CHAIN"]),
        "openai.assistants.run.id": st.just("run_1"),
        "reconify.superseded": st.booleans(),
    },
)


# Span names and attributes near and far from every rule, for the classification
# properties (test_conventions.py, test_collector_filter.py).
over_spans = settings(max_examples=300, deadline=None)(
    given(
        name=st.one_of(st.sampled_from(CLASSIFY_NAMES), st.text(max_size=20)),
        attributes=CLASSIFY_ATTRIBUTES,
    )
)
