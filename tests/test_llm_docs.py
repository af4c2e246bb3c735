"""What README.md and docs/attributes.md say of plain LLM calls, checked against the code."""

from __future__ import annotations

import re

from reconify_otel.core.dedup import DEFAULT_WINDOW
from reconify_otel.core.llm.select import OPENINFERENCE, TRACELOOP
from reconify_otel.core.payload import INTERACTION_KINDS
from reconify_otel.handler.client_calls import METHODS
from reconify_otel.runtime.counters import STATS_NAMES

from .doc_commands import README, ROOT

ATTRIBUTES_MD = ROOT / "docs" / "attributes.md"


def section(text: str, title: str) -> str:
    return text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_the_calls_table_names_the_spans_the_mapping_selects() -> None:
    table = section(README.read_text(), "Which spans become interactions")
    rows = [
        line
        for line in table.splitlines()
        if line.startswith(("| OpenAI `", "| Mistral `", "| Cohere `", "| Vertex AI `"))
        or "Anthropic `messages" in line
    ]
    named = {name for row in rows for name in re.findall(r"`([A-Za-z_.]+)`", row.split("|")[2])}
    assert named - {"none"} >= set(TRACELOOP) | {"ChatCompletion", "Completion", "Response"}
    # OpenInference's Mistral, Cohere and Vertex AI spans are selected by their kind and
    # provider, not by name.
    by_attributes = {
        "MistralClient.chat",
        "ClientV2.chat",
        "ClientV2.chat_stream",
        "generate_content",
    }
    assert named <= set(TRACELOOP) | set(OPENINFERENCE) | {"openai.assistant.run"} | by_attributes
    kinds = re.search(r"comma-separated list of (.*?);", " ".join(table.split()))
    assert kinds is not None
    assert set(re.findall(r"`(\w+)`", kinds.group(1))) == INTERACTION_KINDS


def test_the_numbers_and_counters_the_llm_docs_name() -> None:
    readme = " ".join(README.read_text().split())
    assert f"the last {DEFAULT_WINDOW:,} calls are remembered" in readme
    docs = README.read_text() + ATTRIBUTES_MD.read_text()
    for counter in (
        "skipped_duplicate",
        "skipped_error_call",
        "skipped_no_answer",
        "skipped_bad_input",
        "internal_errors",
        "bad_attributes",
    ):
        assert f"`{counter}`" in docs and counter in STATS_NAMES


def test_the_handler_docs_name_the_methods_it_wraps() -> None:
    handler = section(README.read_text(), "Reconify's handler API, without OpenTelemetry")
    for resource, method, _ in METHODS:
        assert f"`{resource}.{method}`" in handler or f"`{method}`" in handler
