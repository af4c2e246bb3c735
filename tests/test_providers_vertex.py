"""Gemini through Vertex AI: ``google-genai`` with ``vertexai=True`` gives one payload in
Reconify's ``gemini`` format (type ``generate``) per call, exactly as the Gemini API does
(tests/test_providers_gemini.py), under the official instrumentation, OpenInference's,
traceloop's and two at once, in process and through the bridge.

Offline: a project with an OAuth token that needs no refresh (no application default
credentials, no metadata server), or Vertex express mode's API key; the client's
``base_url`` is the replay. Every connection and name lookup beyond loopback is refused
and noted, and a test fails when one was tried. Vertex answers ``generateContent`` with
the Gemini API's ``GenerateContentResponse`` object, so the recorded Gemini answer is served
at the Vertex path. The instrumentations name the provider ``vertex_ai`` (official; the
Gemini API's is ``gemini``), ``google`` (OpenInference) and ``gcp.gen_ai`` (traceloop),
the last two as for the Gemini API.
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconify_otel.offline.replay import LlmReplay, RecordedCall, recorded_calls

from .framework_runs import routed
from .test_providers_gemini import expected_response, gemini_traced

# The real provider SDKs on recorded traffic (.ci/run runs the group).
pytestmark = pytest.mark.providers

FIXTURES = Path(__file__).parent / "fixtures" / "providers" / "google-genai"
PROJECT, LOCATION, MODEL = "test-project", "us-central1", "gemini-2.5-flash"
TOKEN, KEY = "test-vertex-token", "test-vertex-key"
# Where google-genai asks Vertex AI: a project's model, and express mode's (an API key).
PATHS = {
    "project": f"/v1beta1/projects/{PROJECT}/locations/{LOCATION}"
    f"/publishers/google/models/{MODEL}:generateContent",
    "express": f"/v1beta1/publishers/google/models/{MODEL}:generateContent",
}
AUTH = {"project": ("authorization", f"Bearer {TOKEN}"), "express": ("x-goog-api-key", KEY)}
INSTRUMENTORS = {
    "official": "opentelemetry.instrumentation.google_genai:GoogleGenAiSdkInstrumentor",
    "oi": "openinference.instrumentation.google_genai:GoogleGenAIInstrumentor",
    "tl": "opentelemetry.instrumentation.google_generativeai:GoogleGenerativeAiInstrumentor",
}
# The provider each writes for a Vertex AI call: (attribute, name).
PROVIDERS = {
    "official": ("gen_ai.provider.name", "vertex_ai"),
    "oi": ("llm.provider", "google"),
    "tl": ("gen_ai.provider.name", "gcp.gen_ai"),
}
NAMED = frozenset(attribute for attribute, _ in PROVIDERS.values())
ASKED = [{"parts": [{"text": "What is ai?"}], "role": "user"}]


def vertex_call(mode: str) -> RecordedCall:
    """The recorded Gemini call, answered at the Vertex AI path (the replay keys on it)."""
    (call,) = recorded_calls(FIXTURES / "test_client_spans.yaml")
    return dataclasses.replace(call, path=PATHS[mode])


def _is_loopback(host: object) -> bool:
    name = host.decode() if isinstance(host, bytes) else str(host)
    if host is None or name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name.split("%")[0]).is_loopback
    except ValueError:
        return False


@contextlib.contextmanager
def no_internet(tmp_path: Path) -> Iterator[list[str]]:
    """Loopback only: any other connection or name lookup is refused and noted in the list
    yielded. No Google credentials, project or key from the host's environment."""
    tried: list[str] = []
    connect, getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def guarded_connect(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
            tried.append(f"connect {address[0]}")
            raise ConnectionRefusedError(f"not loopback: {address[0]}")
        connect(sock, address)

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _is_loopback(host):
            tried.append(f"resolve {host}")
            raise socket.gaierror(socket.EAI_NONAME, f"not loopback: {host}")
        return getaddrinfo(host, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", guarded_connect)
        patch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
        patch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "no-credentials.json"))
        patch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "no-gcloud"))
        patch.setenv("GOOGLE_API_USE_CLIENT_CERTIFICATE", "false")
        patch.setenv("NO_GCE_CHECK", "True")
        for name in (
            "GOOGLE_API_KEY",
            "GEMINI_API_KEY",
            "GOOGLE_CLOUD_PROJECT",
            "GOOGLE_CLOUD_LOCATION",
            "GOOGLE_GENAI_USE_VERTEXAI",
            "GOOGLE_GENAI_USE_ENTERPRISE",
        ):
            patch.delenv(name, raising=False)
        yield tried


def vertex_client(mode: str, base_url: str | None, headers: list[dict[str, str]]) -> Any:
    """A Vertex AI client (``headers``: what each request carried); ``base_url`` None:
    Google's own endpoint."""
    from google import genai
    from google.oauth2.credentials import Credentials

    def note(request: Any) -> None:
        headers.append({k.lower(): v for k, v in request.headers.items()})

    options = genai.types.HttpOptions(
        base_url=base_url, client_args={"event_hooks": {"request": [note]}}
    )
    if mode == "express":
        return genai.Client(vertexai=True, api_key=KEY, http_options=options)
    credentials = Credentials(token=TOKEN)  # type: ignore[no-untyped-call]
    return genai.Client(
        vertexai=True,
        project=PROJECT,
        location=LOCATION,
        credentials=credentials,
        http_options=options,
    )


@pytest.mark.parametrize("mode", ["project", "express"])
@pytest.mark.parametrize("setup", ["official", "oi", "tl", "oi+official"])
def test_one_gemini_payload_per_vertex_call(setup: str, mode: str, tmp_path: Path) -> None:
    call = vertex_call(mode)
    headers: list[dict[str, str]] = []
    with (
        no_internet(tmp_path) as tried,
        routed(True) as (sink, bridge_sink, pipeline),
        LlmReplay([call]) as replay,
    ):
        with gemini_traced(pipeline, setup):
            client = vertex_client(mode, replay.url, headers)
            client.models.generate_content(model=MODEL, contents="What is ai?")
        pipeline.flush()
        bridge_sink.wait_for(1, timeout=5)
        stats = {k: v for k, v in pipeline.exporter.stats().items() if v}
        spans = pipeline.memory.get_finished_spans()
    assert tried == []
    assert replay.received == [(PATHS[mode], {"contents": ASKED})]
    header, value = AUTH[mode]
    assert [h.get(header) for h in headers] == [value]
    written = [(k, v) for s in spans for k, v in (s.attributes or {}).items() if k in NAMED]
    assert sorted(written) == sorted(PROVIDERS[tag] for tag in setup.split("+"))
    assert stats == {"accepted": 1} | ({"skipped_duplicate": 1} if "+" in setup else {})
    (payload,) = sink.payloads
    assert (payload["reconify"]["format"], payload["reconify"]["type"]) == ("gemini", "generate")
    asked = [{"role": "user", "parts": [{"text": "What is ai?"}]}]
    assert payload["request"] == {"model": MODEL, "contents": asked}
    # traceloop records no thoughts' count (its output count is the answer's alone).
    assert payload["response"] == expected_response(call, thoughts=setup != "tl")
    assert [(p["request"], p["response"]) for p in bridge_sink.payloads] == [
        (payload["request"], payload["response"])
    ]


def test_the_guard_stops_a_call_that_would_reach_google(tmp_path: Path) -> None:
    """Without ``base_url`` the same client asks Vertex AI itself: the lookup is refused
    and noted, so a test that reached beyond loopback could not pass."""
    with no_internet(tmp_path) as tried, pytest.raises(Exception, match="not loopback"):
        client = vertex_client("project", None, [])
        client.models.generate_content(model=MODEL, contents="What is ai?")
    assert tried == [f"resolve {LOCATION}-aiplatform.googleapis.com"]


@pytest.mark.parametrize(
    ("credentials", "error"),
    [
        ("anonymous", "Anonymous credentials cannot be refreshed"),
        ("default", "no-credentials.json was not found"),
    ],
)
def test_credentials_that_need_google_fail_before_any_request(
    credentials: str, error: str, tmp_path: Path
) -> None:
    """Why the project route takes a ready token: anonymous credentials are refreshed
    before each request (and cannot be), and application default credentials are looked
    for (none here). Neither asks anything of the network or the replay."""
    from google import genai
    from google.auth.credentials import AnonymousCredentials

    chosen = AnonymousCredentials() if credentials == "anonymous" else None  # type: ignore[no-untyped-call]
    with no_internet(tmp_path) as tried, LlmReplay([vertex_call("project")]) as replay:
        client = genai.Client(
            vertexai=True,
            project=PROJECT,
            location=LOCATION,
            credentials=chosen,
            http_options=genai.types.HttpOptions(base_url=replay.url),
        )
        with pytest.raises(Exception, match=error):
            client.models.generate_content(model=MODEL, contents="What is ai?")
    assert (tried, replay.received) == ([], [])
