"""What a round trip over MCP costs: dispatch through tools_from_mcp vs. calling the tool in process.

One ToolSet (the README's ``file_analytics``) is dispatched four ways in the same run:

* ``in process``: ``tools.dispatch(call)`` on the original ToolSet (the baseline);
* ``MCP in-process``: ``tools_from_mcp(mcp_server(tools))`` (the SDK's direct dispatcher, no I/O);
* ``MCP stdio``: ``tools_from_mcp`` of ``funcroute mcp serve`` as a subprocess;
* ``MCP HTTP``: the same over streamable HTTP on 127.0.0.1.

Prints p50/p95 milliseconds per call, sequential (1 caller) and with 4 concurrent callers
(``adispatch`` + ``asyncio.gather``), plus the connect time.

    .venv/bin/python bench/mcp_dispatch.py [--calls 300]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from funcroute import ToolSet
from funcroute.mcp import mcp_server, tools_from_mcp

TOOLS_FILE = '''
from typing import Literal
from pydantic import BaseModel, Field
from funcroute import ToolSet

tools = ToolSet()


class Filters(BaseModel):
    keyword: str = Field(description="The word or phrase we want to search for.")


@tools.tool
def file_analytics(action: Literal["count_occurrences", "find_line"], filters: Filters) -> dict[str, object]:
    """This tool performs various operations on a text file."""
    return {"action": action, "keyword": filters.keyword, "count": 3}
'''
ARGUMENTS = {"action": "count_occurrences", "filters": {"keyword": "Python"}}
CLI = [sys.executable, "-c", "import sys; from funcroute.cli.main import main; sys.exit(main())"]


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1e3, ordered[int(0.95 * (len(ordered) - 1))] * 1e3


def _sequential(tools: ToolSet, calls: int) -> list[float]:
    call = tools.validate("file_analytics", ARGUMENTS)
    tools.dispatch(call)  # warm up
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        tools.dispatch(call)
        times.append(time.perf_counter() - start)
    return times


def _concurrent(tools: ToolSet, calls: int, callers: int = 4) -> list[float]:
    call = tools.validate("file_analytics", ARGUMENTS)

    async def one() -> float:
        start = time.perf_counter()
        await tools.adispatch(call)
        return time.perf_counter() - start

    async def run() -> list[float]:
        times: list[float] = []
        for _ in range(calls // callers):
            times += await asyncio.gather(*(one() for _ in range(callers)))
        return times

    return asyncio.run(run())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_listening(port: int) -> None:
    for _ in range(600):
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit("the HTTP server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    spec = folder / "bench_tools.py"
    spec.write_text(TOOLS_FILE)
    env = dict(os.environ)
    env["PYTHONPATH"] = (
        str(Path(__file__).resolve().parents[1] / "src") + os.pathsep + env.get("PYTHONPATH", "")
    )
    from funcroute.cli.loading import load_toolset

    original = load_toolset(str(spec))
    port = _free_port()
    http = subprocess.Popen(
        [*CLI, "mcp", "serve", "--tools", str(spec), "--transport", "http", "--port", str(port)],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_listening(port)
        ways: list[tuple[str, Callable[[], Any]]] = [
            ("in process (baseline)", lambda: original),
            ("MCP in-process server", lambda: tools_from_mcp(mcp_server(original))),
            (
                "MCP stdio subprocess",
                lambda: tools_from_mcp([*CLI, "mcp", "serve", "--tools", str(spec)], env=env),
            ),
            ("MCP streamable HTTP", lambda: tools_from_mcp(f"http://127.0.0.1:{port}/mcp")),
        ]
        print(f"{args.calls} calls of file_analytics; milliseconds per call\n")
        print(f"{'dispatch':<24} {'connect':>8} {'p50 x1':>8} {'p95 x1':>8} {'p50 x4':>8} {'p95 x4':>8}")
        for label, make in ways:
            start = time.perf_counter()
            tools = make()
            connect = (time.perf_counter() - start) * 1e3
            one = _percentiles(_sequential(tools, args.calls))
            four = _percentiles(_concurrent(tools, args.calls))
            shown = "-" if tools is original else f"{connect:.0f}"
            print(f"{label:<24} {shown:>8} {one[0]:>8.3f} {one[1]:>8.3f} {four[0]:>8.3f} {four[1]:>8.3f}")
            if tools is not original:
                tools.close()
    finally:
        http.terminate()
        http.wait(30)


if __name__ == "__main__":
    main()
