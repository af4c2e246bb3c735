"""The HTTP client behind every sender, behind a two-method interface.

``HttpTransport`` is all the retry policy needs: POST one body within a timeout, get
an answer or ``Unreachable``. ``requests_transport.RequestsTransport`` (one pooled
keep-alive ``requests.Session``) is the default; pass another as ``transport=`` to the
exporter or handler to route requests through your own client. Nothing here imports an
HTTP library, so the settings can name the type.

A transport must not follow redirects (the keys are in the body: a 3xx is handed back as
an answer), must end each request within ``timeout`` in all (not per read, and connection
set-up included), should skip 1xx informational answers, should send plain ``http://``
through no proxy, and should read only a small answer: the default does all of these.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    text: str = ""


class Unreachable(Exception):
    """No answer: the connection was refused, reset or timed out (retried)."""


class HttpTransport(Protocol):
    def post(self, body: bytes, headers: Mapping[str, str], timeout: float) -> HttpAnswer:
        """POST ``body`` to the endpoint; raise ``Unreachable`` when no answer came."""
        ...

    def close(self) -> None: ...


def shown_endpoint(url: str) -> str:
    """``scheme://host[:port]/path`` for log lines: no query, no user info, no key."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{host}{port}{parts.path}"
