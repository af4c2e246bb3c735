"""Bad configuration fails when the exporter is built, and the error never shows a secret."""

from __future__ import annotations

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
