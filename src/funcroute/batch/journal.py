"""Files that make a batch exactly-once: the results file and the dispatch journal, read streamed.

- The **results file** holds one JSON record per input line. After a crash its last line may be
  torn; :func:`recover_results` cuts it off (found by reading backwards from the end, not by reading
  the file) and returns the set of lines already done.
- The **journal** (``<out>.journal``) gets one record per call *before* its handler runs, flushed
  (and optionally fsynced) first. A line in the journal without a result was dispatched when the
  run stopped: its handler may have run, so a resumed run records it as interrupted and never runs
  it again. A torn last journal line was never complete, so its handler never started.

Both are read line by line; the only state kept is :class:`LineSet`, one bit per input line (a
million-line batch needs 125 KB).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from funcroute.errors import UsageError

__all__ = ["Journal", "LineSet", "Resume", "journal_path", "recover_results"]

_BLOCK = 1 << 16
_INTERRUPTED = (
    "the batch stopped while this call's handler was running; it is not run again "
    "(it may or may not have completed)"
)


class LineSet:
    """A set of positive line numbers stored as a growable bitmap."""

    def __init__(self) -> None:
        self._bits = bytearray()
        self._count = 0

    def add(self, line: int) -> None:
        """Add ``line`` (>= 1)."""
        byte, bit = divmod(line, 8)
        if byte >= len(self._bits):
            self._bits.extend(bytes(max(byte + 1 - len(self._bits), len(self._bits) // 2)))
        if not self._bits[byte] & (1 << bit):
            self._bits[byte] |= 1 << bit
            self._count += 1

    def __contains__(self, line: object) -> bool:
        if not isinstance(line, int) or line < 0:
            return False
        byte, bit = divmod(line, 8)
        return byte < len(self._bits) and bool(self._bits[byte] & (1 << bit))

    def __len__(self) -> int:
        return self._count


def journal_path(out: Path) -> Path:
    """Where the dispatch journal of results file ``out`` lives."""
    return out.with_name(out.name + ".journal")


def _cut_torn_tail(path: Path) -> None:
    """Truncate ``path`` after its last newline (a crash may have left half a record)."""
    with path.open("rb+") as handle:
        end = handle.seek(0, os.SEEK_END)
        pos = end
        while pos > 0:
            start = max(0, pos - _BLOCK)
            handle.seek(start)
            block = handle.read(pos - start)
            newline = block.rfind(b"\n")
            if newline >= 0:
                keep = start + newline + 1
                if keep != end:
                    handle.truncate(keep)
                return
            pos = start
        if end:
            handle.truncate(0)  # not one whole line


def _records(path: Path) -> Iterator[dict[str, Any]]:
    """Each JSON object line of ``path`` that carries an integer ``line`` (others are skipped)."""
    with path.open("rb") as handle:
        for raw in handle:
            try:
                record = json.loads(raw)
            except (ValueError, RecursionError):
                continue
            if isinstance(record, dict) and isinstance(record.get("line"), int) and record["line"] >= 0:
                yield record


def recover_results(out: Path) -> LineSet:
    """The lines that already have a result in ``out``, after cutting a torn last line."""
    done = LineSet()
    if not out.exists():
        return done
    _cut_torn_tail(out)
    for record in _records(out):
        done.add(record["line"])
    return done


class Journal:
    """The append-only record of dispatches, written before each handler runs.

    Args:
        path: the journal file.
        fsync: also ``fsync`` each record (survives a power cut, not only a killed process).
    """

    def __init__(self, path: Path, *, fsync: bool = True) -> None:
        self.path = path
        self.fsync = fsync
        if path.exists():
            _cut_torn_tail(path)  # a torn last record: its handler never started
        self._handle: IO[bytes] | None = None

    def entries(self) -> Iterator[dict[str, Any]]:
        """Every complete record in the journal, streamed."""
        if self.path.exists():
            yield from _records(self.path)

    def record(self, line: int, command: str, call: dict[str, Any]) -> None:
        """Write the dispatch of ``line`` durably; returns only once it is written."""
        if self._handle is None:
            self._handle = self.path.open("ab")
        # ASCII escapes: no text (not even a lone surrogate) can make the record unreadable later.
        data = json.dumps({"line": line, "input": command, "call": call}, ensure_ascii=True, default=str)
        self._handle.write(data.encode("ascii") + b"\n")
        self._handle.flush()
        if self.fsync:
            os.fsync(self._handle.fileno())

    def close(self, *, remove: bool = False) -> None:
        """Close the file; ``remove`` deletes it (every dispatched line has its result)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        if remove and self.path.exists():
            self.path.unlink()


class Resume:
    """What a run (fresh or resumed) knows about ``out`` before it starts, and its journal.

    Args:
        out: the results file.
        resume: continue ``out`` and its journal; without it both must be absent.
        fsync: fsync each journal record.

    Raises:
        UsageError: ``out`` or the journal exists without ``resume``.
    """

    def __init__(self, out: Path, *, resume: bool, fsync: bool = True) -> None:
        path = journal_path(out)
        if out.exists() and not resume:
            raise UsageError(f"{out} exists: pass --resume to continue it, or choose another --out")
        if path.exists() and not resume:
            raise UsageError(
                f"{path} exists (the dispatch journal of an earlier run): pass --resume to continue "
                "that run, or delete it to start over"
            )
        self.done = recover_results(out) if resume else LineSet()
        self.journal = Journal(path, fsync=fsync)
        self.dispatched = LineSet()  # dispatched earlier without a result: never run again
        for entry in self.journal.entries():
            if entry["line"] not in self.done:
                self.dispatched.add(entry["line"])
        self.seen = LineSet()

    def todo(self, line: int) -> bool | None:
        """``True``: route ``line``; ``False``: it already has a result; ``None``: interrupted earlier."""
        self.seen.add(line)
        if line in self.done:
            return False
        return None if line in self.dispatched else True

    def interrupted(self, lines: Iterable[tuple[int, str | None, str | None]]) -> Iterator[dict[str, Any]]:
        """Failed records for the lines an earlier run dispatched without a result.

        The caller writes each one (marking its line done) before asking for the next.

        Args:
            lines: the input again, as ``(line, command, problem)`` (streamed; only the few
                interrupted lines are kept).
        """
        if not len(self.dispatched):
            return
        commands = {line: command for line, command, _ in lines if line in self.dispatched}
        for entry in self.journal.entries():
            line = entry["line"]
            if line in self.dispatched and line in self.seen and line not in self.done:
                command = commands.get(line) or ""
                message = _INTERRUPTED
                if entry.get("input") != command:
                    message += "; note: the input line's text differs from the one dispatched"
                    message += " (was the input edited?)"
                yield {  # the caller's writer marks it done
                    "line": line,
                    "input": command,
                    "ok": False,
                    "call": entry.get("call"),
                    "dispatched": None,  # unknown: it was started, and may have finished
                    "error": {"type": "DispatchInterrupted", "message": message},
                }

    def close(self, *, finished: bool) -> None:
        """Close the journal; delete it when the run ``finished`` (every input line has a result)."""
        self.journal.close(remove=finished and len(self.done) >= len(self.seen))
