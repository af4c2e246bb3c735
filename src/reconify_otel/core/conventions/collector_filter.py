"""The Collector's ``filter/genai`` processor, written from the conventions' own names so
the Collector keeps exactly the spans ``classify`` may select, in OTTL; and its
``logs/reconify`` pipeline, whose ``filter/genai-events`` keeps the GenAI log events the
bridge joins to their calls' spans (``core.llm.events.NAMES``), and nothing else.

``python -m reconify_otel.core.conventions.collector_filter`` prints the fragments;
``... --write otel-collector-config.yaml`` rewrites them in that file (each between its
BEGIN and END lines; a fragment the file lacks is added: the events filter after
``filter/genai``, the pipeline after ``traces/reconify``). tests/test_collector_filter.py
holds the file equal to what is generated. The Collector keeps a little more than
``classify`` takes (any OpenInference LLM span, any provider's ``chat`` span): the bridge
answers those as not interactions.
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
EVENTS_BEGIN = (
    "  # BEGIN filter/genai-events, generated: python -m"
    " reconify_otel.core.conventions.collector_filter"
)
EVENTS_END = "  # END filter/genai-events"
PIPELINE_BEGIN = (
    "    # BEGIN logs/reconify, generated: python -m"
    " reconify_otel.core.conventions.collector_filter"
)
PIPELINE_END = "    # END logs/reconify"
# The pipeline the logs pipeline is added after, when a file has none yet.
TRACES_PIPELINE = "    traces/reconify:"
# The log events a call's content may be recorded in (core.llm.events.NAMES).
EVENT_NAMES = (*genai.MESSAGE_EVENTS, genai.CHOICE_EVENT, genai.DETAILS_EVENT)


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


def event_conditions() -> list[str]:
    """The OTTL conditions a GenAI event's log record meets: its name, in the record's
    ``event_name`` (OTLP 1.5 on) or, from older SDKs, its ``event.name`` attribute."""
    names = "|".join(re.escape(name) for name in EVENT_NAMES)
    pattern = _string(f"^({names})$")
    return [
        f"IsMatch(event_name, {pattern})",
        f"IsMatch({_attribute(genai.EVENT_NAME)}, {pattern})",
    ]


def events_fragment() -> str:
    """The ``filter/genai-events`` processor's YAML (for ``processors:``), with its comment."""
    listed = textwrap.wrap(
        ", ".join(EVENT_NAMES) + ".",
        80,
        initial_indent="  #   ",
        subsequent_indent="  #   ",
    )
    comment = [
        EVENTS_BEGIN,
        "  # Some instrumentations record a call's messages only as GenAI log events, never",
        "  # on the span (opentelemetry-instrumentation-botocore for Bedrock,",
        "  # opentelemetry-util-genai in its EVENT_ONLY mode). The bridge joins them to their",
        "  # span by trace and span id. Every other log record is DROPPED here; kept are the",
        "  # records named (event_name, or the event.name attribute of older SDKs):",
        *listed,
    ]
    conditions = event_conditions()
    body = [conditions[0], *(f"or {condition}" for condition in conditions[1:])]
    processor = [
        "  filter/genai-events:",
        "    error_mode: ignore",
        "    logs:",
        "      log_record:",
        "        - >-",
        "          not (",
        *(f"          {line}" for line in body),
        "          )",
        EVENTS_END,
    ]
    return "\n".join([*comment, *processor]) + "\n"


def pipeline_fragment() -> str:
    """The ``logs/reconify`` pipeline's YAML (for ``service.pipelines:``)."""
    lines = [
        PIPELINE_BEGIN,
        "    # The GenAI log events of calls, to the bridge's /v1/logs (the exporter",
        "    # appends the path), by the same exporter and persistent queue as their",
        "    # spans. No batch processor, as for traces/reconify.",
        "    logs/reconify:",
        "      receivers: [otlp]",
        "      processors: [memory_limiter, filter/genai-events]",
        "      exporters: [otlphttp/reconify]",
        PIPELINE_END,
    ]
    return "\n".join(lines) + "\n"


def fragments() -> str:
    """Every generated fragment, as the command prints them."""
    return fragment() + events_fragment() + pipeline_fragment()


def rewrite(config: str) -> str:
    """``config`` with its generated fragments replaced by today's (added where missing)."""
    config = _replaced(config, BEGIN, END, fragment())
    if EVENTS_BEGIN not in config:
        config = _inserted(config, config.index(END, config.index(BEGIN)), events_fragment())
    config = _replaced(config, EVENTS_BEGIN, EVENTS_END, events_fragment())
    if PIPELINE_BEGIN not in config:
        config = _inserted(config, _end_of_block(config, TRACES_PIPELINE), pipeline_fragment())
    return _replaced(config, PIPELINE_BEGIN, PIPELINE_END, pipeline_fragment())


def _replaced(config: str, begin: str, end: str, text: str) -> str:
    start = config.index(begin)
    stop = config.index(end, start) + len(end) + 1
    return config[:start] + text + config[stop:]


def _inserted(config: str, at: int, text: str) -> str:
    """``text`` after a blank line, on the lines after the one ``at`` is on."""
    line_end = config.find("\n", at)
    cut = len(config) if line_end < 0 else line_end + 1
    before = config[:cut] if config[:cut].endswith("\n") else config[:cut] + "\n"
    return before + "\n" + text + config[cut:]


def _end_of_block(config: str, header: str) -> int:
    """Where the YAML block opened by the line ``header`` ends: its last more-indented line."""
    lines = config.splitlines(keepends=True)
    offset = 0
    for number, line in enumerate(lines):
        if line.rstrip("\n") == header:
            indent = len(header) - len(header.lstrip())
            last = offset
            position = offset + len(line)
            for following in lines[number + 1 :]:
                stripped = following.strip()
                if stripped and len(following) - len(following.lstrip()) <= indent:
                    break
                if stripped and not stripped.startswith("#"):
                    last = position
                position += len(following)
            return last
        offset += len(line)
    raise ValueError(f"no {header.strip()!r} pipeline to add the logs pipeline after")


def main(argv: list[str]) -> int:
    """The command's only I/O: print the fragment, or ``--write PATH`` to rewrite a file."""
    if not argv:
        sys.stdout.write(fragments())
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
