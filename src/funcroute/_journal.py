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
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["Journal", "LineSet", "journal_path", "recover_results"]

_BLOCK = 1 << 16


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
        fresh: start an empty journal (a new run) instead of appending to an existing one.
    """

    def __init__(self, path: Path, *, fsync: bool = True, fresh: bool = False) -> None:
        self.path = path
        self.fsync = fsync
        if fresh and path.exists():
            path.unlink()
        elif path.exists():
            _cut_torn_tail(path)
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
