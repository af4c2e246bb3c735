"""The sink as a command, for two audiences.

* ``python -m reconify_otel_testing.sink`` (benchmarks): quiet, first line
  ``listening <port>``, payloads counted but not kept, so a long run stays flat.
* ``reconify-otel sink`` (``--show``): a new user's offline Reconify. It prints the
  endpoint to use, then each payload it receives, pretty-printed with the keys masked.

SIGTERM and Ctrl-C stop it with exit status 0.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from types import FrameType
from typing import Any

from reconify_otel_testing.sink import Received, ReconifySink

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
    """The payload with ``reconify.appKey``/``apiKey`` masked (this distribution does not
    import reconify_otel, whose debug output masks the same way)."""
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
        prog="python -m reconify_otel_testing.sink",
        description="A Reconify-compatible endpoint on 127.0.0.1 that answers "
        '{"status": "ok"} to every POST.',
    )
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--hold-ms", type=float, default=0.0, help="delay per accepted answer")
    parser.add_argument(
        "--show", action="store_true", help="print the endpoint, then each payload, keys masked"
    )
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    if args.show:
        sink: ReconifySink = ShowingSink(args.port, hold_ms=args.hold_ms)
        print(f"Reconify sink listening on {sink.url}/track", flush=True)
        print(
            f"  export RECONIFY_ENDPOINT={sink.url}/track   (any keys work; Ctrl-C stops it)",
            flush=True,
        )
    else:
        sink = ReconifySink(args.port, hold_ms=args.hold_ms, keep_payloads=False)
        print(f"listening {sink.port}", flush=True)
    sink.serve_forever()
    return 0
