"""The default ``HttpTransport``: one pooled keep-alive ``requests.Session``, hardened
against an endpoint that is not Reconify.

- Redirects are never followed: a 3xx is handed back as it is (the keys are in the body,
  and ``requests`` re-POSTs a body on 307/308, to any host, https to http too).
- Each request has a total deadline (``deadline.WATCHDOG``), not only per socket operation:
  an answer dripped a byte at a time ends at the deadline like a hang. It covers the
  connection's setup too: the socket is watched from the moment it is connected, through
  a proxy's CONNECT tunnel and the TLS handshake, and the connect timeout is what remains
  of the deadline. Not covered: name resolution (``getaddrinfo`` cannot be interrupted),
  and a host with several addresses gets that connect timeout for each address tried.
- Informational answers (``103 Early Hints``...) are skipped, as ``100 Continue`` is.
- Plain ``http://`` never goes through a proxy (the keys would reach it in clear), nor does
  a loopback endpoint; ``https://`` to another host honours ``HTTPS_PROXY``/``NO_PROXY``
  (the TLS tunnel keeps the keys from the proxy), within the deadline.
- At most ``MAX_ANSWER_BYTES`` of the answer is read (Reconify answers ``{"status": "ok"}``);
  a connection whose answer was not read to its end is closed, never pooled.
"""

from __future__ import annotations

import http.client
import os
import socket
import threading
import time
import zlib
from collections.abc import Mapping
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError
from urllib3.poolmanager import PoolManager
from urllib3.poolmanager import pool_classes_by_scheme as _STOCK_POOLS

from reconify_otel.delivery.deadline import WATCHDOG, Deadline
from reconify_otel.delivery.transport import HttpAnswer, Unreachable
from reconify_otel.endpoint import is_loopback
from reconify_otel.runtime.forksafe import reset_after_fork
from reconify_otel.settings import Settings

MAX_ANSWER_BYTES = 64 * 1024
MAX_INTERIM_ANSWERS = 10  # 1xx answers skipped before the final one; more: a bad answer
_current = threading.local()  # the calling thread's request deadline, for its connection


class _FinalResponse(http.client.HTTPResponse):
    """Skips informational answers (``103 Early Hints``...): ``http.client`` skips only
    ``100 Continue`` and would take any other 1xx for the answer. ``101`` is final."""

    def _read_status(self) -> tuple[str, int, str]:
        for _ in range(MAX_INTERIM_ANSWERS):
            version, status, reason = super()._read_status()  # type: ignore[misc]
            if not 101 < status < 200:
                return version, status, reason
            http.client.parse_headers(self.fp)  # the interim answer's headers, dropped
        raise http.client.BadStatusLine("too many informational answers")


class _WatchedHTTPConnection(HTTPConnection):
    """Hands its socket to the deadline of the request it serves, new or pooled, from
    the moment it is connected: a proxy's tunnel and the TLS handshake are bounded too."""

    response_class = _FinalResponse
    _guard: socket.socket | None = None

    def _new_conn(self) -> socket.socket:
        deadline = _deadline()
        if deadline is not None:  # connect within what remains (per address tried)
            left = deadline.at - time.monotonic()
            if left <= 0:
                raise ConnectTimeoutError(self, "the request's deadline passed")
            timeout = self.timeout
            self.timeout = min(timeout, left) if isinstance(timeout, (int, float)) else left
        sock = super()._new_conn()
        if deadline is not None:
            # The tunnel and TLS handshake run on socket objects that replace this one
            # (wrapping detaches it); a second descriptor of the same connection stays
            # valid, and shutting it down wakes them all.
            self._guard = sock.dup()
            WATCHDOG.watch(deadline, self._guard)
        return sock

    def connect(self) -> None:
        try:
            super().connect()
        finally:
            self._watch()  # the socket the request now uses, if any: the guard is unwatched
            guard, self._guard = self._guard, None
            if guard is not None:
                guard.close()

    def request(self, *args: Any, **kwargs: Any) -> None:
        self._watch()
        super().request(*args, **kwargs)

    def _watch(self) -> None:
        deadline = _deadline()
        if deadline is not None:
            WATCHDOG.watch(deadline, self.sock)


def _deadline() -> Deadline | None:
    deadline: Deadline | None = getattr(_current, "deadline", None)
    return deadline


class _WatchedHTTPSConnection(_WatchedHTTPConnection, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class _WatchedAdapter(HTTPAdapter):
    """Pools whose connections are watched, directly and through an HTTP(S) proxy."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        _watched(self.poolmanager)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        return _watched(super().proxy_manager_for(proxy, **proxy_kwargs))


def _watched(manager: PoolManager) -> PoolManager:
    if manager.pool_classes_by_scheme is _STOCK_POOLS:  # not a SOCKS proxy's own pools
        manager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}
    return manager


class _Session(requests.Session):
    def get_redirect_target(self, resp: requests.Response) -> str | None:
        """None: no redirect is ever followed, nor its answer read whole to look for one
        (``requests`` reads it even with ``allow_redirects=False``, to offer ``next``)."""
        return None


class RequestsTransport:
    """One pooled keep-alive ``requests.Session``; a forked child gets its own."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._session = self._new_session()
        reset_after_fork(self)

    def _new_session(self) -> requests.Session:
        settings = self._settings
        session = _Session()
        adapter = _WatchedAdapter(
            pool_connections=1, pool_maxsize=settings.concurrency, max_retries=0
        )
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        # The environment is read once here, not on every request as ``trust_env`` does
        # (a .netrc lookup and a scan of os.environ per POST cost ~10% of throughput):
        # HTTPS_PROXY / NO_PROXY and REQUESTS_CA_BUNDLE keep working.
        session.trust_env = False
        session.proxies = proxies_for(settings.endpoint)
        session.verify = (  # never off
            settings.ca_bundle
            or os.environ.get("REQUESTS_CA_BUNDLE")
            or os.environ.get("CURL_CA_BUNDLE")
            or True
        )
        session.headers.update(
            {
                "User-Agent": settings.user_agent,
                "Content-Type": "application/json",
                "Accept-Encoding": "identity",  # a compressed answer could be a bomb
            }
        )
        return session

    def _after_fork(self) -> None:
        # The parent's sockets are not the child's; its lock may be held by a dead thread.
        self._lock = threading.Lock()
        self._session = self._new_session()

    def post(self, body: bytes, headers: Mapping[str, str], timeout: float) -> HttpAnswer:
        """One POST that ends within ``timeout`` whatever the endpoint does."""
        deadline = WATCHDOG.arm(timeout)
        _current.deadline = deadline
        try:
            response = self._session.post(
                self._settings.endpoint,
                data=body,
                headers=dict(headers),
                timeout=timeout,
                allow_redirects=False,
                stream=True,
            )
            try:
                text = _read_answer(response)
            finally:
                response.close()  # pooled when read to its end, else closed
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as error:
            name = "Timeout" if deadline.fired else type(error).__name__
            raise Unreachable(name) from None
        finally:
            _current.deadline = None
            WATCHDOG.disarm(deadline)
        return HttpAnswer(response.status_code, response.headers, text)

    def close(self) -> None:
        with self._lock:
            self._session.close()


def proxies_for(endpoint: str) -> dict[str, str]:
    """The environment's proxies for ``endpoint``, except where the keys would reach the
    proxy in clear or needlessly: none for plain ``http://`` (loopback, or another host with
    ``allow_insecure``: the keys go to that host only) nor for a loopback endpoint."""
    parts = urllib3.util.parse_url(endpoint)
    if parts.scheme != "https" or is_loopback((parts.host or "").strip("[]")):
        return {}
    proxies: dict[str, str] = requests.utils.get_environ_proxies(endpoint)
    return proxies


def _read_answer(response: requests.Response) -> str:
    """The answer's text, from at most ``MAX_ANSWER_BYTES``; "" when it is longer, or
    compressed in a way Reconify's is not (neither is Reconify's answer)."""
    raw = response.raw
    data = b""
    while len(data) <= MAX_ANSWER_BYTES:
        chunk = raw.read(MAX_ANSWER_BYTES + 1 - len(data), decode_content=False)
        if not chunk:
            break
        data += chunk
    if len(data) > MAX_ANSWER_BYTES:
        return ""
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding in ("gzip", "x-gzip", "deflate"):
        try:  # bounded: a small bomb does not become a large answer
            data = zlib.decompressobj(47).decompress(data, MAX_ANSWER_BYTES + 1)
        except zlib.error:
            return ""
    elif encoding not in ("", "identity"):
        return ""
    return data.decode("utf-8", "replace")
