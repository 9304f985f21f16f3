"""Text growing in a backend's worker thread → the deltas a streaming client may already see.

Backends that generate token by token call the request's ``stop_when`` detector with the whole text
so far after every token. :class:`Observer` wraps that detector: it keeps the real detector's answer,
stops generation when the client has gone (``cancel``), and hands the growing text to a watcher.

Two watchers turn text into deltas that are final, so nothing sent is ever taken back:

* :class:`TextWatch` for plain answers: it holds back the tail that could still turn into a stop
  string, and trailing whitespace (the final answer is stripped).
* :class:`CallWatch` for grammar-constrained calls (JSON ``{"function": "NAME", "params": {...}}``):
  once the name is complete it announces the call, then passes on the ``params`` object's text up to
  the brace that closes it; that text is the call's ``arguments`` string, byte for byte.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from typing import Protocol

from funcroute.backends.base import StopDetector
from funcroute.parsing import closing_index, end_of_first_call
from funcroute.tools.tool import NAME

__all__ = ["CallWatch", "Events", "Observer", "TextWatch", "end_of_calls", "params_text"]

# A tool name: the one NAME rule, unanchored, to stand inside the call head below.
_TOOL_NAME = NAME.pattern.removeprefix("^").removesuffix("$")
# The grammar allows one space after ':' and ',' (the spacing real models write); the look-ahead waits
# for the arguments' own '{', so the streamed text starts where the final arguments text does.
_CALL_HEAD = re.compile(r'\s*\{\s*"function"\s*:\s*"(' + _TOOL_NAME + r')"\s*,\s*"params"\s*:\s*(?=\{)')
_PARAM_KEY = re.compile(r'"(?:params|parameters|arguments|args)"\s*:\s*')
_DECODER = json.JSONDecoder()


class Events(Protocol):
    """Where live deltas go (called from the backend's worker thread)."""

    def content(self, text: str) -> None:
        """More answer text."""

    def call_start(self, index: int, call_id: str, name: str) -> None:
        """A tool call has begun: its name is known."""

    def call_arguments(self, index: int, text: str) -> None:
        """More of a tool call's arguments JSON text."""


class Observer:
    """A ``stop_when`` detector that also watches the text and honours cancellation.

    Args:
        inner: the real detector (or ``None``).
        cancel: set when the client is gone; generation then stops at the next token.
        watch: called with the text so far.
    """

    def __init__(
        self, inner: StopDetector | None, cancel: threading.Event, watch: Callable[[str], None] | None
    ) -> None:
        self.inner = inner
        self.cancel = cancel
        self.watch = watch
        self.seen = False

    def __call__(self, text: str) -> int | None:
        """Where generation should stop (``None``: go on), after showing the text to the watcher."""
        self.seen = True
        if self.cancel.is_set():
            return len(text)
        cut = self.inner(text) if self.inner is not None else None
        if self.watch is not None:
            self.watch(text if cut is None else text[:cut])
        return cut


class TextWatch:
    """Stream answer text that no stop string or final strip can change any more."""

    def __init__(self, events: Events, stops: tuple[str, ...]) -> None:
        self.events = events
        self.hold = max((len(s) for s in stops), default=1) - 1
        self.sent = ""

    def __call__(self, text: str) -> None:
        """See the text so far; send what can no longer change."""
        safe = text[: max(len(text) - self.hold, 0)].lstrip().rstrip()
        if len(safe) > len(self.sent) and safe.startswith(self.sent):
            self.events.content(safe[len(self.sent) :])
            self.sent = safe

    def finish(self, final: str) -> bool:
        """Send the rest of ``final``; ``False`` if what was sent is not its beginning."""
        if not final.startswith(self.sent):
            return False
        if len(final) > len(self.sent):
            self.events.content(final[len(self.sent) :])
        self.sent = final
        return True


class CallWatch:
    """Stream one grammar-constrained call: announce its name, then its arguments text.

    Args:
        events: where deltas go.
        call_id: the id the call will have.
        hidden: a function name that is not announced (the no-call tool).
    """

    def __init__(self, events: Events, call_id: str, hidden: str | None = None) -> None:
        self.events = events
        self.call_id = call_id
        self.hidden = hidden
        self.name: str | None = None
        self.start = -1
        self.sent = ""

    @property
    def announced(self) -> bool:
        """Whether the client has been told about the call."""
        return self.name is not None and self.name != self.hidden

    def __call__(self, text: str) -> None:
        """See the reply so far; announce the call, then send its arguments text."""
        if self.name is None:
            head = _CALL_HEAD.match(text)
            if head is None:
                return
            self.name, self.start = head.group(1), head.end()
            if self.announced:
                self.events.call_start(0, self.call_id, self.name)
        if not self.announced:
            return
        end = closing_index(text, self.start)
        chunk = text[self.start : len(text) if end is None else end]
        if len(chunk) > len(self.sent):
            self.events.call_arguments(0, chunk[len(self.sent) :])
            self.sent = chunk

    def finish(self, arguments: str) -> bool:
        """Send the rest of the final ``arguments``; ``False`` if the sent text is not its beginning."""
        if not arguments.startswith(self.sent):
            return False
        if len(arguments) > len(self.sent):
            self.events.call_arguments(0, arguments[len(self.sent) :])
        self.sent = arguments
        return True


def end_of_calls(text: str) -> int | None:
    """Stop detector for replies that may be a JSON array of calls: the end of the first value."""
    stripped = text.lstrip()
    if stripped.startswith("["):
        return closing_index(text, len(text) - len(stripped))
    return end_of_first_call(text)


def params_text(reply: str, arguments: list[dict[str, object]]) -> list[str]:
    """The arguments JSON text of each call, taken from the reply where it holds exactly those values.

    The model's own text is kept when it parses to the validated arguments (so a streamed call and
    the final one are the same bytes); otherwise the arguments are serialised compactly.
    """
    out: list[str] = []
    position = 0
    for expected in arguments:
        found = None
        for match in _PARAM_KEY.finditer(reply, position):
            try:
                value, end = _DECODER.raw_decode(reply, match.end())
            except ValueError:
                continue
            if value == expected and json.dumps(value) == json.dumps(expected):
                found = reply[match.end() : end]
                position = end
                break
        out.append(
            found if found is not None else json.dumps(expected, ensure_ascii=False, separators=(",", ":"))
        )
    return out
