"""The Collector's ``filter/genai`` in otel-collector-config.yaml is the conventions' rule
written in OTTL (``core.conventions.collector_filter``): the file holds what is generated,
and the generated condition keeps every span ``classify`` selects. (The real Collector
runs it in tests/test_real_collector_*.py, marker ``collector``.)"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconify_otel.core.conventions import CANDIDATE_NAMES, classify
from reconify_otel.core.conventions import collector_filter as cf
from reconify_otel.core.llm.events import NAMES

from .fuzz_strategies import TRACELOOP_NAMES, over_spans

CONFIG = Path(__file__).resolve().parents[1] / "otel-collector-config.yaml"
COMMAND = (
    ".venv/bin/python -m reconify_otel.core.conventions.collector_filter"
    " --write otel-collector-config.yaml"
)


def test_the_config_holds_the_generated_filter() -> None:
    text = CONFIG.read_text()
    assert cf.rewrite(text) == text, f"stale filter/genai: run `{COMMAND}`"


def test_the_collector_reads_the_generated_condition() -> None:
    processor = yaml.safe_load(CONFIG.read_text())["processors"]["filter/genai"]
    assert processor["error_mode"] == "ignore"
    conditions = " or ".join(cf.keep_conditions())
    assert processor["traces"]["span"] == [f"not ( {conditions} )"]


def _regexes() -> list[str]:
    """The IsMatch patterns of the generated conditions, as the Collector reads them."""
    found = re.findall(r'IsMatch\(name, "((?:[^"\\]|\\.)*)"\)', " ".join(cf.keep_conditions()))
    return [pattern.replace("\\\\", "\\") for pattern in found]


def _kept(name: str, attributes: dict[str, Any]) -> bool:
    """The generated condition, evaluated here: the Collector keeps the span when true."""
    names, agent = (re.compile(p) for p in _regexes())
    return bool(
        names.search(name)
        or attributes.get("openinference.span.kind") == "LLM"
        or attributes.get("gen_ai.operation.name")
        in ("chat", "text_completion", "generate_content")
        or (agent.search(name) and attributes.get("openai.assistants.run.id") is not None)
    )


def test_the_name_pattern_matches_the_traceloop_names_exactly() -> None:
    names = re.compile(_regexes()[0])
    assert {n for n in [*CANDIDATE_NAMES, *TRACELOOP_NAMES] if names.search(n)} == TRACELOOP_NAMES
    for near in ("openai.chatx", "openaiXchat", "openai.assistant.run_streamed", "xopenai.chat"):
        assert not names.search(near)


@over_spans
def test_the_collector_keeps_every_span_the_bridge_selects(
    name: str, attributes: dict[str, Any]
) -> None:
    if classify(name, attributes) is not None:
        assert _kept(name, attributes)


def test_the_command_prints_and_rewrites(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cf.main([]) == 0
    assert capsys.readouterr().out == cf.fragments()
    stale = tmp_path / "config.yaml"
    text = CONFIG.read_text()
    stale.write_text(text.replace("openai\\\\.chat|", "").replace("gen_ai\\\\.choice|", ""))
    assert stale.read_text() != text
    assert cf.main(["--write", str(stale)]) == 0
    assert stale.read_text() == text
    assert cf.main(["--write", str(stale)]) == 0
    assert capsys.readouterr().out.endswith("up to date\n")
    assert cf.main(["--bogus"]) == 2


def test_the_documented_command_runs_as_written(tmp_path: Path) -> None:
    """docs/attributes.md's command, run from a copy of the top level with a stale filter."""
    docs = (CONFIG.parent / "docs" / "attributes.md").read_text()
    assert f"`{COMMAND}`" in " ".join(docs.split())
    text = CONFIG.read_text()
    (tmp_path / CONFIG.name).write_text(text.replace("openai\\\\.chat|", ""))
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parents[1])  # the venv running this
    done = subprocess.run(COMMAND.split(), cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / CONFIG.name).read_text() == text


def test_the_logs_filter_keeps_exactly_the_events_the_bridge_joins() -> None:
    processor = yaml.safe_load(CONFIG.read_text())["processors"]["filter/genai-events"]
    assert processor["error_mode"] == "ignore"
    conditions = " or ".join(cf.event_conditions())
    assert processor["logs"]["log_record"] == [f"not ( {conditions} )"]
    assert set(cf.EVENT_NAMES) == NAMES
    found = re.findall(r'IsMatch\((\S+), "((?:[^"\\]|\\.)*)"\)', conditions)
    assert [target for target, _ in found] == ["event_name", 'attributes["event.name"]']
    for _, pattern in found:
        regex = re.compile(pattern.replace("\\\\", "\\"))
        assert {name for name in NAMES if regex.search(name)} == NAMES
        for near in ("gen_ai.choices", "xgen_ai.choice", "gen_ai_user_message", "gen_ai.user"):
            assert not regex.search(near)


def test_the_logs_pipeline_goes_to_the_bridge() -> None:
    pipeline = yaml.safe_load(CONFIG.read_text())["service"]["pipelines"]["logs/reconify"]
    assert pipeline == {
        "receivers": ["otlp"],
        "processors": ["memory_limiter", "filter/genai-events"],
        "exporters": ["otlphttp/reconify"],
    }


def test_a_config_without_the_logs_fragments_gets_them(tmp_path: Path) -> None:
    """A copy made before the logs pipeline: --write adds the filter and the pipeline."""
    text = CONFIG.read_text()
    older = text
    for begin, end in ((cf.EVENTS_BEGIN, cf.EVENTS_END), (cf.PIPELINE_BEGIN, cf.PIPELINE_END)):
        start = older.index(begin) - 1  # with the blank line before it
        older = older[:start] + older[older.index(end) + len(end) + 1 :]
    assert "logs/reconify" not in older and "filter/genai-events" not in older
    assert cf.rewrite(older) == text
    with pytest.raises(ValueError, match="traces/reconify"):
        cf.rewrite(older.replace(cf.TRACES_PIPELINE, "    traces/other:"))
