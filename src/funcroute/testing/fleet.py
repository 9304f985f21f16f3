"""Loopback servers for testing code that talks to a fleet of model servers.

- :class:`FakeReplica`: an OpenAI-compatible completions server whose latency is simulated (it
  sleeps, so many replicas fit on a small machine). It can be stopped like a killed process (open
  connections are cut) and started again on the same port.
- :class:`FaultProxy`: sits in front of any server (a real ``llama_cpp.server`` too) and answers
  scripted requests with faults: dropped connections, stalls, garbage bodies, 500, and 503 / 429 with
  ``Retry-After``; everything else is forwarded.

Both listen on 127.0.0.1 only, on a free port unless one is given, and serve from daemon threads.
"""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx

__all__ = ["FAULTS", "FakeReplica", "FaultProxy"]

#: The faults a :class:`FaultProxy` can inject, one per request.
FAULTS = ("pass", "drop", "stall", "garbage", "400", "500", "503", "429")


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers do
    disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms delayed-ACK stall
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.lock:
                self.server.connections.discard(self.connection)

    def send(self, code: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        for key, value in {"Content-Type": "application/json", **(headers or {})}.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self) -> None:
        self._guarded(self.server.owner._get)

    def do_POST(self) -> None:
        self._guarded(self.server.owner._post)

    def _guarded(self, action: Callable[[_Handler], None]) -> None:
        try:
            action(self)
        except OSError:  # the client went away, or the server was stopped under us
            self.close_connection = True


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, owner: _Base, port: int) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.owner = owner
        self.lock = threading.Lock()
        self.connections: set[socket.socket] = set()


class _Base:
    """Start/stop plumbing shared by the fake replica and the proxy."""

    def __init__(self, port: int = 0) -> None:
        self.port = port
        self.lock = threading.Lock()
        self.stopping = threading.Event()  # wakes sleeping handlers when the server stops
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL (``http://127.0.0.1:PORT``)."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Listen (again, on the same port after :meth:`stop`)."""
        self.stopping = threading.Event()
        self._server = _Server(self, self.port)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop like a killed process: stop listening and cut every open connection."""
        server, self._server = self._server, None
        if server is None:
            return
        self.stopping.set()
        server.shutdown()
        server.server_close()
        with server.lock:
            for conn in list(server.connections):
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> _Base:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _get(self, handler: _Handler) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _post(self, handler: _Handler) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


class FakeReplica(_Base):
    """A completions server that answers ``reply(body)`` after sleeping ``latency`` seconds.

    Args:
        reply: the completion text for a request body (default: an empty reply).
        latency: simulated seconds per request.
        slots: how many requests it works on at once (others queue, as in a real server's batch);
            ``None``: no limit.
        port: the port to listen on (default: a free one).

    A ``reply`` that raises makes the request answer HTTP 500.

    Attributes:
        served: completions answered.
        peak_in_flight: the most requests it held at once.
    """

    def __init__(
        self,
        reply: Callable[[dict[str, Any]], str] | None = None,
        *,
        latency: float = 0.0,
        slots: int | None = None,
        port: int = 0,
    ) -> None:
        super().__init__(port)
        self._slots = threading.BoundedSemaphore(slots) if slots else None
        self.reply = reply or (lambda body: "")
        self.latency = latency
        self.served = 0
        self.in_flight = 0
        self.peak_in_flight = 0

    def _get(self, handler: _Handler) -> None:
        handler.send(200, b'{"object": "list", "data": [{"id": "fake", "object": "model"}]}')

    def _post(self, handler: _Handler) -> None:
        try:
            body = json.loads(handler.body())
        except ValueError:
            handler.send(400, b'{"error": {"message": "body is not JSON"}}')
            return
        with self.lock:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        stopping = self.stopping
        slot = self._slots
        if slot is not None:
            while not slot.acquire(timeout=0.05):  # queued behind the busy slots
                if stopping.is_set():
                    handler.close_connection = True
                    with self.lock:
                        self.in_flight -= 1
                    return
        try:
            if stopping.wait(self.latency):
                handler.close_connection = True
                return  # stopped while "generating": the connection is cut, nothing is answered
            text = self.reply(body)
        except Exception as exc:  # a failing reply function plays a server error
            handler.send(500, json.dumps({"error": {"message": f"{type(exc).__name__}: {exc}"}}).encode())
            return
        finally:
            if slot is not None:
                slot.release()
            with self.lock:
                self.in_flight -= 1
        payload = {
            "object": "text_completion",
            "choices": [{"index": 0, "text": text, "finish_reason": "stop"}],
        }
        handler.send(200, json.dumps(payload).encode())
        with self.lock:
            self.served += 1


class FaultProxy(_Base):
    """Forward requests to ``upstream``, answering scripted ones with a fault instead.

    Args:
        upstream: the server behind the proxy.
        port: the port to listen on (default: a free one).
        stall_s: how long a ``stall`` holds the request before answering normally.
        retry_after: the ``Retry-After`` seconds sent with ``503`` and ``429``.

    Faults apply to completions (POST) only: probes (GET) are forwarded, as a flaky server's
    health endpoint usually answers.
    """

    def __init__(
        self, upstream: str, *, port: int = 0, stall_s: float = 30.0, retry_after: float = 1.0
    ) -> None:
        super().__init__(port)
        self.upstream = upstream.rstrip("/")
        self.stall_s = stall_s
        self.retry_after = retry_after
        self.script: list[str] = []
        self.default = "pass"
        self.served: Counter[str] = Counter()
        self.log: list[tuple[float, str]] = []  # (time.monotonic(), fault) per completion request
        self._client = httpx.Client(timeout=120.0, trust_env=False)

    def inject(self, *faults: str, default: str | None = None) -> None:
        """Answer the next requests with ``faults`` in order, then with ``default`` (kept if None)."""
        unknown = [f for f in (*faults, default or "pass") if f not in FAULTS]
        if unknown:
            raise ValueError(f"unknown faults {unknown}; known: {', '.join(FAULTS)}")
        with self.lock:
            self.script = list(faults)
            if default is not None:
                self.default = default

    def close(self) -> None:
        """Stop and release the upstream client."""
        self.stop()
        self._client.close()

    def _forward(self, handler: _Handler, method: str, body: bytes | None) -> None:
        try:
            response = self._client.request(
                method,
                self.upstream + handler.path,
                content=body,
                headers={"Content-Type": handler.headers.get("Content-Type", "application/json")},
            )
        except httpx.HTTPError as exc:
            handler.send(502, json.dumps({"error": {"message": f"upstream: {exc}"}}).encode())
            return
        handler.send(response.status_code, response.content)

    def _get(self, handler: _Handler) -> None:
        self._forward(handler, "GET", None)

    def _post(self, handler: _Handler) -> None:
        body = handler.body()
        with self.lock:
            fault = self.script.pop(0) if self.script else self.default
            self.served[fault] += 1
            self.log.append((time.monotonic(), fault))
        retry = {"Retry-After": f"{self.retry_after:g}"}
        if fault == "drop":  # promise a body, send a little, hang up
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", "1000")
            handler.end_headers()
            handler.wfile.write(b'{"choices"')
            handler.wfile.flush()
            handler.close_connection = True
        elif fault == "garbage":
            handler.send(200, b"<html>502 Bad Gateway (nginx)</html>", {"Content-Type": "text/html"})
        elif fault == "400":
            handler.send(400, b'{"error": {"message": "prompt is too long"}}')
        elif fault == "500":
            handler.send(500, b'{"error": {"message": "internal error"}}')
        elif fault == "503":
            handler.send(503, b'{"error": {"message": "overloaded"}}', retry)
        elif fault == "429":
            handler.send(429, b'{"error": {"message": "slow down"}}', retry)
        else:
            if fault == "stall" and self.stopping.wait(self.stall_s):
                handler.close_connection = True
                return
            self._forward(handler, "POST", body)
