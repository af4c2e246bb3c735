"""The ``reconify-otel`` command: ``demo`` and ``sink`` (offline, no keys), ``version`` and
``bridge``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from reconify_otel.cli import spool_command
from reconify_otel.version import __version__


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="reconify-otel",
        description="Send OpenAI Assistants conversations traced with OpenTelemetry to Reconify.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    demo_help = "run the whole pipeline offline on loopback stand-ins (no keys, no network)"
    commands.add_parser(
        "demo",
        help=demo_help,
        description="Runs two Assistants conversations with the real openai SDK against an "
        "embedded Assistants API stand-in, traces them with OpenTelemetry, exports them with "
        "ReconifySpanExporter to an embedded Reconify-compatible sink, and prints what the "
        "sink received (keys masked). Exit status 0 when every run arrived as one payload.",
    )
    sink = commands.add_parser(
        "sink",
        help="an offline Reconify endpoint on 127.0.0.1 that prints what it receives",
        description="Answers like Reconify and prints each payload, keys masked; point "
        "RECONIFY_ENDPOINT at the URL it prints. Ctrl-C stops it.",
    )
    sink.add_argument("--port", type=int, default=0, help="port on 127.0.0.1; 0 picks a free one")
    commands.add_parser("version", help="print the version")
    bridge = commands.add_parser(
        "bridge",
        help="receive OTLP/HTTP traces (e.g. from a Collector) and send LLM calls to Reconify",
        description="Reconify keys come from RECONIFY_APP_KEY and RECONIFY_API_KEY; limits "
        "from RECONIFY_BRIDGE_* (see docs/collector.md).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    bridge.add_argument("--host", default="127.0.0.1", help="address to listen on")
    bridge.add_argument("--port", type=int, default=4318, help="port; 0 picks a free one")
    bridge.add_argument(
        "--token",
        help="bearer token clients must send; required beyond loopback. Prefer the "
        "RECONIFY_BRIDGE_TOKEN environment variable: a command line is visible to ps",
    )
    bridge.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
        help="uvicorn log level",
    )
    spool_command.add_parser(commands)
    args = parser.parse_args(argv)

    if args.command == "bridge":
        serve = _bridge_server()
        if serve is None:
            return 2
        try:
            serve(args.host, args.port, token=args.token, log_level=args.log_level)
        except ValueError as error:
            print(f"reconify-otel bridge: {error}", file=sys.stderr)
            return 2
        return 0

    if args.command == "sink":
        return run_sink(args.port)

    if args.command == "spool":
        return spool_command.run(args)

    if args.command == "demo":
        from reconify_otel.cli.demo import run_demo

        return run_demo()
    print(__version__)
    return 0


def _bridge_server() -> Callable[..., None] | None:
    """``bridge.serve``, or None (and the install command on stderr) without the extra."""
    try:
        import uvicorn  # noqa: F401  # imported by serve(); checked before it binds

        from reconify_otel.bridge import serve
    except ModuleNotFoundError as error:
        if (error.name or "").partition(".")[0] not in ("uvicorn", "h11", "google") and not (
            error.name or ""
        ).startswith("opentelemetry.proto"):
            raise
        print(
            f"reconify-otel bridge needs {error.name}, which comes with the bridge extra: "
            "pip install 'reconify-otel[bridge]'",
            file=sys.stderr,
        )
        return None
    return serve


def run_sink(port: int) -> int:
    """The stand-in lives in the test doubles' distribution, which users may not have."""
    try:
        from reconify_otel_testing.sink import main as serve_sink
    except ImportError:
        print(
            "reconify-otel sink: the offline stand-ins are not installed; from a clone of "
            "reconify-otel: pip install -e '.[demo]'",
            file=sys.stderr,
        )
        return 2
    return serve_sink(["--port", str(port), "--show"])


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
