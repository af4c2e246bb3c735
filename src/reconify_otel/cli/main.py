"""The ``reconify-otel`` command: ``demo`` (offline, no keys), ``version`` and ``bridge``."""

from __future__ import annotations

import argparse
import sys

from reconify_otel.version import __version__


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="reconify-otel",
        description="Send OpenAI Assistants conversations traced with OpenTelemetry to Reconify.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "demo", help="run the whole pipeline offline on loopback stand-ins (no keys, no network)"
    )
    commands.add_parser("version", help="print the version")
    bridge = commands.add_parser(
        "bridge",
        help="receive OTLP/HTTP traces (e.g. from a Collector) and send assistant runs to Reconify",
        description="Reconify keys come from RECONIFY_APP_KEY and RECONIFY_API_KEY; limits "
        "from RECONIFY_BRIDGE_* (see docs/collector.md).",
    )
    bridge.add_argument("--host", default="127.0.0.1", help="address to listen on")
    bridge.add_argument("--port", type=int, default=4318, help="port to listen on")
    bridge.add_argument(
        "--token",
        help="bearer token clients must send; required beyond loopback. Prefer the "
        "RECONIFY_BRIDGE_TOKEN environment variable: a command line is visible to ps",
    )
    bridge.add_argument("--log-level", default="info", help="uvicorn log level")
    args = parser.parse_args(argv)

    if args.command == "bridge":
        from reconify_otel.bridge import serve

        try:
            serve(args.host, args.port, token=args.token, log_level=args.log_level)
        except ValueError as error:
            print(f"reconify-otel bridge: {error}", file=sys.stderr)
            return 2
        return 0

    if args.command == "demo":
        from reconify_otel.cli.demo import run_demo

        return run_demo()
    print(__version__)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
