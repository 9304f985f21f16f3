"""Run the server in a background thread: for tests, benchmarks and notebooks.

uvicorn binds the port itself (port 0 lets the kernel pick a free one, read back after startup), so
there is no race between choosing a port and listening on it; :func:`running` always shuts the
server down. (Handing uvicorn a pre-bound socket instead cost ~40 ms per request here.)
"""

from __future__ import annotations

import contextlib
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

    config = uvicorn.Config(
        app, host=host, port=port, log_level="error", lifespan="off", timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="funcroute-serve", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.01)
        # uvicorn binds the port itself (port 0: the kernel picks a free one); read it back.
        bound = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://{host}:{bound}/v1"
    finally:
        server.should_exit = True
        thread.join(timeout)
