"""Building the bridge and serving it with uvicorn, a production ASGI server.

uvicorn drains in-flight requests on SIGTERM/SIGINT, then runs the app's lifespan
shutdown, which closes the sender: no send is cut off while a request waits. Its HTTP
protocol is ``connections.GuardedProtocol`` (h11 with head and idle timeouts, a
connection cap and unambiguous request framing) on the standard asyncio loop: the
combination the tests exercise (uvicorn 0.30.0, 0.40.0 and 0.55.0; it subclasses
uvicorn's ``H11Protocol``, which is not public API, hence the upper bound on uvicorn).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
from typing import TYPE_CHECKING, Any

from reconify_otel.bridge.app import TRACES_PATH, BridgeApp
from reconify_otel.bridge.config import BridgeConfig, check_bind, resolve_config
from reconify_otel.runtime.logs import enable_debug_logging
from reconify_otel.settings import Settings, resolve

if TYPE_CHECKING:  # uvicorn is imported only to serve: create_app works without it
    import uvicorn

    from reconify_otel.bridge.connections import ConnectionGuard

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4318  # OTLP/HTTP's port


def create_app(
    settings: Settings | None = None,
    token: str | None = None,
    *,
    config: BridgeConfig | None = None,
) -> BridgeApp:
    """The ASGI app; ``settings`` default to ``settings.resolve()`` (``RECONIFY_*``),
    ``config`` to ``resolve_config(token=token)`` (``RECONIFY_BRIDGE_*``)."""
    settings = settings if settings is not None else resolve()
    config = config if config is not None else resolve_config(token=token)
    if settings.debug:
        enable_debug_logging()
    return BridgeApp(settings, config)


def serve(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    token: str | None = None,
    settings: Settings | None = None,
    config: BridgeConfig | None = None,
    log_level: str = "info",
) -> None:
    """Serve until SIGTERM/SIGINT. ``ValueError`` before binding when the Reconify keys
    are missing or the host is beyond loopback and no token is set."""
    import uvicorn

    config = config if config is not None else resolve_config(token=token)
    check_bind(host, config.token)
    app = create_app(settings, config=config)
    guard = connection_guard(app)
    server = uvicorn.Server(server_config(app, guard, log_level=log_level))
    sock = listening_socket(host, port)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    print(f"reconify-otel bridge listening on http://{shown}:{bound}{TRACES_PATH}", flush=True)
    asyncio.run(_serve(server, sock, guard))


def connection_guard(app: BridgeApp) -> ConnectionGuard:
    """The app's connection limits, the cap lowered to fit ``ulimit -n`` (logged if so)."""
    from reconify_otel.bridge.connections import ConnectionGuard, fitting_limit

    config = app.config
    limit = fitting_limit(config.max_connections, app.settings.concurrency)
    if limit < config.max_connections:
        logging.getLogger("reconify_otel.bridge").warning(
            "serving at most %d connections (not %d): the open-file limit allows no more",
            limit,
            config.max_connections,
        )
    return ConnectionGuard(limit, config.header_timeout, config.idle_timeout, app.counters)


def server_config(app: BridgeApp, guard: ConnectionGuard, **options: Any) -> uvicorn.Config:
    """The ``uvicorn.Config`` the bridge runs with: ``serve``'s, and the tests'."""
    import uvicorn

    from reconify_otel.bridge.connections import ACCEPT_BURST

    return uvicorn.Config(
        app,
        http=guard.protocol(),
        loop="asyncio",
        lifespan="on",
        ws="none",
        server_header=False,
        proxy_headers=False,  # the client address is not used; no header may forge it
        backlog=ACCEPT_BURST,
        # A request in flight ends within the sender's deadline; then stop anyway.
        timeout_graceful_shutdown=int(app.settings.timeout) + 5,
        **options,
    )


async def _serve(server: uvicorn.Server, sock: socket.socket, guard: ConnectionGuard) -> None:
    asyncio.get_running_loop().set_exception_handler(guard.on_loop_exception)
    await server.serve(sockets=[sock])
    if not server.started:  # the lifespan startup failed; uvicorn logged why
        sys.exit(3)


def listening_socket(host: str, port: int) -> socket.socket:
    """A listening socket whose connections have ``TCP_NODELAY`` (Linux passes it on to
    accepted sockets): uvicorn writes headers and body apart, and Nagle's algorithm with
    delayed ACKs would hold every answer that has a body for about 40 ms."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock
