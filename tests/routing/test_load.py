"""One ToolSet and one Router shared by many threads and many asyncio tasks: no cross-talk, no errors."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from typing import Any

import pytest

from funcroute import ToolSet
from funcroute.backends.base import Request
from funcroute.backends.scripted import FunctionBackend
from funcroute.routing.router import Router, RouteResult

THREADS = 16
CALLS_PER_THREAD = 250  # 4000 in all
TASKS = 500
_NUMBER = re.compile(r"#(\d+)")


def make_tools() -> ToolSet:
    tools = ToolSet()

    @tools.tool
    def echo(n: int, tag: str) -> str:
        """Echo a number back, tagged."""
        return f"{tag}:{n * 2}"

    @tools.tool
    async def aecho(n: int, tag: str) -> str:
        """Echo a number back, tagged, asynchronously."""
        await asyncio.sleep(0)
        return f"{tag}:{n * 2}"

    return tools


def number_of(request: Request) -> int:
    match = _NUMBER.search(request.user_input or "")
    assert match is not None
    return int(match.group(1))


def reply_for(request: Request, function: str) -> str:
    """Echo the command's number into the call; every 7th command needs one repair first."""
    n = number_of(request)
    if n % 7 == 0 and "Your previous response" not in request.prompt:
        return f"I will echo {n} for you."
    tag = (request.user_input or "").split()[0]
    return json.dumps({"function": function, "params": {"n": n, "tag": tag}})


def check(result: RouteResult, n: int, tag: str) -> None:
    assert result.ok and result.dispatched, result.error
    assert result.call is not None
    assert result.call.arguments == {"n": n, "tag": tag}
    assert result.value == f"{tag}:{n * 2}"
    assert len(result.attempts) == (2 if n % 7 == 0 else 1)
    assert all(f"#{n} " in a.prompt for a in result.attempts)


def test_threads_share_one_router(capsys: pytest.CaptureFixture[str]) -> None:
    def reply(request: Request) -> str:
        time.sleep(0)  # give up the GIL mid-route, so threads interleave inside the router
        return reply_for(request, "echo")

    backend = FunctionBackend(reply)
    router = Router(make_tools(), backend)
    errors: list[BaseException] = []
    done = [0] * THREADS
    barrier = threading.Barrier(THREADS)

    def work(t: int) -> None:
        try:
            barrier.wait()
            for i in range(CALLS_PER_THREAD):
                n = t * CALLS_PER_THREAD + i
                tag = f"t{t}"
                check(router.route(f"{tag} echo #{n} please"), n, tag)
                done[t] += 1
        except BaseException as exc:  # reported below, with the thread's count
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(THREADS)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    assert errors == []
    total = THREADS * CALLS_PER_THREAD
    assert done == [CALLS_PER_THREAD] * THREADS
    repairs = sum(1 for n in range(total) if n % 7 == 0)
    assert len(backend.requests) == total + repairs
    with capsys.disabled():
        print(
            f"\n[load] threads: {THREADS} x {CALLS_PER_THREAD} = {total} routes ({repairs} repaired) "
            f"in {elapsed:.2f} s = {total / elapsed:,.0f} calls/s"
        )


def test_asyncio_tasks_share_one_router(capsys: pytest.CaptureFixture[str]) -> None:
    async def reply(request: Request) -> str:
        await asyncio.sleep(0)  # yield, so the tasks interleave mid-route
        return reply_for(request, "aecho" if number_of(request) % 2 else "echo")

    backend = FunctionBackend(reply)
    router = Router(make_tools(), backend)

    async def one(n: int) -> tuple[int, str, RouteResult]:
        tag = f"task{n}"
        return n, tag, await router.aroute(f"{tag} echo #{n} now")

    async def main() -> tuple[list[Any], float]:
        start = time.perf_counter()
        results = await asyncio.gather(*(one(n) for n in range(TASKS)))
        return results, time.perf_counter() - start

    results, elapsed = asyncio.run(main())
    assert len(results) == TASKS
    for n, tag, result in results:
        check(result, n, tag)
        assert result.call is not None and result.call.function == ("aecho" if n % 2 else "echo")
    with capsys.disabled():
        rate = TASKS / elapsed
        print(f"\n[load] asyncio: {TASKS} concurrent aroute tasks in {elapsed:.2f} s = {rate:,.0f} calls/s")


def test_threads_mix_route_many_and_route() -> None:
    backend = FunctionBackend(lambda r: reply_for(r, "echo"))
    router = Router(make_tools(), backend)
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            for round_ in range(5):
                base = (t * 5 + round_) * 40
                commands = [f"m{t} echo #{base + i} x" for i in range(40)]
                for i, result in enumerate(router.route_many(commands, progress=False)):
                    check(result, base + i, f"m{t}")
                check(router.route(f"s{t} echo #{base} y"), base, f"s{t}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
