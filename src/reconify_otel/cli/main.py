"""The ``reconify-otel`` command: ``demo`` and ``sink`` (offline, no keys), ``bridge``,
``spool`` and ``version``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from reconify_otel.cli import arguments, spool_command
from reconify_otel.version import __version__

DESCRIPTION = (
    "Send LLM conversations traced with OpenTelemetry (OpenAI chat completions, legacy "
    "completions and the Responses API, Anthropic messages, OpenAI Assistants runs) to "
    "Reconify. In Python, add reconify_otel.ReconifySpanExporter to your tracer provider; "
    "this command runs the offline demo and sink, the OTLP bridge for a Collector, and "
    "manages the local spool."
)
DEMO_DESCRIPTION = (
    "Replays recorded OpenAI traffic to the real openai SDK on loopback: two Assistants runs "
    "(Reconify's polling and streaming flows), a chat completion and a Responses API call. "
    "OpenTelemetry traces them (AssistantsInstrumentor and opentelemetry-instrumentation-"
    "openai), ReconifySpanExporter sends the four payloads to an embedded Reconify-compatible "
    "sink, and the demo prints what the sink received (keys masked). No keys, no network. "
    "Exit status 0 when every call arrived as one payload. Needs the demo extra: "
    "pip install 'reconify-otel[demo]'."
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="reconify-otel", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "demo",
        help="send four recorded LLM calls through the whole pipeline, offline (no keys)",
        description=DEMO_DESCRIPTION,
    )
    sink = commands.add_parser(
        "sink",
        help="an offline Reconify endpoint on 127.0.0.1 that prints what it receives",
        description="Answers like Reconify and prints each payload, keys masked; point "
        "RECONIFY_ENDPOINT at the URL it prints (RECONIFY_APP_KEY and RECONIFY_API_KEY "
        "must still be set; any values work). Ctrl-C stops it.",
    )
    sink.add_argument(
        "--port", type=arguments.port, default=0, help="port on 127.0.0.1; 0 picks a free one"
    )
    commands.add_parser("version", help="print the version")
    bridge = commands.add_parser(
        "bridge",
        help="receive OTLP/HTTP traces (e.g. from a Collector) and send LLM calls to Reconify",
        description="Reconify keys come from RECONIFY_APP_KEY and RECONIFY_API_KEY; limits "
        "from RECONIFY_BRIDGE_* (see docs/collector.md). Needs the bridge extra: "
        "pip install 'reconify-otel[bridge]'.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    bridge.add_argument("--host", default="127.0.0.1", help="address to listen on")
    bridge.add_argument(
        "--port", type=arguments.port, default=4318, help="port; 0 picks a free one"
    )
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
            print(f"reconify-otel bridge: error: {error}", file=sys.stderr)
            return 2
        except OSError as error:  # the address is in use, not ours, or not resolvable
            print(
                f"reconify-otel bridge: error: cannot listen on {args.host}:{args.port}: "
                f"{error.strerror or error}",
                file=sys.stderr,
            )
            return 1
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
    """The offline stand-in, from the package itself (standard library only)."""
    from reconify_otel.offline.sink_cli import serve

    return serve(port, show=True, prog="reconify-otel sink")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
