"""Send concurrent requests to the backend together where it can batch.

Backends that override :meth:`~funcroute.backends.base.Backend.complete_many` (transformers with left
padding, the semantic router's batched encoder) get every request that is waiting when the previous
batch finishes in one call, from one worker thread. No timer delays a lone request: a request waits
only while an earlier batch is running, which is exactly when batching pays. Other backends get each
request through their own :meth:`~funcroute.backends.base.Backend.acomplete`.

One failing request must not fail its batch-mates: when a batch raises, its requests are retried one
by one, so each gets its own completion or its own error.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Sequence

from funcroute.backends.base import Backend, Completion, Request
from funcroute.errors import FuncRouteError

__all__ = ["Dispatcher"]


class _Queue:
    """Requests waiting for the next batch on one event loop."""

    def __init__(self) -> None:
        self.waiting: list[tuple[Request, asyncio.Future[Completion]]] = []
        self.running = False
        self.task: asyncio.Task[None] | None = None


class Dispatcher:
    """Complete requests on ``backend``, batching concurrent ones when it can batch.

    Args:
        backend: the model.
        max_batch: the most requests sent in one batch.
    """

    def __init__(self, backend: Backend, *, max_batch: int = 16) -> None:
        self.backend = backend
        self.max_batch = max_batch
        self.batches = type(backend).complete_many is not Backend.complete_many
        # One queue per event loop: futures belong to the loop that created them, and an engine
        # may be driven from several loops (one per thread) outside the server.
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Queue] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()
        self.sizes: list[int] = []  # batch sizes sent, for tests and benchmarks (last 1000)

    async def complete(self, request: Request) -> Completion:
        """The completion of one request (raises the backend's error for it)."""
        if not self.batches:
            return await self.backend.acomplete(request)
        loop = asyncio.get_running_loop()
        with self._lock:
            queue = self._queues.setdefault(loop, _Queue())
        future: asyncio.Future[Completion] = loop.create_future()
        queue.waiting.append((request, future))
        if not queue.running:
            queue.running = True
            queue.task = loop.create_task(self._drain(queue))  # referenced: tasks are weakly held
        return await future

    async def _drain(self, queue: _Queue) -> None:
        try:
            await asyncio.sleep(0)  # let requests that arrived in the same loop turn join
            while queue.waiting:
                batch = queue.waiting[: self.max_batch]
                del queue.waiting[: self.max_batch]
                live = [(r, f) for r, f in batch if not f.cancelled()]
                if not live:
                    continue
                self.sizes = [*self.sizes[-999:], len(live)]
                results = await asyncio.to_thread(self._run, [r for r, _ in live])
                for (_, future), result in zip(live, results, strict=True):
                    if future.cancelled():
                        continue
                    if isinstance(result, BaseException):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            queue.running = False

    def _run(self, requests: Sequence[Request]) -> list[Completion | BaseException]:
        try:
            completions = self.backend.complete_many(requests)
            if len(completions) == len(requests):
                return list(completions)
        except FuncRouteError:
            pass
        except Exception as exc:  # a backend bug: every request in the batch gets it
            return [exc for _ in requests]
        out: list[Completion | BaseException] = []
        for request in requests:
            try:
                out.append(self.backend.complete(request))
            except Exception as exc:
                out.append(exc)
        return out
