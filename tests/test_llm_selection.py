"""Which spans the LLM-call mapping selects, and how it treats attributes no instrumentation
should write (unusable values are named and mapped around; nothing raises)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconify_otel.core.assistant import is_assistant_run
from reconify_otel.core.conventions import classify
from reconify_otel.core.llm import LlmCall, is_llm_call, llm_flavor, map_llm_call
from reconify_otel.core.llm.select import OPENINFERENCE, TRACELOOP
from reconify_otel.core.mapping import Selection

# --- selection ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "attributes"),
    [
        ("openai.chat", {}),
        ("openai.completion", {}),
        ("openai.response", {}),
        ("anthropic.chat", {}),
        ("chat gpt-4o", {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai"}),
        ("chat gpt-4o", {"gen_ai.operation.name": "chat", "gen_ai.system": "openai"}),
        ("chat", {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "azure.ai.openai"}),
        ("chat claude", {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "anthropic"}),
        ("ChatCompletion", {"openinference.span.kind": "LLM"}),
        ("Completion", {"openinference.span.kind": "LLM"}),
        ("Response", {"openinference.span.kind": "LLM"}),
        ("messages.create", {"openinference.span.kind": "LLM"}),
        # Framework spans, whatever their names: the attributes say they are model calls.
        ("ChatOpenAI.chat", {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai"}),
        ("litellm_request", {"gen_ai.operation.name": "chat", "gen_ai.system": "openai"}),
        ("POST /ask", {"gen_ai.operation.name": "chat", "gen_ai.system": "openai"}),
        (
            "Chat Completion with 'gpt-4o'",
            {"gen_ai.operation.name": "chat", "gen_ai.system": "openai"},
        ),
        ("old.completion", {"gen_ai.operation.name": "text_completion", "gen_ai.system": "openai"}),
        ("ChatOpenAI", {"openinference.span.kind": "LLM", "llm.provider": "openai"}),
        ("response", {"openinference.span.kind": "LLM", "llm.system": "openai"}),
        ("ChatAnthropic", {"openinference.span.kind": "LLM", "llm.provider": "anthropic"}),
    ],
)
def test_llm_spans_are_selected(name: str, attributes: dict[str, Any]) -> None:
    assert is_llm_call(name, attributes)


@pytest.mark.parametrize(
    ("name", "attributes"),
    [
        ("GET /v1/models", {"http.request.method": "GET"}),
        ("POST", {"http.request.method": "POST", "url.full": "https://api.openai.com/v1/chat"}),
        ("invoke_agent Math Tutor", {"openai.assistants.run.id": "run_1"}),
        ("openai.assistant.run", {}),
        ("openai.assistant.run_stream", {}),
        ("openai.embeddings", {}),
        ("CreateEmbeddings", {"openinference.span.kind": "EMBEDDING"}),
        ("ChatCompletion", {}),  # same name, not an OpenInference LLM span
        ("Response", {"openinference.span.kind": "CHAIN"}),
        # No provider named: selected to be counted, not a call.
        ("chat titan", {"gen_ai.operation.name": "chat", "gen_ai.provider.name": ""}),
        ("completion", {"openinference.span.kind": "LLM"}),  # no provider named
        ("chat gpt-4o", {"gen_ai.provider.name": "openai"}),  # no operation name
        ("chat gpt-4o", {"gen_ai.operation.name": "chat"}),  # no provider
        # Agents, workflows, tasks and tools are never calls.
        (
            "Agent workflow",
            {"gen_ai.operation.name": "invoke_agent", "gen_ai.provider.name": "openai"},
        ),
        ("RunnableSequence", {"openinference.span.kind": "CHAIN", "llm.provider": "openai"}),
        ("Assistant", {"openinference.span.kind": "AGENT", "llm.system": "openai"}),
        (
            "get_weather.tool",
            {"gen_ai.operation.name": "execute_tool", "gen_ai.provider.name": "openai"},
        ),
        ("embeddings text-embedding-3-small", {"gen_ai.operation.name": "embeddings"}),
        ("", {}),
    ],
)
def test_other_spans_are_not(name: str, attributes: dict[str, Any]) -> None:
    assert not is_llm_call(name, attributes)
    assert isinstance(map_llm_call(name, attributes), str)


# --- robustness -------------------------------------------------------------------------------


def test_span_without_any_answer_gives_a_reason() -> None:
    assert isinstance(map_llm_call("openai.chat", {"gen_ai.request.model": "gpt-4o"}), str)
    assert isinstance(map_llm_call("ChatCompletion", {"openinference.span.kind": "LLM"}), str)


def test_unusable_attributes_are_named_and_mapped_around() -> None:
    attrs = {
        "gen_ai.response.id": "chatcmpl-1",
        "gen_ai.input.messages": "[not json",
        "gen_ai.output.messages": '{"a": 1}',
        "gen_ai.usage.input_tokens": "many",
        "gen_ai.usage.output_tokens": 3,
    }
    call = map_llm_call("openai.chat", attrs)
    assert isinstance(call, LlmCall)
    assert call.bad_attributes == (
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.usage.input_tokens",
    )
    assert call.response["usage"] == {
        "prompt_tokens": None,
        "completion_tokens": 3,
        "total_tokens": None,
    }
    oi = map_llm_call(
        "ChatCompletion",
        {"openinference.span.kind": "LLM", "output.value": "{", "llm.model_name": "gpt-4o"},
    )
    assert isinstance(oi, LlmCall) and oi.bad_attributes == ("output.value",)


def test_arbitrary_attribute_values_never_raise() -> None:
    hypothesis = pytest.importorskip("hypothesis")
    st = hypothesis.strategies
    json_text = st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
        ),
        max_leaves=12,
    ).map(json.dumps)
    keys = st.sampled_from(
        [
            "gen_ai.input.messages",
            "gen_ai.output.messages",
            "gen_ai.response.id",
            "gen_ai.response.finish_reasons",
            "gen_ai.usage.input_tokens",
            "gen_ai.tool.definitions",
            "gen_ai.system_instructions",
            "gen_ai.prompt.0.content",
            "gen_ai.prompt.0.role",
            "gen_ai.completion.0.tool_calls.0.arguments",
            "llm.request.functions.0.parameters",
            "input.value",
            "output.value",
            "llm.invocation_parameters",
            "llm.token_count.prompt",
        ]
    )
    values = (
        json_text
        | st.integers()
        | st.floats()
        | st.text(max_size=5)
        | st.lists(st.text(max_size=3))
    )
    names = st.sampled_from(
        [
            "openai.chat",
            "openai.completion",
            "openai.response",
            "anthropic.chat",
            "Response",
            "ChatCompletion",
            "messages.create",
            "Completion",
        ]
    )

    @hypothesis.given(names, st.dictionaries(keys, values, max_size=8))
    @hypothesis.settings(max_examples=400, deadline=None)
    def check(name: str, attrs: dict[str, Any]) -> None:
        attrs = dict(attrs, **{"openinference.span.kind": "LLM"})
        result = map_llm_call(name, attrs)
        assert isinstance(result, (LlmCall, str))
        if isinstance(result, LlmCall):
            json.dumps(result.request)
            json.dumps(result.response)

    check()


_NAMES_SEEN = sorted(
    {
        *TRACELOOP,
        *OPENINFERENCE,
        "chat",
        "chat gpt-4o",
        "chatbot turn",
        "invoke_agent Math Tutor",
        "openai.assistant.run",
        "openai.assistant.run_stream",
        "GET /health",
        "embeddings text-embedding-3-small",
        "",
    }
)


@settings(max_examples=300, deadline=None)
@given(
    name=st.one_of(st.sampled_from(_NAMES_SEEN), st.text(max_size=30)),
    attributes=st.fixed_dictionaries(
        {},
        optional={
            "gen_ai.operation.name": st.sampled_from(["chat", "embeddings"]),
            "gen_ai.provider.name": st.sampled_from(["openai", "anthropic", "cohere"]),
            "openinference.span.kind": st.sampled_from(["LLM", "CHAIN"]),
            "openai.assistants.run.id": st.just("run_1"),
            "reconify.superseded": st.booleans(),
        },
    ),
)
def test_the_name_prefilter_never_changes_the_answer(name: str, attributes: dict[str, Any]) -> None:
    """``Selection`` answers unrelated names before calling the rules: the same answer."""
    found = classify(name, attributes)
    unsupported = found is not None and found.unsupported_provider is not None
    by_rules = is_assistant_run(name, attributes) or llm_flavor(name, attributes) is not None
    by_rules = by_rules or unsupported  # selected to be counted
    assert Selection()(name, attributes) is by_rules
    # the exporter skips these unread
    assert Selection.may_select(name, attributes) or not by_rules
