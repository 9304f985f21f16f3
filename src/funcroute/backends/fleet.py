"""A client-side pool over several replicas of one OpenAI-compatible completions server.

When a model runs as several copies of an existing server (vLLM, TGI, llama.cpp) behind nothing but
a list of URLs, :class:`FleetBackend` spreads requests over them. It schedules nothing the servers
already do (they batch their own in-flight requests); it only decides *which* replica gets the next
request and *how many* each may have in flight:

- **Least outstanding requests first**: a request goes to the replica with the fewest requests in
  flight (ties: the lower moving-average latency), never round-robin, so a slow replica is given
  less work instead of a queue.
- **Bounded, adaptive in-flight**: each replica's limit starts at ``initial_in_flight`` and is sized
  from its answers (see :mod:`funcroute.backends._replica`), never above ``max_in_flight``.
- **Failures**: a refused connection, a timeout, a dropped connection, 401/403/404 (a
  misconfigured replica) or a malformed body takes the replica out of rotation with exponential
  backoff, and so do two HTTP 5xx answers in a row (one may be the request's fault); a background
  probe (``GET /v1/models``) brings it back with one request in flight. The failed request is
  retried on another replica at once. A request fails with
  :class:`~funcroute.errors.BackendError` once it has failed on every replica (and at least
  ``min_tries`` times), or when no replica could be reached for ``max_wait`` seconds.
- **429 / Retry-After**: 429, and 503 with ``Retry-After``, pause that replica for the time the
  server asked (halving its limit); the request goes elsewhere or waits, without counting as failed.
- Other 4xx answers (400, 413, 422: the request itself is wrong) fail the request at once.

All network work runs on one event loop in a private thread, so the synchronous :meth:`complete`
and :meth:`complete_many` and the asynchronous :meth:`acomplete` (from any event loop) share one
view of the fleet.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Coroutine, Mapping, Sequence
from typing import Any, TypeVar

import httpx

from funcroute.backends._openai_http import redact_url as _redact_url
from funcroute.backends._openai_http import retry_after as _retry_after
from funcroute.backends._replica import Replica, ReplicaStats
from funcroute.backends.base import Backend, Completion, Request
from funcroute.backends.openai import OpenAIBackend, StructuredMode
from funcroute.errors import BackendError, UsageError
from funcroute.testing.guard import check_allowed

__all__ = ["FleetBackend", "ReplicaStats"]

T = TypeVar("T")

_REPLICA_FAULT_STATUS = frozenset({401, 403, 404, 408})  # the replica, not the request, is wrong


class _Failure(Exception):
    """A try that failed because of the replica; the request may go elsewhere."""

    def __init__(self, message: str, *, answered: bool = False) -> None:
        super().__init__(message)
        self.answered = answered  # the server answered (5xx): it is alive


class _Throttled(Exception):
    """The replica asked us to wait (429, or 503 with Retry-After)."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _check_endpoints(endpoints: Sequence[str]) -> None:
    if isinstance(endpoints, str) or not endpoints:
        raise UsageError("a fleet needs a list of at least one endpoint URL")
    if len(set(endpoints)) != len(endpoints):
        raise UsageError("a fleet's endpoints must be distinct")


class FleetBackend(Backend):
    """Complete prompts on a fleet of OpenAI-compatible completions servers serving one model.

    Args:
        endpoints: the replicas' base URLs (each as for :class:`OpenAIBackend`), at least one.
        model: the model name the servers expect.
        api_key: sent to every replica as ``Authorization: Bearer ...``; never logged or shown.
        timeout: seconds allowed for connecting and for each read or write of one try.
        structured: how a request's JSON Schema is sent (see :mod:`funcroute.backends.openai`).
        extra_body: keys merged into every request body.
        max_stop: how many stop strings to send; the rest are applied client-side.
        max_in_flight: the most requests one replica may have in flight.
        initial_in_flight: each replica's starting limit (it then adapts to the replica's answers).
        backoff: the first wait before probing a failed replica; doubled per consecutive failure.
        max_backoff: the longest wait between probes.
        max_wait: fail a request after this many seconds with no replica able to take it.
        min_tries: a request fails only after failing on every replica *and* this many tries, so
            a one-replica fleet still rides out a blip.
        tolerance: latency above ``tolerance`` times the fastest answer seen shrinks the limit.

    Raises:
        UsageError: no endpoints, a repeated or invalid endpoint, or an invalid numeric argument.

    Example:
        >>> fleet = FleetBackend(["http://10.0.0.1:8080", "http://10.0.0.2:8080"], "airoboros")
        >>> fleet.complete(Request(prompt="USER: hi ASSISTANT:"))  # doctest: +SKIP
    """

    # Real backend: it checks the test guard itself (the pytest plugin need not wrap it).
    __funcroute_checks_requests__ = True

    name = "fleet"

    def __init__(
        self,
        endpoints: Sequence[str],
        model: str,
        api_key: str | None = None,
        *,
        timeout: float = 60.0,
        structured: StructuredMode = "none",
        extra_body: Mapping[str, Any] | None = None,
        max_stop: int = 4,
        max_in_flight: int = 8,
        initial_in_flight: int = 2,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        max_wait: float = 120.0,
        min_tries: int = 3,
        tolerance: float = 2.0,
    ) -> None:
        check_allowed(self, "constructed")
        _check_endpoints(endpoints)
        if max_in_flight < 1 or initial_in_flight < 1 or min_tries < 1:
            raise UsageError("max_in_flight, initial_in_flight and min_tries must be >= 1")
        if backoff <= 0 or max_backoff < backoff or max_wait <= 0 or tolerance <= 1:
            raise UsageError("need 0 < backoff <= max_backoff, max_wait > 0 and tolerance > 1")
        # One OpenAIBackend per replica builds bodies and reads answers; its own retries are off
        # (the fleet retries elsewhere instead), and it never opens its clients.
        self._backends = [
            OpenAIBackend(
                url,
                model,
                api_key,
                timeout=timeout,
                max_retries=0,
                structured=structured,
                extra_body=extra_body,
                max_stop=max_stop,
                client=_NO_CLIENT,
            )
            for url in endpoints
        ]
        self._replicas = [
            Replica(
                _redact_url(url.rstrip("/")),
                initial_in_flight=initial_in_flight,
                max_in_flight=max_in_flight,
                backoff=backoff,
                max_backoff=max_backoff,
                tolerance=tolerance,
            )
            for url in endpoints
        ]
        self._probe_urls = [b.url.rsplit("/", 1)[0] + "/models" for b in self._backends]
        self.model, self.timeout, self.max_in_flight = model, timeout, max_in_flight
        self.max_wait, self.min_tries = max_wait, min_tries
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._client: httpx.AsyncClient | None = None
        self._changed: asyncio.Event | None = None
        self._probes: dict[int, asyncio.Task[None]] = {}
        self._closed = False

    def __repr__(self) -> str:
        urls = [r.url for r in self._replicas]
        return f"FleetBackend(endpoints={urls!r}, model={self.model!r})"

    @property
    def capacity(self) -> int:
        """The most requests the fleet may have in flight at once (all replicas at their cap)."""
        return self.max_in_flight * len(self._replicas)

    def stats(self) -> list[ReplicaStats]:
        """A snapshot of every replica (state, in flight, limit, latency, counts)."""
        now = time.monotonic()
        return [r.stats(now) for r in self._replicas]

    # -- the loop thread ----------------------------------------------------------------------------

    def _submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        with self._lock:
            if self._closed:
                coro.close()
                raise BackendError(self.name, "backend is closed", retryable=False)
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="funcroute-fleet", daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def complete(self, request: Request) -> Completion:
        """Send one request to the best replica, retrying elsewhere on failure.

        Args:
            request: the prompt and its stop strings, token budget and optional schema.

        Returns:
            The reply.

        Raises:
            BackendError: the request failed on every replica, no replica could take it within
                ``max_wait``, or the request itself was refused (4xx).
        """
        check_allowed(self, "asked for a completion (complete)")
        return self._submit(self._run(request)).result()

    async def acomplete(self, request: Request) -> Completion:
        """Async twin of :meth:`complete`; works from any event loop."""
        check_allowed(self, "asked for a completion (acomplete)")
        return await asyncio.wrap_future(self._submit(self._run(request)))

    def complete_many(self, requests: Sequence[Request]) -> list[Completion]:
        """Send several requests at once over the fleet, keeping their order.

        Raises:
            BackendError: the first failure in request order (the other requests still finish).
        """
        check_allowed(self, "asked for a completion (complete_many)")
        futures = [self._submit(self._run(r)) for r in requests]
        concurrent.futures.wait(futures)
        return [f.result() for f in futures]

    def close(self) -> None:
        """Stop probes, close connections and the loop thread. Safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=10)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
            if not thread.is_alive():
                loop.close()

    async def _shutdown(self) -> None:
        for task in self._probes.values():
            task.cancel()
        await asyncio.gather(*self._probes.values(), return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()

    # -- scheduling (on the loop thread) ------------------------------------------------------------

    def _notify(self) -> None:
        """Wake every request waiting for a slot, a probe or the end of a pause."""
        if self._changed is not None:
            self._changed.set()
        self._changed = asyncio.Event()

    async def _acquire(self, failed_on: dict[int, str], tries: int, throttled_since: float | None) -> int:
        """The index of the replica the next try goes to; waits while none can take it.

        ``throttled_since``: when this request was first told to wait (429/503); being throttled
        counts toward ``max_wait`` across tries, so a server that always says "later" ends it.
        """
        unavailable_since = throttled_since
        while True:
            now = time.monotonic()
            everywhere = len(failed_on) == len(self._replicas)
            if everywhere and tries >= self.min_tries:
                reasons = "; ".join(failed_on.values())
                raise BackendError(
                    self.name,
                    f"failed on every replica ({len(self._replicas)}, {tries} tries): {reasons}",
                    retryable=True,
                )
            # Untried replicas first; once all have failed it, any replica (min_tries not yet met).
            pool = [i for i in range(len(self._replicas)) if everywhere or i not in failed_on]
            free = [i for i in pool if self._replicas[i].has_slot(now)]
            if free:
                return min(free, key=lambda i: (self._replicas[i].in_flight, self._replicas[i].ewma or 0.0))
            if any(self._replicas[i].state(now) == "up" for i in pool):
                unavailable_since = throttled_since  # all busy, but working: waiting is progress
            elif unavailable_since is None:
                unavailable_since = now
            if unavailable_since is not None and now - unavailable_since >= self.max_wait:
                states = "; ".join(
                    f"{r.url} {r.state(now)} ({r.last_error or 'no error'})"
                    for r in (self._replicas[i] for i in pool)
                )
                raise BackendError(
                    self.name,
                    f"no replica could take the request for {self.max_wait:g}s: {states}",
                    retryable=True,
                )
            wake = [
                self._replicas[i].paused_until - now for i in pool if self._replicas[i].state(now) == "paused"
            ]
            timeout = min([*wake, self.max_wait, 1.0])
            if self._changed is None:
                self._changed = asyncio.Event()
            try:
                await asyncio.wait_for(self._changed.wait(), timeout=max(timeout, 0.001))
            except asyncio.TimeoutError:
                pass

    async def _run(self, request: Request) -> Completion:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=self.timeout,
                limits=httpx.Limits(max_connections=self.capacity + len(self._replicas)),
                trust_env=False,
            )
        body = self._backends[0].build_body(request)  # replicas differ only in their URL
        failed_on: dict[int, str] = {}
        tries = 0
        throttled_since: float | None = None
        while True:
            index = await self._acquire(failed_on, tries, throttled_since)
            replica, backend = self._replicas[index], self._backends[index]
            tries += 1
            replica.in_flight += 1
            start = time.perf_counter()
            try:
                completion = await self._try(backend, body, request, start)
            except _Throttled as exc:
                now = time.monotonic()
                replica.throttle(exc.retry_after, str(exc), now)
                throttled_since = throttled_since or now
                continue
            except _Failure as exc:
                failed_on[index] = str(exc)
                if replica.failed_now(str(exc), time.monotonic(), answered=exc.answered):
                    self._start_probe(index)
                continue
            finally:
                replica.in_flight -= 1
                self._notify()
            replica.succeeded(time.perf_counter() - start)
            return completion

    async def _try(
        self, backend: OpenAIBackend, body: dict[str, Any], request: Request, start: float
    ) -> Completion:
        """One POST; raises :class:`_Failure`, :class:`_Throttled` or a final ``BackendError``."""
        assert self._client is not None
        url = _redact_url(backend.url)
        try:
            response = await self._client.post(backend.url, json=body, headers=backend._headers())
        except httpx.TimeoutException as exc:
            raise _Failure(f"{url} timed out after {self.timeout:g}s ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise _Failure(f"{url} connection failed ({type(exc).__name__}: {exc})") from exc
        status = response.status_code
        if status >= 400:
            message = f"HTTP {status} from {url}: {backend._snippet(response) or '(empty body)'}"
            retry_after = _retry_after(response)
            if status == 429 or (status == 503 and retry_after is not None):
                raise _Throttled(message, retry_after if retry_after is not None else 1.0)
            if status >= 500 or status in _REPLICA_FAULT_STATUS:
                raise _Failure(message, answered=status >= 500)
            raise BackendError(self.name, message, retryable=False)  # the request itself is refused
        try:
            return backend._parse(response, request, time.perf_counter() - start)
        except BackendError as exc:  # a body that is not a completion: the replica is broken
            raise _Failure(str(exc)) from exc

    def _start_probe(self, index: int) -> None:
        task = self._probes.get(index)
        if task is None or task.done():
            self._probes[index] = asyncio.get_running_loop().create_task(self._probe(index))

    async def _probe(self, index: int) -> None:
        """Poll a down replica until it answers, then put it back in rotation."""
        replica = self._replicas[index]
        assert self._client is not None
        while replica.down:
            await asyncio.sleep(max(0.0, replica.down_until - time.monotonic()))
            try:
                headers = self._backends[index]._headers()
                response = await self._client.get(
                    self._probe_urls[index], headers=headers, timeout=min(self.timeout, 5.0)
                )
                alive = response.status_code < 500
                reason = f"probe: HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                alive, reason = False, f"probe: {type(exc).__name__}: {exc}"
            if alive:
                replica.probe_passed()
                self._notify()
            else:
                replica.probe_failed(f"{replica.url} {reason}", time.monotonic())


class _NoClient(httpx.Client):
    """Stands in for the per-replica sync clients, which the fleet never uses."""

    def __init__(self) -> None:
        super().__init__(transport=httpx.MockTransport(self._refuse))

    @staticmethod
    def _refuse(request: httpx.Request) -> httpx.Response:  # pragma: no cover - never called
        raise RuntimeError("the fleet sends every request on its own client")


_NO_CLIENT = _NoClient()
