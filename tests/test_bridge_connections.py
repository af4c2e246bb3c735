"""Connections that never send a request: closed in time, capped, and never a crash.

Found by an adversarial run: 300 idle and 300 slow-header connections stayed open for
ever, and under ``ulimit -n 256`` the bridge stopped answering ``/healthz`` and wrote
80 MB of "Too many open files" in 15 s. None of this needs a token, so none is used:
the bridge runs as users run it, ``reconify-otel bridge`` in its own process.
"""

from __future__ import annotations

import re
import select
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

import pytest

from reconify_otel.offline.sink import ReconifySink

from .bridge_process import BridgeProcess, bridge_process

# Only evictions may close connections in the exact counts below, however slow the machine.
SLOW_MACHINE = {"RECONIFY_BRIDGE_HEADER_TIMEOUT": "60"}


@contextmanager
def idle_connections(bridge: BridgeProcess, count: int) -> Iterator[list[socket.socket]]:
    with ExitStack() as stack:
        conns = []
        for _ in range(count):
            conn = stack.enter_context(socket.create_connection(bridge.address, timeout=30))
            conns.append(conn)
        yield conns


def read_to_close(conn: socket.socket) -> bytes:
    """What the bridge sent until it closed ``conn`` (the socket's timeout ends a test
    whose bridge never does)."""
    received = b""
    try:
        while chunk := conn.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return received


def closed_by_peer(conn: socket.socket) -> bool:
    return read_to_close(conn) == b""


def trickle(conns: list[socket.socket], stop: threading.Event) -> None:
    """A slow-loris head: a byte every 0.2 s, so no single read ever waits long."""
    while not stop.wait(0.2):
        for conn in conns:
            with suppress(OSError):  # closed by the bridge: the point of the test
                conn.send(b"X")


def test_idle_and_slow_header_connections_are_closed(tmp_path: Path, sink: ReconifySink) -> None:
    env = {"RECONIFY_BRIDGE_HEADER_TIMEOUT": "1", "RECONIFY_BRIDGE_IDLE_TIMEOUT": "1"}
    with bridge_process(tmp_path, sink.url, env) as bridge:
        with idle_connections(bridge, 30) as idle, idle_connections(bridge, 30) as slow:
            for conn in slow:
                conn.sendall(b"POST /v1/traces HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
            stop = threading.Event()
            trickler = threading.Thread(target=trickle, args=(slow, stop))
            trickler.start()
            try:
                assert all(closed_by_peer(conn) for conn in idle + slow)
            finally:
                stop.set()
                trickler.join()
        # A kept-alive connection that sends nothing more is closed after idle_timeout.
        with socket.create_connection(bridge.address, timeout=30) as kept:
            kept.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            assert read_to_close(kept).startswith(b"HTTP/1.1 200")
        health = bridge.health()
    assert health["header_timeouts"] == 60
    assert health["idle_timeouts"] == 1
    assert "connections_evicted" not in health


def test_at_the_cap_the_longest_idle_connection_makes_room(
    tmp_path: Path, sink: ReconifySink
) -> None:
    env = {"RECONIFY_BRIDGE_MAX_CONNECTIONS": "50", **SLOW_MACHINE}
    with bridge_process(tmp_path, sink.url, env) as bridge, idle_connections(bridge, 80) as conns:
        health = bridge.health()  # connection 81: accepted after the 80 before it
        assert health["connections_evicted"] == 31
        closed: list[int] = []
        deadline = time.monotonic() + 10  # long before the 60 s header timeout
        while len(closed) < 31 and time.monotonic() < deadline:
            open_ = [conn for i, conn in enumerate(conns) if i not in closed]
            readable, _, _ = select.select(open_, [], [], 0.1)
            closed += [conns.index(conn) for conn in readable if closed_by_peer(conn)]
        assert sorted(closed) == list(range(31))  # the oldest went first


@pytest.mark.slow  # a bridge process run out of descriptors (.ci/run runs it)
def test_at_the_open_file_limit_the_bridge_still_answers(
    tmp_path: Path, sink: ReconifySink
) -> None:
    with bridge_process(tmp_path, sink.url, SLOW_MACHINE, nofile=256) as bridge:
        with idle_connections(bridge, 300):
            health = bridge.health()
        log = bridge.log()
    lowered = re.findall(r"serving at most (\d+) connections \(not 512\)", log)
    assert len(lowered) == 1, log
    assert health["connections_evicted"] == 301 - int(lowered[0])
    assert "Too many open files" not in log
    assert "accept_errors" not in health


# Something else in the process takes the descriptors after the bridge sized its table:
# accept() then fails with EMFILE. asyncio logged a traceback per attempt (thousands a
# second); now it is one line a minute, and idle connections are closed to make room.
HOARD = """
import os, resource
import reconify_otel.bridge.connections as connections
sized = connections.fitting_limit
hoard = []
def sized_then_taken(wanted, concurrency):
    limit = sized(wanted, concurrency)
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    while len(os.listdir("/proc/self/fd")) < soft - 12:
        hoard.append(open(os.devnull))
    return limit
connections.fitting_limit = sized_then_taken
"""


@pytest.mark.slow  # a bridge process run out of descriptors (.ci/run runs it)
def test_out_of_descriptors_one_log_line_and_it_recovers(
    tmp_path: Path, sink: ReconifySink
) -> None:
    with bridge_process(tmp_path, sink.url, nofile=128, prelude=HOARD) as bridge:
        with idle_connections(bridge, 40):
            health = bridge.health()
        log = bridge.log()
    assert health["accept_errors"] >= 1
    assert log.count("cannot accept connections") == 1, log[-3000:]
    assert "Traceback" not in log
    assert len(log) < 2000
