"""Fake backends for tests and demos: scripted replies, or replies computed by a function.

They are public API (like httpx's MockTransport): a test of code that routes commands should not
need a model. Both record every request they receive and are safe to share between threads.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Awaitable, Callable, Iterable

from funcroute.backends.base import Backend, Completion, Request
from funcroute.errors import BackendError

__all__ = ["FunctionBackend", "ScriptedBackend"]

Reply = str | Completion


def _as_completion(reply: Reply) -> Completion:
    if isinstance(reply, Completion):
        return reply
    if not isinstance(reply, str):
        raise BackendError("scripted", f"a fake reply must be str or Completion, got {type(reply).__name__}")
    return Completion(text=reply, finish_reason="stop")  # exactly as scripted: no stop-string cutting


class _Recording(Backend):
    """A fake that records every request it receives (``requests``, ``prompts``), thread-safely."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: list[Request] = []

    @property
    def prompts(self) -> list[str]:
        """The prompt of every request received, in order."""
        return [r.prompt for r in self.requests]

    def _record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)


class ScriptedBackend(_Recording):
    """Replies with the given texts, in order, one per request.

    Args:
        replies: the replies, consumed in order.
        cycle: start again from the first reply when they run out (otherwise running out is a
            BackendError, so a test notices an unexpected extra model call).

    Attributes:
        requests: every request received, in order.
    """

    name = "scripted"

    def __init__(self, replies: Iterable[Reply], *, cycle: bool = False) -> None:
        super().__init__()
        self._replies = list(replies)
        self._cycle = cycle
        self._next = 0

    @property
    def remaining(self) -> int:
        """Replies not yet used."""
        return len(self._replies) - self._next if not self._cycle else len(self._replies)

    def complete(self, request: Request) -> Completion:
        """Return the next scripted reply."""
        with self._lock:
            self.requests.append(request)
            if self._next >= len(self._replies):
                if not self._cycle or not self._replies:
                    raise BackendError(self.name, f"ran out of scripted replies after {self._next}")
                self._next = 0
            reply = self._replies[self._next]
            self._next += 1
        return _as_completion(reply)


class FunctionBackend(_Recording):
    """Replies with ``fn(request)``; ``fn`` may be sync or async and return str or Completion.

    Attributes:
        requests: every request received, in order.
    """

    name = "function"

    def __init__(self, fn: Callable[[Request], Reply | Awaitable[Reply]]) -> None:
        super().__init__()
        self._fn = fn

    def complete(self, request: Request) -> Completion:
        """Call the function (running it to completion if it is async)."""
        self._record(request)
        result = self._fn(request)
        if inspect.isawaitable(result):
            result = asyncio.run(_await(result))
        return _as_completion(result)

    async def acomplete(self, request: Request) -> Completion:
        """Await the function if async; otherwise call it directly (fakes are fast)."""
        self._record(request)
        result = self._fn(request)
        if inspect.isawaitable(result):
            result = await result
        return _as_completion(result)


async def _await(value: Awaitable[Reply]) -> Reply:
    return await value
