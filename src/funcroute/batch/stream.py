"""Streamed, exactly-once batches over a concurrent backend (a fleet of servers, or one server).

:func:`astream_batch` (and its synchronous twin :func:`stream_batch`) route every line of a JSONL
file with many commands in flight, and guarantee:

- **Exactly one result per input line**, whatever was killed (the client, a replica, or both): each
  result is flushed as one line the moment it is ready; ``resume`` cuts a torn last line and routes
  only the lines without a result.
- **At most one dispatch per input line**: right before a handler runs, its call is written to the
  journal (``<out>.journal``). A resumed run finds lines that were dispatched but have no result,
  records them as ``DispatchInterrupted`` failures with their call, and never runs them again.
- **Constant memory**: input and output are streamed; at most ``concurrency`` commands are held;
  finished lines are remembered as one bit each.

Model calls go through ``router.aroute``, so a :class:`~funcroute.backends.fleet.FleetBackend`
spreads them over its replicas (bounded in-flight per replica, failures retried elsewhere); a
request that fails on every replica becomes a failed result and the batch goes on.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any, TextIO

from funcroute.batch.journal import Journal, LineSet, Resume
from funcroute.batch.jsonl import BatchSummary, commands_to_run, read_commands, result_record
from funcroute.batch.progress import Progress
from funcroute.errors import DispatchError, FuncRouteError, ModelOutputError, UsageError
from funcroute.routing.router import Router, RouteResult
from funcroute.tools.call import Call

__all__ = ["astream_batch", "stream_batch"]

_DEFAULT_CONCURRENCY = 8


class _Results:
    """The results file: one flushed line per record, and never two for one input line."""

    def __init__(self, out: Path, done: LineSet, summary: BatchSummary, fsync: bool) -> None:
        self.done = done
        self.summary = summary
        self.fsync = fsync
        self._handle: IO[str] = out.open("a", encoding="utf-8")

    def write(self, record: dict[str, Any]) -> None:
        line = record["line"]
        if line in self.done:  # a second result for one line would break the contract: drop it
            return
        self._handle.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        self._handle.flush()
        if self.fsync:
            os.fsync(self._handle.fileno())
        self.done.add(line)
        self.summary.ok += bool(record["ok"])
        self.summary.failed += not record["ok"]

    def close(self) -> None:
        self._handle.close()


def _failed(command: str, exc: BaseException) -> RouteResult:
    """The result of a command whose routing raised instead of returning."""
    if isinstance(exc, DispatchError):
        return RouteResult(command, exc.call, attempts=list(exc.attempts), error=exc)
    attempts = list(exc.attempts) if isinstance(exc, ModelOutputError) else []
    if isinstance(exc, FuncRouteError):
        return RouteResult(command, attempts=attempts, error=exc)
    wrapped = FuncRouteError(f"{type(exc).__name__}: {exc}")  # a bug in user code: record it, go on
    return RouteResult(command, attempts=attempts, error=wrapped)


async def astream_batch(
    router: Router,
    source: Path,
    out: Path,
    *,
    resume: bool = False,
    dry_run: bool = False,
    concurrency: int | None = None,
    fsync: bool = True,
    progress: bool = False,
    progress_interval: float = 10.0,
    progress_stream: TextIO | None = None,
) -> BatchSummary:
    """Route every command of ``source`` concurrently, one record per input line in ``out``.

    Args:
        router: the router; its backend's ``acomplete`` is called concurrently.
        source: JSONL commands (``{"input": ...}``, JSON strings, or plain text lines).
        out: the results file (one JSON record per input line, in completion order).
        resume: continue an interrupted run's ``out`` (and its journal).
        dry_run: validate calls without running handlers (nothing is journaled).
        concurrency: commands in flight; default the backend's ``capacity`` (a fleet's total
            in-flight cap), else 8.
        fsync: fsync each journal record and result (survives a power cut); without it, records
            are still flushed to the OS before a handler runs, which survives a killed process.
        progress: print a progress line (done, failed, rate, per-replica in-flight and latency)
            every ``progress_interval`` seconds to ``progress_stream`` (default stderr).
        progress_interval: seconds between progress lines.
        progress_stream: where progress goes.

    Returns:
        The counts (``interrupted``: lines found dispatched without a result on resume).

    Raises:
        UsageError: ``out`` exists without ``resume``, a stale journal exists, or a file cannot be
            read.
    """
    limit = concurrency or _concurrency(router)
    if limit < 1:
        raise UsageError("concurrency must be >= 1")
    started = time.perf_counter()
    summary = BatchSummary()
    state = Resume(out, resume=resume, fsync=fsync)
    results = _Results(out, state.done, summary, fsync)
    in_flight = [0]
    queue: asyncio.Queue[tuple[int, str] | None] = asyncio.Queue(maxsize=limit)
    reporter = Progress(summary, router.backend, in_flight, progress_stream or sys.stderr)
    workers = [
        asyncio.create_task(_work(router, queue, state.journal, results, in_flight, dry_run))
        for _ in range(limit)
    ]
    ticker = asyncio.create_task(reporter.tick_every(progress_interval)) if progress else None
    finished = False
    try:
        await _feed(source, state, summary, results, queue, workers)
        finished = True
    finally:
        await _cancel([*workers, *([ticker] if ticker is not None else [])])
        results.close()
        state.close(finished=finished)
    summary.elapsed_s = time.perf_counter() - started
    summary.replicas = reporter.replicas()
    return summary


async def _work(
    router: Router,
    queue: asyncio.Queue[tuple[int, str] | None],
    journal: Journal,
    results: _Results,
    in_flight: list[int],
    dry_run: bool,
) -> None:
    """One worker: route queued commands until a ``None`` arrives, journaling each dispatch."""
    while (item := await queue.get()) is not None:
        line, command = item
        in_flight[0] += 1

        def record_dispatch(call: Call, line: int = line, command: str = command) -> None:
            journal.record(line, command, call.to_dict())

        try:
            result = await router.aroute(command, dry_run=dry_run, before_dispatch=record_dispatch)
        except Exception as exc:
            result = _failed(command, exc)
        finally:
            in_flight[0] -= 1
        results.write(result_record(line, command, result, None))


async def _feed(
    source: Path,
    state: Resume,
    summary: BatchSummary,
    results: _Results,
    queue: asyncio.Queue[tuple[int, str] | None],
    workers: list[asyncio.Task[None]],
) -> None:
    """Queue every line still to run, wait for the workers, then record the interrupted lines."""
    for line, command, problem in commands_to_run(source, state, summary):
        if command is None:
            results.write(result_record(line, None, None, problem))
        else:
            await queue.put((line, command))
    for _ in workers:
        await queue.put(None)
    await asyncio.gather(*workers)
    for record in state.interrupted(read_commands(source)):
        results.write(record)
        summary.interrupted += 1


async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel the tasks and wait until they are gone (finished ones are left as they are)."""
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def stream_batch(
    router: Router,
    source: Path,
    out: Path,
    **options: Any,
) -> BatchSummary:
    """Synchronous twin of :func:`astream_batch` (same arguments); runs its own event loop.

    Its loop gets a thread pool as large as the concurrency, so that many sync handlers (and sync
    backends) can run at once; under :func:`astream_batch` they share the caller's loop's pool.

    Raises:
        UsageError: as :func:`astream_batch`; also when called inside a running event loop.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        workers = options.get("concurrency") or _concurrency(router)
        return asyncio.run(_with_pool(astream_batch(router, source, out, **options), max(1, workers)))
    raise UsageError("stream_batch was called inside an event loop: use 'await astream_batch(...)'")


def _concurrency(router: Router) -> int:
    return int(getattr(router.backend, "capacity", 0) or _DEFAULT_CONCURRENCY)


async def _with_pool(run: Coroutine[Any, Any, BatchSummary], workers: int) -> BatchSummary:
    # asyncio.run shuts this pool down (joining its threads) when the loop closes.
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="funcroute-batch")
    asyncio.get_running_loop().set_default_executor(pool)
    return await run
