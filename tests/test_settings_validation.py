"""Bad configuration fails when the exporter is built, and the error never shows a secret."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from reconify_otel import ReconifySpanExporter
from reconify_otel.settings import DEFAULT_ENDPOINT, resolve

APP_KEY = "app-key-5f3c9e1d7a"
API_KEY = "api-key-8b2e4d6f0c"
KEYS = {"app_key": APP_KEY, "api_key": API_KEY}


@pytest.fixture(autouse=True)
def no_reconify_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RECONIFY_APP_KEY", "RECONIFY_API_KEY", "RECONIFY_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("blank", ["", " ", "\t\n"])
def test_keys_of_only_whitespace_are_missing(blank: str) -> None:
    with pytest.raises(ValueError, match="missing: app_key") as error:
        resolve(app_key=blank, api_key=API_KEY)
    assert "RECONIFY_APP_KEY" in str(error.value)
    assert "api_key" not in str(error.value)


def test_keys_of_only_whitespace_in_the_environment_are_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RECONIFY_APP_KEY", APP_KEY)
    monkeypatch.setenv("RECONIFY_API_KEY", "   ")
    with pytest.raises(ValueError, match=r"missing: api_key \(or the RECONIFY_API_KEY"):
        ReconifySpanExporter()


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://host:99999/track",
        "https://track.reconify.com:abc/track",
        "https://exa mple.com/track",
        "https://track.reconify.com:0/track",
        "http://127.0.0.1:0/track",
        "https:///track",
        "track.reconify.com/track",
        "http://127.0.0.1\t.evil.invalid/track",
    ],
)
def test_malformed_endpoints_fail_without_echoing_the_value(endpoint: str) -> None:
    with pytest.raises(ValueError, match="must be an http:// or https:// URL") as error:
        resolve(endpoint=endpoint, **KEYS)
    assert endpoint not in str(error.value)


@pytest.mark.parametrize(
    "endpoint",
    ["http://evil.invalid\\@127.0.0.1:9/track", "http://127.0.0.1:80\\@evil.invalid/track"],
)
def test_an_endpoint_whose_host_depends_on_the_parser_is_refused(endpoint: str) -> None:
    # urlsplit and urllib3 (what requests connects with) read different hosts here.
    with pytest.raises(ValueError, match="ambiguous"):
        resolve(endpoint=endpoint, **KEYS)


def test_an_empty_endpoint_is_an_error_not_the_production_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ValueError, match="is empty"):
        resolve(endpoint="", **KEYS)
    with pytest.raises(ValueError, match="is empty"):
        resolve(endpoint="  ", **KEYS)
    monkeypatch.setenv("RECONIFY_ENDPOINT", "")
    with pytest.raises(ValueError, match=r"\(or RECONIFY_ENDPOINT\) is empty"):
        resolve(**KEYS)
    monkeypatch.delenv("RECONIFY_ENDPOINT")
    assert resolve(**KEYS).endpoint == DEFAULT_ENDPOINT  # unset: Reconify's endpoint


@pytest.mark.parametrize(
    ("endpoint", "options"),
    [
        (DEFAULT_ENDPOINT, {}),
        ("https://track.reconify.com:443/track", {}),
        ("HTTPS://Track.Reconify.com/track", {}),
        ("https://münchen.example/track", {}),
        ("http://127.0.0.1:65535/track", {}),
        ("http://[::1]:9/track", {}),
        ("http://localhost:9/track", {}),
        ("http://collector.internal:8080/track", {"allow_insecure": True}),
    ],
)
def test_good_endpoints_still_pass(endpoint: str, options: dict[str, Any]) -> None:
    assert resolve(endpoint=endpoint, **KEYS, **options).endpoint == endpoint


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        ("timeout", "must be a number, got a string of 18 characters"),
        ("concurrency", "must be a number, got a string of 18 characters"),
        ("compression", "must be 'none' or 'gzip', got a string of 18 characters"),
        ("debug", "must be 1/0, true/false, yes/no or on/off, got a string of 18 characters"),
        ("spool", "must be 1/0, true/false, yes/no or on/off, got a string of 18 characters"),
        ("ca_bundle", "is not a file: expected the path of a CA bundle, got a string of 18"),
    ],
)
def test_a_key_passed_to_the_wrong_option_is_not_echoed(option: str, expected: str) -> None:
    with pytest.raises(ValueError) as error:
        ReconifySpanExporter(DEFAULT_ENDPOINT, APP_KEY, API_KEY, **{option: APP_KEY})
    message = str(error.value)
    assert expected in message
    assert message.startswith(f"{option} (or RECONIFY_")
    assert APP_KEY not in message and APP_KEY not in repr(error.value)


def test_a_key_in_a_numeric_option_from_the_environment_is_not_echoed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RECONIFY_TIMEOUT", "0.0000123456789")  # a numeric secret, too small
    with pytest.raises(ValueError) as error:
        resolve(**KEYS)
    expected = "timeout (or RECONIFY_TIMEOUT) must be at least 0.001, got a smaller number"
    assert str(error.value) == expected


@pytest.mark.parametrize("value", ["nan", "inf", float("nan")])
def test_numbers_must_be_finite(value: Any) -> None:
    with pytest.raises(ValueError, match="must be a finite number"):
        resolve(timeout=value, **KEYS)


@pytest.mark.parametrize(
    ("option", "value", "wanted", "kind"),
    [
        ("concurrency", True, "a whole number", "bool"),
        ("timeout", False, "a number", "bool"),
        ("max_queue", 2.5, "a whole number", "float"),
    ],
)
def test_numbers_are_not_booleans_and_counts_are_whole(
    option: str, value: Any, wanted: str, kind: str
) -> None:
    with pytest.raises(ValueError) as error:
        resolve(**{option: value}, **KEYS)
    env = f"RECONIFY_{option.upper()}"
    assert str(error.value) == f"{option} (or {env}) must be {wanted}, got a value of type {kind}"


WRONG_KEYS = [123, b"bytes-key-7d1c", ["list-key-4e9a"], 12.5, {"key": "dict-key-2b8f"}]


def _mentions(message: str, value: Any) -> bool:
    """Whether the message shows the value or any piece of text inside it."""
    pieces = {str(value), repr(value)}
    if isinstance(value, bytes):
        pieces.add(value.decode())
    if isinstance(value, (list, dict)):
        pieces.update(str(item) for item in (value.values() if isinstance(value, dict) else value))
    return any(piece in message for piece in pieces)


@pytest.mark.parametrize("key", ["app_key", "api_key"])
@pytest.mark.parametrize("value", WRONG_KEYS, ids=lambda v: type(v).__name__)
def test_a_key_that_is_not_a_string_is_refused_by_the_exporter(key: str, value: Any) -> None:
    with pytest.raises(TypeError) as error:
        ReconifySpanExporter(**{**KEYS, key: value})
    message = str(error.value)
    env = "RECONIFY_APP_KEY" if key == "app_key" else "RECONIFY_API_KEY"
    assert (
        message == f"{key} (or {env}) must be a string, got a value of type {type(value).__name__}"
    )
    assert not _mentions(message, value)


@pytest.mark.parametrize("value", WRONG_KEYS, ids=lambda v: type(v).__name__)
def test_a_key_that_is_not_a_string_is_refused_by_the_handler(value: Any) -> None:
    from openai import OpenAI

    from reconify_otel import reconify_openai_handler

    client = OpenAI(api_key="sk-test", base_url="http://127.0.0.1:9/v1")
    create = client.chat.completions.create
    with pytest.raises(TypeError, match=r"^app_key \(or RECONIFY_APP_KEY\) must be a string"):
        reconify_openai_handler(client, app_key=value, api_key=API_KEY)
    assert client.chat.completions.create == create  # the client was left as it was


@pytest.mark.parametrize(
    ("option", "value", "kind"),
    [
        ("endpoint", b"http://127.0.0.1:9/track", "a string"),
        ("compression", 1, "a string"),
        ("ca_bundle", b"/etc/ssl/certs/ca.pem", "a string or a path"),
        ("spool_dir", ["/tmp/spool"], "a string or a path"),
    ],
)
def test_string_options_of_another_type_are_refused(option: str, value: Any, kind: str) -> None:
    with pytest.raises(TypeError) as error:
        resolve(**KEYS, **{option: value})
    assert str(error.value).startswith(f"{option} (or RECONIFY_")
    assert f"must be {kind}, got a value of type {type(value).__name__}" in str(error.value)
    assert not _mentions(str(error.value), value)


def test_paths_may_be_path_objects(tmp_path: Path) -> None:
    settings = resolve(**KEYS, spool_dir=tmp_path / "spool")
    assert settings.spool_dir == str(tmp_path / "spool")


def test_the_exporter_opentelemetry_instrument_builds_logs_a_bad_key_type_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from reconify_otel.exporter.entry_point import ReconifySpanExporterFromEnvironment

    with caplog.at_level(logging.ERROR, logger="reconify_otel"):
        exporter = ReconifySpanExporterFromEnvironment(app_key=b"bytes-key-7d1c", api_key=API_KEY)
    assert exporter.exporter is None  # a no-op that counts what it drops
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "app_key (or RECONIFY_APP_KEY) must be a string" in errors[0]
    assert "bytes-key" not in errors[0]
