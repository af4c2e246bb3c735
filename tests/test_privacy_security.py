"""Nothing leaked: content switch, PII masking, the redact hook, size caps, TLS rules,
self-observability, and no key in any log, error, repr, debug output or spool file."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from reconify_otel import ReconifySpanExporter, reconify_openai_handler
from reconify_otel.core.privacy import mask_text
from reconify_otel.core.size_caps import TRUNCATION_MARKER
from reconify_otel.offline.sink import Answer, ReconifySink

from .helpers import API_KEY, APP_KEY, OWN, make_span

OPENAI_KEY = "sk-test-openai-key-77aa"


def exporter_for(sink: ReconifySink, **options: Any) -> ReconifySpanExporter:
    return ReconifySpanExporter(f"{sink.url}/track", APP_KEY, API_KEY, **options)


def texts(message: dict[str, Any]) -> list[str]:
    return [block["text"]["value"] for block in message["content"]]


def own_span_with(text: str) -> Any:
    from reconify_otel.core import attributes as A

    request = json.loads(str(OWN[A.REQUEST_MESSAGE]))
    request["content"] = [{"type": "text", "text": {"value": text, "annotations": []}}]
    return make_span("invoke_agent Math Tutor", {**OWN, A.REQUEST_MESSAGE: json.dumps(request)})


def test_content_switch_keeps_ids_times_and_usage(sink: ReconifySink) -> None:
    """An assistant run: every text ``null`` (blocks and their order kept), ids, roles,
    model and usage as they were; nothing of the text anywhere in what arrived."""
    exporter_for(sink, capture_content=False).export([own_span_with("mail jane@example.com")])
    (payload,) = sink.payloads
    assert payload["request"]["content"] == [
        {"type": "text", "text": {"value": None, "annotations": []}}
    ]
    assert [block["text"]["value"] for block in payload["response"]["content"]] == [None, None]
    request, response = payload["request"], payload["response"]
    assert (request["id"], request["role"], request["model"]) == (
        "msg_KXmJuJ3n0yNzkof0jQk2iWEj",
        "user",
        "gpt-4o-mini",
    )
    assert (response["run_id"], response["thread_id"], response["role"]) == (
        "run_31fgVjfVXHHOJZbQnBWJXhlN",
        "thread_erGl66dVoAO1EY2Mp3lvn9JB",
        "assistant",
    )
    assert response["usage"] == {"prompt_tokens": 381, "completion_tokens": 88, "total_tokens": 469}
    assert "jane" not in json.dumps(payload) and "first" not in json.dumps(payload)


def test_pii_masking(sink: ReconifySink) -> None:
    text = "Mail jane.doe@example.com or call +1 (555) 123-4567; order 42 costs 19.99."
    exporter_for(sink, mask_pii=True).export([own_span_with(text)])
    assert texts(sink.payloads[0]["request"]) == [
        "Mail [email] or call [phone]; order 42 costs 19.99."
    ]
    assert mask_text("room 101, 2024-05-01") == "room 101, 2024-05-01"


def test_redact_hook_runs_before_sending_and_its_failure_drops_the_payload(
    sink: ReconifySink,
) -> None:
    def redact(payload: dict[str, Any]) -> dict[str, Any]:
        payload = dict(payload)
        payload["user"] = {"userId": "anonymous"}
        return payload

    exporter_for(sink, redact=redact).export([own_span_with("hello")])
    assert sink.payloads[0]["user"] == {"userId": "anonymous"}

    def broken(payload: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("redaction service down")

    exporter = exporter_for(sink, redact=broken)
    exporter.export([own_span_with("hello")])
    assert len(sink.payloads) == 1  # never sent unredacted
    assert {k: v for k, v in exporter.stats().items() if v} == {"skipped_redact_failed": 1}


def test_redact_runs_before_spooling(sink: ReconifySink, private_spool: Path) -> None:
    sink.outage(30, status=503)

    def redact(payload: dict[str, Any]) -> dict[str, Any]:
        return dict(payload, user={"userId": "redacted"})

    exporter = exporter_for(sink, redact=redact, timeout=0.2)
    exporter.export([own_span_with("the secret is 12345")])
    spooled = "".join(p.read_text() for p in private_spool.rglob("*.jsonl"))
    assert '"userId":"redacted"' in spooled
    assert APP_KEY not in spooled and API_KEY not in spooled


def test_size_caps_truncate_with_a_marker(sink: ReconifySink) -> None:
    exporter_for(sink, max_field_bytes=200).export([own_span_with("x" * 5000)])
    (value,) = texts(sink.payloads[0]["request"])
    assert value.endswith(TRUNCATION_MARKER) and len(value.encode()) <= 200
    exporter = exporter_for(sink, max_field_bytes=100_000, max_payload_bytes=4096)
    exporter.export([own_span_with("y" * 50_000)])
    assert sink.received[1].body_size <= 4096
    assert texts(sink.payloads[1]["request"])[0].endswith(TRUNCATION_MARKER)


@pytest.mark.parametrize(
    ("endpoint", "options", "allowed"),
    [
        ("http://track.reconify.com/track", {}, False),
        ("http://track.reconify.com/track", {"allow_insecure": True}, True),
        ("http://127.0.0.1:9/track", {}, True),
        ("http://localhost:9/track", {}, True),
        ("http://[::1]:9/track", {}, True),
        ("https://track.reconify.com/track", {}, True),
        ("ftp://track.reconify.com/track", {}, False),
    ],
)
def test_plain_http_only_to_loopback_unless_allowed(
    endpoint: str, options: dict[str, Any], allowed: bool
) -> None:
    if allowed:
        ReconifySpanExporter(endpoint, APP_KEY, API_KEY, **options).shutdown()
    else:
        with pytest.raises(ValueError):
            ReconifySpanExporter(endpoint, APP_KEY, API_KEY, **options)


def test_ca_bundle_is_used_and_verification_stays_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    exporter = ReconifySpanExporter(
        "https://track.reconify.com/track", APP_KEY, API_KEY, ca_bundle=str(bundle)
    )
    assert exporter._sender._sender._transport._session.verify == str(bundle)
    default = ReconifySpanExporter("https://track.reconify.com/track", APP_KEY, API_KEY)
    assert default._sender._sender._transport._session.verify is True
    with pytest.raises(ValueError, match="not a file"):
        ReconifySpanExporter(
            "https://track.reconify.com/track", APP_KEY, API_KEY, ca_bundle=str(tmp_path / "no")
        )
    with pytest.raises(ValueError) as misplaced:  # a key passed where the endpoint goes
        ReconifySpanExporter(APP_KEY, APP_KEY, API_KEY)
    assert APP_KEY not in str(misplaced.value)


def test_unknown_options_are_refused() -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument 'timout'"):
        ReconifySpanExporter("https://x.example/track", APP_KEY, API_KEY, timout=3)


def test_counters_reach_the_metrics_api(sink: ReconifySink) -> None:
    from opentelemetry import metrics

    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    metrics.set_meter_provider(provider)  # the proxy meter binds to it now
    sink.script(Answer.status(503), Answer.status(400))
    exporter = exporter_for(sink, concurrency=1)
    exporter.export([own_span_with("a"), own_span_with("b"), own_span_with("c")])
    data = reader.get_metrics_data()
    points: dict[str, int] = {}
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == "reconify_otel.events":
                    for point in metric.data.data_points:
                        if point.attributes.get("component") == "exporter":
                            points[str(point.attributes["event"])] = int(point.value)
    assert points == {"accepted": 2, "rejected": 1, "retries": 1}
    assert {k: v for k, v in exporter.stats().items() if v} == points


def test_no_key_in_logs_errors_reprs_or_spool(
    sink: ReconifySink, caplog: pytest.LogCaptureFixture, private_spool: Path
) -> None:
    """Every path that can talk about a payload, at DEBUG, searched for the keys."""
    caplog.set_level(logging.DEBUG)
    secrets = (APP_KEY, API_KEY, OPENAI_KEY)
    exporter = exporter_for(sink, debug=True, timeout=0.3, concurrency=2)
    span = own_span_with("hello")
    exporter.export([span])  # accepted, with debug output
    sink.script(Answer.status(400, b"bad"), Answer.reply(200, {"status": "error"}))
    exporter.export([span, span])  # rejected both ways
    sink.outage(30, status=503)
    exporter.export([span, span])  # failed, spooled
    handler = reconify_openai_handler(
        None, app_key=APP_KEY, api_key=API_KEY, endpoint=f"{sink.url}/t", debug=True
    )
    handler.log_assistant({"id": "run_1", "status": "completed"}, None, None)
    handler.log_assistant("garbage", None, None)
    handler.close(1)
    exporter.shutdown()
    errors: list[str] = []
    for bad in ({"app_key": APP_KEY}, {"endpoint": "http://reconify.example/t"}):
        try:
            ReconifySpanExporter(**{"api_key": API_KEY, **bad})  # type: ignore[arg-type]
        except (ValueError, TypeError) as error:
            errors.append(str(error))
    spool_text = "".join(p.read_text() for p in private_spool.rglob("*") if p.is_file())
    haystack = "\n".join(
        [caplog.text, *errors, repr(exporter), repr(handler), repr(exporter._settings), spool_text]
    )
    assert "reconify payload" in caplog.text  # the debug output was there to search
    assert spool_text  # and so was the spool
    for secret in secrets:
        assert secret not in haystack


def test_an_answer_echoing_the_request_does_not_put_the_keys_in_the_log(
    sink: ReconifySink, caplog: pytest.LogCaptureFixture
) -> None:
    exporter = exporter_for(sink)
    body = json.dumps({"error": "bad", "echo": {"appKey": APP_KEY, "apiKey": API_KEY}})
    sink.script(Answer.status(400, body.encode()))
    exporter.export([own_span_with("hello")])
    assert "answered 400" in caplog.text
    assert APP_KEY not in caplog.text and API_KEY not in caplog.text


def test_boolean_options_given_as_strings_mean_what_they_say() -> None:
    from reconify_otel.settings import resolve

    settings = resolve(app_key="a", api_key="b", spool="false", debug="0", capture_content="off")
    assert (settings.spool, settings.debug, settings.capture_content) == (False, False, False)
    with pytest.raises(ValueError):
        resolve(app_key="a", api_key="b", mask_pii="perhaps")
