"""``map_span`` on LLM-call span names with attribute soups: every value type a span can
carry on any route (the SDK's, and OTLP's kvlists, arrays and bytes through the bridge)
in the keys the three conventions' readers probe. Never raises, every payload encodes, and
a span is skipped for exactly the documented reasons."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconify_otel.core import privacy
from reconify_otel.core.encoding import encode
from reconify_otel.core.interaction import Interaction
from reconify_otel.core.llm import llm_flavor
from reconify_otel.core.mapping import Selection, map_span
from reconify_otel.core.payload import Skip, Skipped
from reconify_otel.core.record import SpanRecord

from .fuzz_strategies import FUZZ, JSON_TEXT, PAYLOAD_KEYS, VALUE

# Every span name an LLM convention uses, with the attributes that make it selected.
LLM_SPANS: dict[str, dict[str, Any]] = {
    "openai.chat": {},
    "openai.completion": {},
    "openai.response": {},
    "anthropic.chat": {},
    "chat gpt-4o": {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai"},
    "chat claude": {"gen_ai.operation.name": "chat", "gen_ai.system": "anthropic"},
    "ChatCompletion": {"openinference.span.kind": "LLM"},
    "Completion": {"openinference.span.kind": "LLM"},
    "Response": {"openinference.span.kind": "LLM"},
    "messages.create": {"openinference.span.kind": "LLM"},
}
# Written out, not read from the code: Reconify's (format, type) of each kind.
KINDS = {
    "chat": ("openai", "chat"),
    "completion": ("openai", "completion"),
    "responses": ("openai", "chat"),
    "anthropic": ("anthropic", "chat"),
    "mistral": ("mistral", "chat"),
    "cohere": ("cohere", "chat"),
    "gemini": ("gemini", "generate"),
    "universal": ("universal", "chat"),  # a provider of any other name
}
# The keys the readers probe (core/llm), and their flattened-list spellings.
READ_KEYS = (
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
    "gen_ai.tool.definitions",
    "gen_ai.response.id",
    "gen_ai.response.model",
    "gen_ai.response.finish_reasons",
    "gen_ai.request.model",
    "gen_ai.conversation.id",
    "gen_ai.is_streaming",
    "gen_ai.user",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.prompt_tokens",
    "gen_ai.usage.completion_tokens",
    "gen_ai.usage.total_tokens",
    "gen_ai.usage.cache_read_input_tokens",
    "gen_ai.usage.cache_creation_input_tokens",
    "gen_ai.provider.name",
    "gen_ai.system",
    "gen_ai.operation.name",
    "input.value",
    "output.value",
    "llm.invocation_parameters",
    "llm.model_name",
    "llm.finish_reason",
    "llm.token_count.prompt",
    "llm.token_count.completion",
    "llm.token_count.total",
    "llm.request.functions",
    "llm.is_streaming",
    "llm.user",
)
FLAT_KEYS = tuple(
    f"{prefix}.{index}.{rest}"
    for prefix in ("gen_ai.prompt", "gen_ai.completion", "llm.prompts", "llm.completions")
    for index in ("0", "1", "00")  # "00": a duplicate index, as a careless writer spells it
    for rest in (
        "role",
        "content",
        "finish_reason",
        "tool_calls.0.id",
        "tool_calls.0.name",
        "tool_calls.0.arguments",
        "tool_call_id",
    )
)
# OTLP values the SDK would never produce: a kvlist (a dict), nested arrays, bytes.
BRIDGE_VALUE = st.one_of(
    st.dictionaries(st.sampled_from(["id", "text", "a"]), VALUE, max_size=2),
    st.tuples(VALUE, VALUE),
    st.binary(max_size=12),
)
SOUP = st.dictionaries(
    st.sampled_from(READ_KEYS + FLAT_KEYS),
    st.one_of(VALUE, JSON_TEXT, BRIDGE_VALUE, st.integers(-(2**70), 2**70)),
    max_size=14,
)


@FUZZ
@given(
    name=st.sampled_from(sorted(LLM_SPANS)),
    soup=SOUP,
    is_error=st.booleans(),
    capture_content=st.booleans(),
)
def test_map_span_on_llm_spans_never_raises_and_payloads_encode(
    name: str, soup: dict[str, Any], is_error: bool, capture_content: bool
) -> None:
    attributes = {**soup, **LLM_SPANS[name]}
    flavor = llm_flavor(name, attributes)
    assert Selection()(name, attributes) is (flavor is not None)
    assert flavor is not None or name.startswith("chat ")  # the provider chose: not ours
    if flavor is None:
        return
    record = SpanRecord(name, attributes, 1_000_000, 3_000_000, is_error, 7, 9)
    result = map_span(record)
    if isinstance(result, Skipped):
        assert result.reason is (Skip.ERROR_CALL if is_error else Skip.NO_ANSWER)
        return
    assert not is_error
    assert isinstance(result, Interaction) and result.call_key is not None
    payload = (result if capture_content else privacy.without_content(result)).to_json()
    assert set(payload) == PAYLOAD_KEYS
    kind = payload["reconify"]
    assert (kind["format"], kind["type"]) == KINDS[flavor]
    assert payload["timestamps"] == {"request": 1, "response": 3}
    assert isinstance(payload["request"], dict) and isinstance(payload["response"], dict)
    sent = json.loads(encode(payload, "app", "api"))
    assert (sent["reconify"]["appKey"], sent["reconify"]["apiKey"]) == ("app", "api")


def test_tool_call_arguments_as_otlp_bytes_are_the_json_text() -> None:
    """The bridge hands bytes over as they came; they used to cost the whole call."""
    attributes = {
        "gen_ai.response.id": "chatcmpl-bytes",
        "gen_ai.completion.0.role": "assistant",
        "gen_ai.completion.0.tool_calls.0.id": "call_1",
        "gen_ai.completion.0.tool_calls.0.name": "add",
        "gen_ai.completion.0.tool_calls.0.arguments": b'{"a":1,"b":2}',
    }
    result = map_span(SpanRecord("openai.chat", attributes, 0, 0))
    assert isinstance(result, Interaction)
    (call,) = result.to_json()["response"]["choices"][0]["message"]["tool_calls"]
    assert call["function"] == {"name": "add", "arguments": '{"a":1,"b":2}'}


def test_a_kvlist_provider_is_no_provider_of_ours() -> None:
    for key in ("gen_ai.provider.name", "gen_ai.system"):
        attributes = {"gen_ai.operation.name": "chat", key: {"name": "openai"}}
        assert llm_flavor("chat gpt-4o", attributes) is None


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("openai.chat", "gen_ai.usage.prompt_tokens"),
        ("chat gpt-4o", "gen_ai.usage.input_tokens"),
        ("ChatCompletion", "llm.token_count.prompt"),
    ],
)
def test_a_negative_token_count_is_a_bad_attribute_not_usage(name: str, key: str) -> None:
    attributes = {
        **LLM_SPANS[name],
        "gen_ai.response.id": "chatcmpl-negative",
        "gen_ai.completion.0.content": "hi",
        "gen_ai.usage.completion_tokens": 2,
        "gen_ai.usage.output_tokens": 2,
        "llm.token_count.completion": 2,
        key: -5,
    }
    result = map_span(SpanRecord(name, attributes, 0, 0))
    assert isinstance(result, Interaction)
    usage = result.to_json()["response"]["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (None, 2)
    assert usage["total_tokens"] is None
    assert result.bad_attributes == (key,)
