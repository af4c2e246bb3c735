"""The default ``HttpTransport``: one pooled keep-alive ``requests.Session``."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping

import requests

from reconify_otel.delivery.transport import HttpAnswer, Unreachable
from reconify_otel.runtime.forksafe import reset_after_fork
from reconify_otel.settings import Settings


class RequestsTransport:
    """One pooled keep-alive ``requests.Session``; a forked child gets its own."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._session = self._new_session()
        reset_after_fork(self)

    def _new_session(self) -> requests.Session:
        settings = self._settings
        session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(
            pool_connections=1, pool_maxsize=settings.concurrency, max_retries=0
        )
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        # The environment is read once here, not on every request as ``trust_env`` does
        # (a .netrc lookup and a scan of os.environ per POST cost ~10% of throughput):
        # HTTPS_PROXY / NO_PROXY and REQUESTS_CA_BUNDLE keep working.
        session.trust_env = False
        session.proxies = requests.utils.get_environ_proxies(settings.endpoint)
        session.verify = (  # never off
            settings.ca_bundle
            or os.environ.get("REQUESTS_CA_BUNDLE")
            or os.environ.get("CURL_CA_BUNDLE")
            or True
        )
        session.headers.update(
            {"User-Agent": settings.user_agent, "Content-Type": "application/json"}
        )
        return session

    def _after_fork(self) -> None:
        # The parent's sockets are not the child's; its lock may be held by a dead thread.
        self._lock = threading.Lock()
        self._session = self._new_session()

    def post(self, body: bytes, headers: Mapping[str, str], timeout: float) -> HttpAnswer:
        try:
            response = self._session.post(
                self._settings.endpoint, data=body, headers=dict(headers), timeout=timeout
            )
        except requests.RequestException as error:
            raise Unreachable(type(error).__name__) from None
        return HttpAnswer(response.status_code, response.headers, response.text)

    def close(self) -> None:
        with self._lock:
            self._session.close()
