"""Read VCR.py cassettes (YAML) into plain request/answer pairs for replay.

PyYAML comes with the ``demo`` extra, so it is imported when a cassette is first read,
not when this module is imported.
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Interaction:
    """One recorded exchange: what was asked (method, path, query) and the decoded answer."""

    method: str
    path: str
    query: dict[str, str]
    status: int
    body: bytes
    content_type: str
    request_body: str
    # Every recorded answer header, in order: ``(name, value)`` as recorded.
    headers: tuple[tuple[str, str], ...] = ()


def _header(headers: Any, name: str) -> str:
    """First value of a header in VCR's ``{Name: [values]}`` layout, case-insensitively."""
    if not isinstance(headers, dict):
        return ""
    for key, value in headers.items():
        if str(key).lower() == name.lower():
            if isinstance(value, list):
                return str(value[0]) if value else ""
            return str(value)
    return ""


def _header_pairs(headers: Any) -> tuple[tuple[str, str], ...]:
    """VCR's ``{Name: [values]}`` as ``(name, value)`` pairs; binary values as Latin-1."""
    if not isinstance(headers, dict):
        return ()
    pairs: list[tuple[str, str]] = []
    for key, values in headers.items():
        for value in values if isinstance(values, list) else [values]:
            text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
            pairs.append((str(key), text))
    return tuple(pairs)


def _decode(raw: Any, encoding: str) -> bytes:
    """Body bytes without ``Content-Encoding``: the replay server answers uncompressed."""
    if raw is None:
        return b""
    data = raw if isinstance(raw, bytes) else str(raw).encode("utf-8")
    encoding = encoding.lower()
    if encoding == "gzip" or data[:2] == b"\x1f\x8b":
        return gzip.decompress(data)
    if encoding == "deflate":
        return zlib.decompress(data)
    return data


def load_cassette(path: str | Path) -> list[Interaction]:
    """Parse a VCR.py cassette into interactions, in recorded order."""
    import yaml  # the demo extra's: imported lazily on purpose

    with open(path, encoding="utf-8") as fh:
        document = yaml.safe_load(fh)
    result: list[Interaction] = []
    for item in (document or {}).get("interactions") or []:
        request = item["request"]
        response = item["response"]
        url = urlsplit(str(request["uri"]))
        query = {key: values[-1] for key, values in parse_qs(url.query).items()}
        body_field = response.get("body") or {}
        raw = body_field.get("string") if isinstance(body_field, dict) else body_field
        headers = response.get("headers") or {}
        status = response.get("status") or {}
        request_body = request.get("body")
        if isinstance(request_body, bytes):
            request_body = request_body.decode("utf-8", "replace")
        result.append(
            Interaction(
                method=str(request["method"]).upper(),
                path=url.path,
                query=query,
                status=int(status.get("code", 200)) if isinstance(status, dict) else int(status),
                body=_decode(raw, _header(headers, "Content-Encoding")),
                content_type=_header(headers, "Content-Type") or "application/json",
                request_body=str(request_body or ""),
                headers=_header_pairs(headers),
            )
        )
    return result
