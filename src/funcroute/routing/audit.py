"""An append-only JSON-lines audit log of routed calls.

One line per routed command: when, the command, every model reply, the validated call, the outcome
(ok, dry run, refused, failed), the error if any, and timings. Each line is flushed as it is
written, so a crash loses at most the line being written; writes from many threads do not interleave.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from funcroute._text import clip
from funcroute.errors import CallRefusedError

if TYPE_CHECKING:
    from funcroute.routing.results import Attempt, RouteResult

__all__ = ["AuditLog"]

_MAX_VALUE_CHARS = 2000


class AuditLog:
    """Append audit records to a file path or an open text stream.

    Args:
        target: a path (opened in append mode, created if missing) or a writable text stream.
    """

    def __init__(self, target: str | Path | IO[str]) -> None:
        self._lock = threading.Lock()
        if isinstance(target, (str, Path)):
            self._stream: IO[str] = Path(target).open("a", encoding="utf-8")
            self._owned = True
        else:
            self._stream = target
            self._owned = False

    def record(
        self,
        command: str,
        *,
        result: RouteResult | None = None,
        attempts: list[Attempt] | None = None,
        error: BaseException | None = None,
        dry_run: bool = False,
    ) -> None:
        """Write one record for a routed command."""
        attempts = result.attempts if result is not None else (attempts or [])
        call = result.call if result is not None else getattr(error, "call", None)
        if error is not None:
            outcome = "refused" if isinstance(error, CallRefusedError) else "failed"
        else:
            outcome = "dry_run" if dry_run else "ok"
        entry: dict[str, Any] = {
            "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            "command": command,
            "outcome": outcome,
            "replies": [a.reply for a in attempts],
            "call": call.to_dict() if call is not None else None,
            "attempts": len(attempts),
        }
        if result is not None:
            if result.path:
                entry["path"] = result.path  # which way the call was chosen (semantic, model, fast)
            entry["dispatched"] = result.dispatched
            if result.dispatched and error is None:
                entry["result"] = clip(repr(result.value), _MAX_VALUE_CHARS, "...[truncated]")
            entry["timings"] = {k: round(v, 6) for k, v in result.timings.items()}
        else:
            generate = round(sum(a.generate_s for a in attempts), 6)
            parse = round(sum(a.parse_s for a in attempts), 6)
            total = round(generate + parse, 6)
            entry["timings"] = {
                "generate_s": generate, "parse_s": parse, "dispatch_s": 0.0, "total_s": total
            }  # fmt: skip
        if error is not None:
            entry["error"] = {
                "type": type(error).__name__,
                "message": clip(str(error), _MAX_VALUE_CHARS, "...[truncated]"),
            }
        line = json.dumps(entry, ensure_ascii=False, default=str) + "\n"
        with self._lock:
            self._stream.write(line)
            self._stream.flush()

    def close(self) -> None:
        """Close the file if this log opened it."""
        with self._lock:
            if self._owned and not self._stream.closed:
                self._stream.close()
