"""argparse types for the command's numbers: a value out of range is a usage error (the
``error:`` line and exit status 2), never a traceback from deep in the socket layer."""

from __future__ import annotations

import argparse
import math

MAX_PORT = 65535


def port(text: str) -> int:
    """A TCP port, 0 to 65535 (0 picks a free one)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= MAX_PORT:
        raise argparse.ArgumentTypeError(f"port {value} is outside 0-{MAX_PORT}")
    return value


def milliseconds(text: str) -> float:
    """A delay: a finite number from 0 to one hour."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and 0 <= value <= 3_600_000):
        raise argparse.ArgumentTypeError(f"{text!r} is outside 0-3600000 ms")
    return value
