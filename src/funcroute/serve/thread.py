"""Run the server in a background thread: for tests, benchmarks and notebooks.

The socket is bound before the thread starts (port 0 picks a free port), so there is no race
between choosing a port and listening on it, and :func:`running` always shuts the server down.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

__all__ = ["running"]


@contextlib.contextmanager
def running(app: Any, *, host: str = "127.0.0.1", port: int = 0, timeout: float = 30.0) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a thread; yields the base URL (``http://127.0.0.1:PORT/v1``).

    Args:
        app: an ASGI app (see :func:`funcroute.serve.create_app`).
        host: the address to bind (loopback by default).
        port: the port; 0 picks a free one.
        timeout: seconds to wait for startup and for shutdown.

    Raises:
        RuntimeError: the server did not start in time.
    """
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="error", lifespan="off", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="funcroute-serve", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.01)
        yield f"http://{host}:{bound}/v1"
    finally:
        server.should_exit = True
        thread.join(timeout)
        sock.close()
