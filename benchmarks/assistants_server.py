"""The loopback ``SimulatedAssistantsAPI`` in its own process, for benchmark 3.

``python -m benchmarks.assistants_server`` prints ``listening <port>`` and serves
until SIGTERM, so the stand-in's threads do not compete with the measured client.
"""

from __future__ import annotations

import signal
import sys
from types import FrameType

from reconify_otel_testing.assistants_api import SimulatedAssistantsAPI


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main() -> int:
    signal.signal(signal.SIGTERM, _interrupt)
    api = SimulatedAssistantsAPI()
    print(f"listening {api.port}", flush=True)
    api.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
