"""The Collector's ``filter/genai`` processor, written from the conventions' own names so
the Collector keeps exactly the spans ``classify`` may select, in OTTL.

``python -m reconify_otel.core.conventions.collector_filter`` prints the fragment;
``... --write otel-collector-config.yaml`` rewrites it in that file (between its BEGIN and
END lines). tests/test_collector_filter.py holds the file equal to what is generated.
The Collector keeps a little more than ``classify`` takes (any OpenInference LLM span,
any provider's ``chat`` span): the bridge answers those as not interactions.
"""

from __future__ import annotations

import re
import sys
import textwrap

from reconify_otel.core.conventions import assistants, genai, openinference, traceloop

BEGIN = (
    "  # BEGIN filter/genai, generated: python -m reconify_otel.core.conventions.collector_filter"
)
END = "  # END filter/genai"


def _string(text: str) -> str:
    """An OTTL string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _attribute(name: str) -> str:
    return f"attributes[{_string(name)}]"


def keep_conditions() -> list[str]:
    """One OTTL condition per convention; a span any of them holds for is kept."""
    names = "|".join(re.escape(name) for name in traceloop.SPAN_NAMES)
    operations = [
        f"{_attribute(genai.OPERATION_NAME)} == {_string(operation)}"
        for operation in sorted(genai.CALL_OPERATIONS)
    ]
    return [
        f"IsMatch(name, {_string(f'^({names})$')})",
        f"{_attribute(openinference.SPAN_KIND)} == {_string(openinference.LLM)}",
        *operations,
        f"(IsMatch(name, {_string('^' + re.escape(assistants.INVOKE_AGENT))})"
        f" and {_attribute(assistants.RUN_ID)} != nil)",
    ]


def fragment() -> str:
    """The processor's YAML (indented for ``processors:``), with its comment."""
    names = ", ".join(traceloop.SPAN_NAMES) + ";"
    listed = textwrap.wrap(
        f"traceloop/openllmetry names: {names}",
        80,
        initial_indent="  #   - ",
        subsequent_indent="  #     ",
    )
    comment = [
        BEGIN,
        "  # Reconify only wants LLM calls and assistant runs, not HTTP/DB/embeddings/etc. spans.",
        "  # The filter processor DROPS a span when a condition is true, so the condition is",
        '  # "not (one of the spans the bridge maps)":',
        *listed,
        f"  #   - OpenInference: every span of kind {openinference.LLM} (it sets no gen_ai.*"
        " attribute at all),",
        "  #     a provider instrumentation's or a framework's (LangChain, LiteLLM, Agents SDK);",
        "  #   - the GenAI semantic conventions, whatever the span's name (openai-v2, LangChain,",
        f"  #     LiteLLM, Logfire...): {genai.OPERATION_NAME} "
        + ", ".join(f'"{op}"' for op in sorted(genai.CALL_OPERATIONS))
        + ";",
        "  #   - reconify-otel's own AssistantsInstrumentor: "
        f"`{assistants.INVOKE_AGENT} ...` with a run id.",
        "  # Embeddings and every other span stay out. The bridge still selects with the same",
        "  # code as the in-process exporter, so a span kept here that it cannot use (a chat",
        "  # span of a provider Reconify has no format for, say) is counted and costs little.",
        "  # error_mode ignore: a condition that fails to evaluate on an odd span is logged and",
        "  # that span is kept for the rest of the pipeline instead of failing the whole batch.",
    ]
    conditions = keep_conditions()
    body = [conditions[0], *(f"or {condition}" for condition in conditions[1:])]
    processor = [
        "  filter/genai:",
        "    error_mode: ignore",
        "    traces:",
        "      span:",
        "        - >-",
        "          not (",
        *(f"          {line}" for line in body),
        "          )",
        END,
    ]
    return "\n".join([*comment, *processor]) + "\n"


def rewrite(config: str) -> str:
    """``config`` with its generated fragment replaced by today's."""
    start = config.index(BEGIN)
    end = config.index(END, start) + len(END) + 1
    return config[:start] + fragment() + config[end:]


def main(argv: list[str]) -> int:
    """The command's only I/O: print the fragment, or ``--write PATH`` to rewrite a file."""
    if not argv:
        sys.stdout.write(fragment())
        return 0
    if len(argv) != 2 or argv[0] != "--write":
        sys.stderr.write("usage: collector_filter [--write otel-collector-config.yaml]\n")
        return 2
    with open(argv[1], encoding="utf-8") as file:
        config = file.read()
    updated = rewrite(config)
    if updated != config:
        with open(argv[1], "w", encoding="utf-8") as file:
            file.write(updated)
    sys.stdout.write(f"{argv[1]}: {'rewritten' if updated != config else 'up to date'}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
