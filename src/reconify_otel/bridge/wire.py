"""OTLP/HTTP on the wire: request framing, bodies in (content type, compression, size
caps), answers out.

Pure functions on bytes; bodies are decoded in a worker thread, so a large batch never
stalls the event loop that keeps accepting requests.
"""

from __future__ import annotations

import base64
import json
import re
import zlib
from collections.abc import Callable, Iterable
from typing import Any, Final, TypeVar

# No stubs for protobuf's runtime in the test extra (types-protobuf would add them).
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from google.rpc import code_pb2
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

PROTOBUF: Final = "application/x-protobuf"
JSON: Final = "application/json"
CONTENT_TYPES: Final = (PROTOBUF, JSON)
ENCODINGS: Final = ("", "identity", "gzip", "deflate")
# gzip members in one body: a Collector sends one; thousands are only an attack on CPU.
MAX_MEMBERS: Final = 64
_CHUNK: Final = 64 * 1024
PROTOBUF_PARSE_FACTOR: Final = 10
JSON_PARSE_FACTOR: Final = 30

# google.rpc.Code for each error status: the OTLP spec asks for a google.rpc.Status body.
_RPC_CODES: Final = {
    400: code_pb2.INVALID_ARGUMENT,
    401: code_pb2.UNAUTHENTICATED,
    403: code_pb2.PERMISSION_DENIED,
    404: code_pb2.NOT_FOUND,
    405: code_pb2.UNIMPLEMENTED,
    408: code_pb2.DEADLINE_EXCEEDED,
    413: code_pb2.RESOURCE_EXHAUSTED,
    415: code_pb2.INVALID_ARGUMENT,
    429: code_pb2.RESOURCE_EXHAUSTED,
    503: code_pb2.UNAVAILABLE,
}

Request = TypeVar("Request", bound=Message)


class BadRequest(ValueError):
    """The body is not OTLP (400)."""


class TooLarge(ValueError):
    """The body, once decompressed, is over the cap (413)."""


def media_type(header: str) -> str:
    """``application/json; charset=utf-8`` -> ``application/json``."""
    return header.partition(";")[0].strip().lower()


def decode(
    body: bytes | bytearray,
    content_type: str,
    encoding: str,
    limit: int,
    reserve: Callable[[int], object] = lambda size: None,
) -> ExportTraceServiceRequest:
    """A request body to an ``ExportTraceServiceRequest``; ``BadRequest`` or ``TooLarge``.

    ``reserve(n)`` is told of every byte held beyond ``body`` before it is held: the
    decompressed bytes as they come, then what parsing will take (``parse_cost``). It
    may raise to stop the work there; that exception is not caught here.
    """
    return decode_into(ExportTraceServiceRequest(), body, content_type, encoding, limit, reserve)


def decode_into(
    request: Request,
    body: bytes | bytearray,
    content_type: str,
    encoding: str,
    limit: int,
    reserve: Callable[[int], object] = lambda size: None,
) -> Request:
    """``decode`` for any OTLP export request (traces, logs): ``request``, filled."""
    data: bytes | bytearray = body
    if encoding == "gzip":
        data = _inflate(body, 16 + zlib.MAX_WBITS, limit, reserve)
    elif encoding == "deflate":
        # HTTP's "deflate" is the zlib format; some clients send raw deflate instead.
        wbits = zlib.MAX_WBITS if _zlib_header(body) else -zlib.MAX_WBITS
        data = _inflate(body, wbits, limit, reserve)
    elif len(body) > limit:
        raise TooLarge(f"body over {limit} bytes")
    reserve(parse_cost(len(data), content_type))
    try:
        if content_type == JSON:
            json_format.ParseDict(
                _ids_to_base64(json.loads(data)), request, ignore_unknown_fields=True
            )
        else:
            request.ParseFromString(data)  # type: ignore[arg-type]  # any buffer will do
    except (DecodeError, json_format.ParseError, ValueError, TypeError, RecursionError) as error:
        kind = type(request).__name__
        raise BadRequest(f"body is not an OTLP {content_type} {kind}") from error
    return request


def parse_cost(size: int, content_type: str) -> int:
    """Bytes that parsing ``size`` bytes may take: Python objects are larger than their
    encoding (measured for OTLP: protobuf up to ~10x, JSON up to ~30x with its dicts)."""
    return size * (JSON_PARSE_FACTOR if content_type == JSON else PROTOBUF_PARSE_FACTOR)


def _zlib_header(body: bytes | bytearray) -> bool:
    """RFC 1950's two-byte header: deflate method, and a check that makes it a multiple of 31."""
    return len(body) >= 2 and body[0] & 0x0F == 8 and (body[0] << 8 | body[1]) % 31 == 0


def _inflate(
    data: bytes | bytearray, wbits: int, limit: int, reserve: Callable[[int], object]
) -> bytearray:
    """Decompress every member, stopping one byte past ``limit``: a bomb costs ``limit``.

    Input goes in ``_CHUNK`` pieces, so what is left after a member ends (zlib copies it)
    is at most a piece, and members are capped: the work is linear in the input. Before,
    a body of many empty members was copied whole once per member (16 s for 4 MiB).
    """
    out = bytearray()
    view = memoryview(data)
    offset = 0
    members = 0
    leftover = b""
    inflater: Any = None
    try:
        while leftover or offset < len(view):
            if leftover:
                piece: bytes | memoryview = leftover
            else:
                piece = view[offset : offset + _CHUNK]
                offset += len(piece)
            if inflater is None:
                members += 1
                if members > MAX_MEMBERS:
                    raise BadRequest(f"compressed body has more than {MAX_MEMBERS} members")
                inflater = zlib.decompressobj(wbits)
            produced = inflater.decompress(piece, limit + 1 - len(out))
            reserve(len(produced))
            out += produced
            if len(out) > limit:
                raise TooLarge(f"decompressed body over {limit} bytes")
            leftover = b""
            if inflater.eof:
                leftover, inflater = inflater.unused_data, None
    except zlib.error as error:
        raise BadRequest("body is not validly compressed") from error
    if inflater is not None:
        raise BadRequest("compressed body is truncated")
    return out


def _ids_to_base64(document: Any) -> Any:
    """OTLP JSON writes trace and span ids as hex; protobuf's JSON mapping reads bytes
    as base64. Rewrite them in place so ``json_format`` reads the right bytes: of spans
    and their links (traces), and of log records (logs)."""
    if not isinstance(document, dict):
        raise BadRequest("OTLP JSON must be an object")
    for resource_spans in _items(document, "resourceSpans", "resource_spans"):
        for scope_spans in _items(resource_spans, "scopeSpans", "scope_spans"):
            for span in _items(scope_spans, "spans"):
                _rewrite_ids(span, _IDS)
                _rewrite_ids(span, ("parentSpanId", "parent_span_id"))
                for link in _items(span, "links"):
                    _rewrite_ids(link, _IDS)
    for resource_logs in _items(document, "resourceLogs", "resource_logs"):
        for scope_logs in _items(resource_logs, "scopeLogs", "scope_logs"):
            for record in _items(scope_logs, "logRecords", "log_records"):
                _rewrite_ids(record, _IDS)
    return document


_IDS: Final = ("traceId", "trace_id", "spanId", "span_id")


def _items(parent: Any, *names: str) -> list[Any]:
    for name in names:
        value = parent.get(name) if isinstance(parent, dict) else None
        if isinstance(value, list):
            return value
    return []


def _rewrite_ids(holder: Any, names: tuple[str, ...]) -> None:
    if not isinstance(holder, dict):
        raise BadRequest("OTLP JSON spans, links and log records must be objects")
    for name in names:
        value = holder.get(name)
        if isinstance(value, str) and value:
            try:
                holder[name] = base64.b64encode(bytes.fromhex(value)).decode()
            except ValueError as error:
                raise BadRequest(f"{name} is not hex") from error


def answer_type(content_type: str) -> str:
    """Answers are JSON for a JSON request, protobuf otherwise."""
    return JSON if content_type == JSON else PROTOBUF


def encode_response(content_type: str, rejected: int = 0, message: str = "") -> tuple[bytes, str]:
    """An ``ExportTraceServiceResponse`` in the request's encoding; partial success
    is set only when something was rejected, as the spec asks."""
    response = ExportTraceServiceResponse()
    if rejected or message:
        response.partial_success.rejected_spans = rejected
        response.partial_success.error_message = message
    return encode_message(content_type, response)


def encode_message(content_type: str, message: Message) -> tuple[bytes, str]:
    """Any answer (a response, a status) in the request's encoding."""
    if content_type == JSON:
        return _json(json_format.MessageToDict(message)), JSON
    return message.SerializeToString(), PROTOBUF


def encode_error(content_type: str, status: int, message: str) -> tuple[bytes, str]:
    """A ``google.rpc.Status`` for a 4xx/5xx answer, which the Collector logs."""
    error = Status(code=_RPC_CODES.get(status, code_pb2.UNKNOWN), message=message)
    return encode_message(content_type, error)


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


# --- request framing ----------------------------------------------------------------------
# A proxy in front of the bridge and the bridge must agree where each request ends, or a
# body becomes a second, unseen request (smuggling). Only the unambiguous forms pass.

HEAD_END: Final = re.compile(rb"\n\r?\n")  # where h11 ends a request head


def head_error(head: bytes) -> str | None:
    """Why a raw request head (through its blank line) is refused, or ``None``: bare CR
    or LF line ends, obs-folded (continued) header lines, and ``framing_error``."""
    if head.count(b"\n") != head.count(b"\r\n") or head.count(b"\r") != head.count(b"\r\n"):
        return "header lines must end with CRLF"
    fields = []
    for line in head.split(b"\r\n")[1:]:
        if line[:1] in (b" ", b"\t"):
            return "obs-folded (continued) header line"
        name, _, value = line.partition(b":")
        fields.append((name.strip().lower(), value))
    return framing_error(fields)


def framing_error(fields: Iterable[tuple[bytes, bytes]]) -> str | None:
    """Why these (lower-case name, value) headers frame a body ambiguously, or ``None``:
    at most one of Content-Length (ASCII digits) or Transfer-Encoding (``chunked``)."""
    lengths, codings = [], []
    for name, value in fields:
        if name == b"content-length":
            lengths.append(value.strip(b" \t"))
        elif name == b"transfer-encoding":
            codings.append(value.strip(b" \t").lower())
    if lengths and codings:
        return "both Content-Length and Transfer-Encoding"
    if len(lengths) > 1 or len(codings) > 1:
        return "repeated Content-Length or Transfer-Encoding"
    if codings and codings[0] != b"chunked":
        return "Transfer-Encoding other than chunked"
    if lengths and not lengths[0].isdigit():  # bytes: ASCII digits only
        return "Content-Length is not a number"
    return None
