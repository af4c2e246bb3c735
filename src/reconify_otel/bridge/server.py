"""Building the bridge and serving it with uvicorn, a production ASGI server.

uvicorn drains in-flight requests on SIGTERM/SIGINT, then runs the app's lifespan
shutdown, which closes the ``Transport``: no send is cut off while a request waits.
"""

from __future__ import annotations

import socket

from reconify_otel.bridge.app import BridgeApp
from reconify_otel.bridge.config import BridgeConfig, check_bind, resolve_config
from reconify_otel.runtime.logs import enable_debug_logging
from reconify_otel.settings import Settings, resolve

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
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            lifespan="on",
            ws="none",
            log_level=log_level,
            server_header=False,
            # A request in flight ends within the transport's deadline; then stop anyway.
            timeout_graceful_shutdown=int(app.settings.timeout) + 5,
        )
    )
    server.run(sockets=[listening_socket(host, port)])


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
