"""One set of options, named alike in four places: ``settings.OPTIONS`` (with ``Settings``,
the one validator), the README's configuration table, ``settings.ReconifyOptions`` (the
typed keywords of ``ReconifySpanExporter`` and ``reconify_openai_handler``) and those two
signatures. Adding an option to one place fails here until all agree."""

from __future__ import annotations

import inspect
import re
from dataclasses import fields
from pathlib import Path
from typing import Any, ForwardRef

import pytest

from reconify_otel import ReconifySpanExporter
from reconify_otel.handler.openai_handler import reconify_openai_handler
from reconify_otel.settings import OPTIONS, ReconifyOptions, Settings

from .helpers import API_KEY, APP_KEY

ROOT = Path(__file__).resolve().parents[1]
KEYS = ("app_key", "api_key")  # validated apart from OPTIONS, also in the table
ARGUMENT_ONLY = ("redact", "transport")  # objects: no environment variable
HOW_TO_ADD = (
    "an option lives in four places: settings.OPTIONS (+ a Settings field), the README's "
    "configuration table (| `name` | `RECONIFY_NAME` | default | meaning |), and a key "
    "`name: <Settings type> | None` of settings.ReconifyOptions, the keywords "
    "(`**options: Unpack[ReconifyOptions]`) of both ReconifySpanExporter.__init__ "
    "(src/reconify_otel/exporter/span_exporter.py) and reconify_openai_handler "
    "(src/reconify_otel/handler/openai_handler.py)"
)


def readme_table() -> dict[str, str]:
    """Option name -> what the table's second column says (the variable, or a note)."""
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \| (.+?) \|", section, re.MULTILINE)
    return dict(rows)


def options_of(function: Any, skip: tuple[str, ...]) -> dict[str, str]:
    """Option name -> its annotation: the named parameters (bar ``skip``) and the keys of
    the TypedDict that types ``**options``."""
    named: dict[str, str] = {}
    keywords: dict[str, str] = {}
    for name, parameter in inspect.signature(function).parameters.items():
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            assert parameter.annotation == "Unpack[ReconifyOptions]", HOW_TO_ADD
            keywords = typed_options()
        elif name not in skip:
            assert parameter.default is None, f"{name}: None means 'from RECONIFY_*, else default'"
            named[name] = str(parameter.annotation)
    assert not set(named) & set(keywords), "an option is both a parameter and a key"
    return named | keywords


def typed_options() -> dict[str, str]:
    """``ReconifyOptions``'s keys and annotations, as written in settings.py."""
    assert not ReconifyOptions.__total__  # every option may be left out
    return {
        name: annotation.__forward_arg__ if isinstance(annotation, ForwardRef) else annotation
        for name, annotation in ReconifyOptions.__annotations__.items()
    }


def expected_names() -> set[str]:
    return {option.name for option in OPTIONS} | set(ARGUMENT_ONLY)


def test_the_readme_table_lists_every_option_with_its_variable() -> None:
    expected = {option.name: f"`{option.env}`" for option in OPTIONS}
    expected.update({"app_key": "`RECONIFY_APP_KEY`", "api_key": "`RECONIFY_API_KEY`"})
    expected.update({name: "(argument only)" for name in ARGUMENT_ONLY})
    assert readme_table() == expected, HOW_TO_ADD


@pytest.mark.parametrize(
    ("function", "skip"),
    [
        (ReconifySpanExporter.__init__, ("self", *KEYS)),
        (reconify_openai_handler, ("openai_client", *KEYS)),
    ],
    ids=["ReconifySpanExporter", "reconify_openai_handler"],
)
def test_the_signature_has_every_option_typed_and_keyword(
    function: Any, skip: tuple[str, ...]
) -> None:
    annotations = options_of(function, skip)
    assert set(annotations) == expected_names(), HOW_TO_ADD
    types = {f.name: str(f.type) for f in fields(Settings)}
    for name, annotation in annotations.items():
        declared = types[name] if types[name].endswith("| None") else f"{types[name]} | None"
        assert annotation == declared, f"{name}: {HOW_TO_ADD}"
    # Only ``endpoint`` may be positional (after the client or before the keys).
    positional = [
        name
        for name, parameter in inspect.signature(function).parameters.items()
        if name not in skip
        and parameter.kind not in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.VAR_KEYWORD)
    ]
    assert positional == (["endpoint"] if function is ReconifySpanExporter.__init__ else [])


NON_DEFAULT: dict[str, Any] = {
    "endpoint": "http://127.0.0.1:9/elsewhere",
    "timeout": 2.5,
    "concurrency": 3,
    "compression": "gzip",
    "session_timeout": 7,
    "debug": True,
    "allow_insecure": True,
    "ca_bundle": __file__,
    "capture_content": False,
    "mask_pii": True,
    "max_field_bytes": 100,
    "max_payload_bytes": 5000,
    "spool": False,
    "spool_dir": "/tmp/reconify-options-test",
    "spool_max_bytes": 4096,
    "spool_retention_hours": 1.5,
    "max_queue": 9,
    "spool_retry_seconds": 0.5,
    "export_timeout": 1.5,
    "interactions": frozenset({"chat", "assistant"}),
}


def redact(payload: dict[str, Any]) -> dict[str, Any]:
    return payload


def test_every_argument_reaches_the_settings() -> None:
    assert set(NON_DEFAULT) | set(ARGUMENT_ONLY) == expected_names(), (
        "give every option a value other than its default in NON_DEFAULT (tests/test_options.py)"
    )
    defaults = Settings(app_key=None, api_key=None)  # type: ignore[arg-type]
    for name, value in NON_DEFAULT.items():
        assert getattr(defaults, name) != value, f"{name}: pick a value that is not the default"

    exporter = ReconifySpanExporter(app_key=APP_KEY, api_key=API_KEY, redact=redact, **NON_DEFAULT)
    handler = reconify_openai_handler(
        None, app_key=APP_KEY, api_key=API_KEY, redact=redact, **NON_DEFAULT
    )
    try:
        for settings in (exporter._settings, handler._settings):
            assert {name: getattr(settings, name) for name in NON_DEFAULT} == NON_DEFAULT
            assert settings.redact is redact
    finally:
        exporter.shutdown()
        handler.close(1)


def test_the_typed_keywords_are_the_declared_options() -> None:
    """Options are declared once, as ``Settings`` fields (``settings.option``), and
    ``OPTIONS`` is read from them; ``ReconifyOptions`` is written out because type
    checkers need it static, so it is held to the same names here."""
    declared = {f.name for f in fields(Settings) if "option" in f.metadata}
    assert [option.name for option in OPTIONS] == [
        f.name for f in fields(Settings) if f.name in declared
    ]
    assert all(option.env == f"RECONIFY_{option.name.upper()}" for option in OPTIONS)
    assert set(ReconifyOptions.__annotations__) == (declared - {"endpoint"}) | set(ARGUMENT_ONLY)
    assert {f.name for f in fields(Settings)} >= set(ReconifyOptions.__annotations__)
