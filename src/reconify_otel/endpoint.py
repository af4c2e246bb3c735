"""Where the keys may go: the endpoint's URL read the way the transport will use it, plain
HTTP only to this machine (``is_loopback``) or when asked for."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


def check_endpoint(endpoint: str, allow_insecure: bool) -> None:
    """Keys travel in the body: plain HTTP only to this machine, or when asked for.

    The host checked is the one urllib3 (under ``requests``) connects to, and another URL
    parser must see the same one: ``http://evil.invalid\\@127.0.0.1/`` reads as loopback to
    ``urlsplit`` but goes to ``evil.invalid``. The value is never echoed: a key passed in the
    wrong place must not reach a log.
    """
    from urllib3.util import parse_url

    malformed = ValueError(
        "endpoint (or RECONIFY_ENDPOINT) must be an http:// or https:// URL with a host "
        "and, if it names a port, a port from 1 to 65535"
    )
    try:
        used = parse_url(endpoint)  # LocationParseError is a ValueError
        seen = urlsplit(endpoint)
        seen_port = seen.port
    except ValueError:
        raise malformed from None
    host = (used.host or "").strip("[]").lower()
    # requests drops ":0" and would quietly use the scheme's default port.
    if used.scheme not in ("http", "https") or not host or used.port == 0:
        raise malformed
    if _ascii_host(seen.hostname or "") != host or seen_port != used.port:
        raise ValueError(
            "endpoint (or RECONIFY_ENDPOINT) is ambiguous: URL parsers disagree on its host "
            "or port (a backslash or an '@' in the address?); write the plain URL"
        )
    if used.scheme == "http" and not allow_insecure and not is_loopback(host):
        raise ValueError(
            f"endpoint host {host!r} is reached over plain http; the Reconify keys "
            "would travel in clear. Use https, or set allow_insecure "
            "(RECONIFY_ALLOW_INSECURE=1) deliberately."
        )


def _ascii_host(hostname: str) -> str:
    """``urlsplit``'s host in the ASCII form urllib3 gives (IDNA for non-ASCII names)."""
    if hostname.isascii():
        return hostname
    try:
        return hostname.encode("idna").decode("ascii")
    except UnicodeError:
        return hostname


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
