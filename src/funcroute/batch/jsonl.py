"""``funcroute batch``: route a JSONL file of commands, losing nothing.

Each result is written as one JSON line and flushed the moment its command finishes, tagged with
the input's line number. With ``resume``, an existing output file is read first: a partial last line
left by a crash is cut off, and only lines without a result are routed, so the output ends with
exactly one result per input line. Dispatches are journaled before handlers run, so a line that was
running when the process died is recorded as ``DispatchInterrupted``, never run twice.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from funcroute.batch.journal import Journal, Resume
from funcroute.errors import (
    DispatchError,
    FuncRouteError,
    HandlerError,
    NoSuitableFunctionError,
    UsageError,
)
from funcroute.routing.router import Router, RouteResult
from funcroute.tools.call import Call

__all__ = ["BatchSummary", "commands_to_run", "read_commands", "result_record", "run_batch"]

_MAX_LINE = 1 << 20


@dataclass
class BatchSummary:
    """Counts of one batch run.

    Attributes:
        total: input lines (blank lines are not counted).
        skipped: lines that already had a result (``resume``).
        ok: lines routed (and run) successfully in this run.
        failed: lines that failed in this run (``interrupted`` included).
        interrupted: lines an earlier run dispatched without writing their result; recorded as
            failed, never run again.
        elapsed_s: wall time of the run.
        replicas: per-replica statistics at the end, for fleet backends.
    """

    total: int = 0
    skipped: int = 0
    ok: int = 0
    failed: int = 0
    interrupted: int = 0
    elapsed_s: float = 0.0
    replicas: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The summary as JSON-ready data (the CLI prints it as one line)."""
        return {
            "total": self.total,
            "ok": self.ok,
            "failed": self.failed,
            "skipped": self.skipped,
            "interrupted": self.interrupted,
            "elapsed_s": round(self.elapsed_s, 3),
            "replicas": self.replicas,
        }


def read_commands(path: Path) -> Iterator[tuple[int, str | None, str | None]]:
    """Yield ``(line number, command, problem)`` for each non-blank input line.

    A line may be a JSON object with ``input`` (or ``command``), a JSON string, or plain text.
    """
    try:
        handle = path.open("r", encoding="utf-8", errors="replace")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    with handle:
        for number, line in enumerate(handle, 1):
            text = line.strip()
            if not text:
                continue
            if len(text) > _MAX_LINE:
                yield number, None, f"line is longer than {_MAX_LINE} characters"
                continue
            yield number, *_command_of(text)


def commands_to_run(
    source: Path, state: Resume, summary: BatchSummary
) -> Iterator[tuple[int, str | None, str | None]]:
    """The input lines this run must answer, as :func:`read_commands` yields them.

    Every line counts in ``summary.total``; a line with a result from an earlier run counts as
    skipped and is left out, and so is a line an earlier run dispatched without a result (it is
    recorded as interrupted afterwards, never re-run: its handler may already have run).
    """
    for line, command, problem in read_commands(source):
        summary.total += 1
        todo = state.todo(line)
        if todo is False:
            summary.skipped += 1
        elif todo:
            yield line, command, problem


def _command_of(text: str) -> tuple[str | None, str | None]:
    if text[0] not in '{"':
        return text, None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None, "line is not valid JSON"
    if isinstance(value, str):
        return value, None
    if isinstance(value, dict):
        command = value.get("input", value.get("command"))
        if isinstance(command, str) and command.strip():
            return command, None
        return None, 'expected an object with a non-empty "input" string'
    return None, "expected a JSON object or string"


def result_record(
    line: int | None,
    command: str | None,
    result: RouteResult | None,
    problem: str | None = None,
    *,
    error: BaseException | None = None,
) -> dict[str, Any]:
    """The JSON record of one routed command: the same keys for every outcome.

    ``batch`` writes one per input line and ``route --json`` prints one. Keys: ``line``, ``input``,
    ``ok``, ``refused`` (no tool fits: NoSuitableFunctionError), ``call``, ``dispatched`` (the
    handler started: also when it raised or timed out), ``result``, ``attempts``, ``replies``,
    ``timings`` and ``error`` (``null``, or ``{"type", "message"}``).

    Args:
        line: the input line number (``None`` for a single command).
        command: the command text.
        result: the route's result; ``None`` with ``problem`` (a bad input line) or ``error``.
        problem: why an input line could not be read.
        error: an exception that ended the route (built into a result: its call and attempts).
    """
    if result is None and error is not None:
        attempts = list(getattr(error, "attempts", None) or [])
        call = error.call if isinstance(error, DispatchError) else None
        own = error if isinstance(error, FuncRouteError) else None
        result = RouteResult(command or "", call, attempts=attempts, error=own)
        result.dispatched = isinstance(error, HandlerError)
    record: dict[str, Any] = {
        "line": line,
        "input": command,
        "ok": False,
        "refused": False,
        "call": None,
        "dispatched": False,
        "result": None,
        "attempts": 0,
        "replies": [],
        "timings": {"generate_s": 0.0, "parse_s": 0.0, "dispatch_s": 0.0, "total_s": 0.0},
        "error": None,
    }
    if result is None:
        record["error"] = {"type": "InputError", "message": problem or str(error)}
        return record
    failure: BaseException | None = result.error if result.error is not None else error
    record.update(
        ok=result.ok and failure is None,
        refused=isinstance(failure, NoSuitableFunctionError),
        call=result.call.to_dict() if result.call else None,
        dispatched=result.dispatched,
        result=_jsonable(result.value) if result.dispatched and failure is None else None,
        attempts=len(result.attempts),
        replies=result.replies,
        timings={k: round(v, 6) for k, v in result.timings.items()},
    )
    if failure is not None:
        record["error"] = {"type": type(failure).__name__, "message": str(failure)}
    return record


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
    return value


def run_batch(
    router: Router,
    source: Path,
    out: Path,
    *,
    resume: bool = False,
    dry_run: bool = False,
    chunk_size: int = 8,
    progress: bool | None = None,
) -> BatchSummary:
    """Route every command in ``source``, appending one record per line to ``out``.

    Chunks of ``chunk_size`` commands go to the backend together (``route_many``: local models
    batch them). Each dispatch is journaled before its handler runs, so ``resume`` never runs a
    handler twice (see :mod:`funcroute.batch.journal`); for servers,
    :func:`funcroute.batch.stream.stream_batch` keeps many requests in flight instead.
    """
    state = Resume(out, resume=resume)
    summary = BatchSummary()
    pending: list[tuple[int, str]] = []
    with out.open("a", encoding="utf-8") as handle:

        def write(record: dict[str, Any]) -> None:
            handle.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
            state.done.add(record["line"])
            summary.ok += bool(record["ok"])
            summary.failed += not record["ok"]

        finished = False
        try:
            for line, command, problem in commands_to_run(source, state, summary):
                if command is None:
                    write(result_record(line, None, None, problem))
                else:
                    pending.append((line, command))
                    if len(pending) >= chunk_size:
                        _route_chunk(router, pending, write, dry_run, progress, state.journal)
                        pending = []
            if pending:
                _route_chunk(router, pending, write, dry_run, progress, state.journal)
            for record in state.interrupted(read_commands(source)):
                write(record)
                summary.interrupted += 1
            finished = True
        finally:
            state.close(finished=finished)
    return summary


def _route_chunk(
    router: Router,
    chunk: list[tuple[int, str]],
    write: Any,
    dry_run: bool,
    progress: bool | None,
    journal: Journal,
) -> None:
    written: set[int] = set()

    def on_result(index: int, result: RouteResult) -> None:
        line, command = chunk[index]
        write(result_record(line, command, result, None))
        written.add(index)

    def before_dispatch(index: int, call: Call) -> None:
        line, command = chunk[index]
        journal.record(line, command, call.to_dict())

    try:
        router.route_many(
            [c for _, c in chunk],
            dry_run=dry_run,
            progress=progress,
            on_result=on_result,
            before_dispatch=before_dispatch,
        )
    except FuncRouteError as exc:  # the whole chunk failed (e.g. the backend broke its contract)
        for index, (line, command) in enumerate(chunk):
            if index not in written:
                write(result_record(line, command, RouteResult(command, error=exc), None))
