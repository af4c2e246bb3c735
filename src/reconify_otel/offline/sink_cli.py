"""The sink as a command, for two audiences.

* ``python -m reconify_otel.offline.sink`` (benchmarks): quiet, first line
  ``listening <port>``, payloads counted but not kept, so a long run stays flat.
* ``reconify-otel sink`` (``--show``): a new user's offline Reconify. It prints the
  endpoint to use, then each payload it receives, pretty-printed with the keys masked.

SIGTERM and Ctrl-C stop it with exit status 0.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from types import FrameType
from typing import Any

from reconify_otel.cli import arguments
from reconify_otel.offline.sink import Received, ReconifySink

MASK = "***"


class ShowingSink(ReconifySink):
    """Prints every accepted payload as it arrives (keys masked), one block at a time."""

    def __init__(self, port: int = 0, *, hold_ms: float = 0.0) -> None:
        super().__init__(port, hold_ms=hold_ms, keep_payloads=False)
        self._print_lock = threading.Lock()

    def _record(self, received: Received) -> None:
        super()._record(received)
        shown = json.dumps(masked(received.payload), indent=2, sort_keys=True, default=repr)
        with self._print_lock:
            print(f"--- payload {self.accepted} ({received.path}) ---\n{shown}", flush=True)


def masked(payload: dict[str, Any]) -> dict[str, Any]:
    """Any JSON object the sink accepted, ``reconify.appKey``/``apiKey`` masked; unlike
    ``core.encoding.masked`` (for payloads we built) it takes objects of any shape."""
    reconify = payload.get("reconify")
    if not isinstance(reconify, dict):
        return payload
    hidden = {name: MASK for name in ("appKey", "apiKey") if name in reconify}
    return {**payload, "reconify": {**reconify, **hidden}}


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Serve a sink until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(
        prog="python -m reconify_otel.offline.sink",
        description="A Reconify-compatible endpoint on 127.0.0.1 that answers "
        '{"status": "ok"} to every POST.',
    )
    parser.add_argument("--port", type=arguments.port, default=0, help="0 picks a free port")
    parser.add_argument(
        "--hold-ms", type=arguments.milliseconds, default=0.0, help="delay per accepted answer"
    )
    parser.add_argument(
        "--show", action="store_true", help="print the endpoint, then each payload, keys masked"
    )
    args = parser.parse_args(argv)
    return serve(args.port, hold_ms=args.hold_ms, show=args.show, prog=parser.prog)


def serve(port: int, *, hold_ms: float = 0.0, show: bool = False, prog: str = "sink") -> int:
    """Serve until SIGTERM/SIGINT (exit status 0); 1 when the port cannot be had."""
    try:
        sink = (
            ShowingSink(port, hold_ms=hold_ms)
            if show
            else ReconifySink(port, hold_ms=hold_ms, keep_payloads=False)
        )
    except OSError as error:  # in use, or a privileged port
        print(
            f"{prog}: error: cannot listen on 127.0.0.1:{port}: {error.strerror}", file=sys.stderr
        )
        return 1
    signal.signal(signal.SIGTERM, _raise_interrupt)
    if show:
        endpoint = f"{sink.url}/track"
        print(f"Reconify sink listening on {endpoint}", flush=True)
        # Both key variables must be set on the sending side; any values do here.
        print(
            f"  export RECONIFY_ENDPOINT={endpoint} RECONIFY_APP_KEY=any RECONIFY_API_KEY=any"
            "   (Ctrl-C stops the sink)",
            flush=True,
        )
    else:
        print(f"listening {sink.port}", flush=True)
    sink.serve_forever()
    return 0
