"""A client for OpenAI-compatible *completions* servers (llama.cpp, vLLM, TGI, text-generation-webui, Ollama).

funcroute renders the chat template itself, so this backend posts the finished prompt to the plain
completions endpoint (never chat completions, which would apply a second template). The URL is
``{base_url}/v1/completions``, or ``{base_url}/completions`` when ``base_url`` already ends in ``/v1``
(the form OpenAI client libraries use), so both ``http://127.0.0.1:8080`` and
``http://127.0.0.1:8080/v1`` work.

Each request sends ``model``, ``prompt``, ``max_tokens``, ``temperature`` 0 (greedy, reproducible),
and up to ``max_stop`` (default 4, the OpenAI and TGI limit) of the request's stop strings. Every stop
string, and the request's ``stop_when`` detector, is also applied to the returned text here, so a
server that ignores or limits ``stop`` still yields a correctly cut reply.

Constrained output (``structured``, used only when the request carries a JSON Schema):

=================  ==================================================  ================================
``structured``     sent in the body                                    servers that take it
=================  ==================================================  ================================
``"none"``         nothing; the router validates and repairs replies   all (TGI and Ollama: use this)
``"grammar"``      ``grammar`` and ``grammar_string``: a GBNF grammar  llama.cpp ``llama-server``,
                   from :func:`funcroute.constrain.gbnf.schema_to_     ``llama_cpp.server``
                   gbnf`, with no free whitespace                      (``grammar``); text-generation-
                                                                       webui (``grammar_string``)
``"json_schema"``  ``response_format`` = ``{"type": "json_schema",     vLLM and other OpenAI-style
                   "json_schema": {"name", "schema"}}`` plus a top-    servers (``response_format``);
                   level ``json_schema`` = the schema                  llama.cpp ``llama-server``
                                                                       (``json_schema``)
``"guided_json"``  ``guided_json`` = the schema                        vLLM before 0.12
``"structured_     ``structured_outputs`` = ``{"json": schema}``       vLLM 0.10.2 and later
outputs"``
=================  ==================================================  ================================

Current versions of these servers ignore the body keys they do not know (very old vLLM releases
rejected them; use ``extra_body`` and ``"none"`` there). For llama.cpp prefer ``"grammar"``: the
server's own schema converter allows whitespace between tokens, which weak models fill until
``max_tokens``. Ollama's and TGI's ``/v1/completions`` take no schema this backend sends.

Failures become :class:`funcroute.errors.BackendError`. Connection errors, timeouts, dropped
connections, HTTP 5xx, 408 and 429 are retried with exponential backoff (``backoff * 2**n`` seconds)
up to ``max_retries`` times, after which the error says how many tries were made and has
``retryable=True``. Other 4xx answers and malformed bodies (not JSON, no ``choices[0].text``) fail at
once with ``retryable=False``. Errors name the endpoint URL and HTTP status; the API key is never
logged, shown in errors, or included in ``repr``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal, get_args

import httpx

from funcroute._lru import LRUCache, schema_key
from funcroute.backends._openai_http import (
    Retry,
    check_status,
    parse_completion,
    redact_url,
    snippet,
    transport_error,
)
from funcroute.backends._retry import RetryPolicy
from funcroute.backends.base import Backend, Completion, Request
from funcroute.errors import BackendError, UsageError
from funcroute.testing.guard import check_allowed

__all__ = ["OpenAIBackend", "StructuredMode"]

logger = logging.getLogger(__name__)

#: How a request's JSON Schema is sent to the server (see the module docstring).
StructuredMode = Literal["none", "grammar", "json_schema", "guided_json", "structured_outputs"]

_GRAMMAR_CACHE = 64


class OpenAIBackend(Backend):
    """Complete prompts with an OpenAI-compatible completions server.

    Args:
        base_url: the server, e.g. ``http://127.0.0.1:8080`` (``/v1/completions`` is appended) or
            ``http://127.0.0.1:8000/v1`` (``/completions`` is appended).
        model: the model name the server expects (llama.cpp accepts any).
        api_key: sent as ``Authorization: Bearer ...`` when given; never logged or shown.
        timeout: seconds allowed for connecting and for each read or write.
        max_retries: how many times a retryable failure is retried (so ``max_retries + 1`` tries).
        backoff: the first retry waits this many seconds; each later one twice as long.
        structured: how a request's JSON Schema is sent; see the module docstring.
        extra_body: keys merged into every request body (e.g. ``{"top_k": 1}``, ``{"temperature":
            0.7}``); a request's ``extra["extra_body"]`` is merged after it.
        client: an ``httpx.Client`` to use for synchronous calls (not closed by :meth:`close`).
        max_stop: how many stop strings to send; the rest are applied client-side only.
        concurrency: the most requests :meth:`complete_many` has in flight at once.

    Raises:
        UsageError: an invalid ``base_url``, ``structured`` mode or numeric argument.

    Example:
        >>> backend = OpenAIBackend("http://127.0.0.1:8080", "airoboros", structured="grammar")
        >>> backend.complete(Request(prompt="USER: hi ASSISTANT:", stop=("USER:",)))  # doctest: +SKIP
    """

    # Real backend: it checks the test guard itself (the pytest plugin need not wrap it).
    __funcroute_checks_requests__ = True

    name = "openai"

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        *,
        timeout: float = 60.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        structured: StructuredMode = "none",
        extra_body: Mapping[str, Any] | None = None,
        client: httpx.Client | None = None,
        max_stop: int = 4,
        concurrency: int = 8,
    ) -> None:
        check_allowed(self, "constructed")
        if not base_url.startswith(("http://", "https://")):
            raise UsageError(f"base_url must start with http:// or https://, got {base_url!r}")
        if structured not in get_args(StructuredMode):
            raise UsageError(f"structured must be one of {get_args(StructuredMode)}, got {structured!r}")
        if timeout <= 0 or max_retries < 0 or backoff < 0 or max_stop < 0 or concurrency < 1:
            raise UsageError(
                "timeout must be > 0, max_retries, backoff and max_stop >= 0, and concurrency >= 1"
            )
        root = base_url.rstrip("/")
        self.url = root + ("/completions" if root.endswith("/v1") else "/v1/completions")
        self.model = model
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.structured: StructuredMode = structured
        self.extra_body: dict[str, Any] = dict(extra_body or {})
        self.max_stop = max_stop
        self.concurrency = concurrency
        self._api_key = api_key
        self._display_url = redact_url(self.url)
        self._owns_client = client is None
        self._client = client if client is not None else httpx.Client(timeout=timeout)
        self._aclient: httpx.AsyncClient | None = None
        self._aloop: asyncio.AbstractEventLoop | None = None
        self._grammars: LRUCache[str] = LRUCache(_GRAMMAR_CACHE)
        self._closed = False

    def __repr__(self) -> str:
        return (
            f"OpenAIBackend(url={self._display_url!r}, model={self.model!r}, "
            f"structured={self.structured!r}, api_key={'***' if self._api_key else None})"
        )

    # -- request building --------------------------------------------------------------------------

    @property
    def _label(self) -> str:
        return f"{self.name} ({self._display_url})"

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    def _grammar(self, schema: Mapping[str, Any]) -> str:
        from funcroute.constrain.gbnf import schema_to_gbnf

        # complete_many builds bodies from its thread pool: the cache is a locked LRU.
        return self._grammars.get_or_build(schema_key(schema), lambda: schema_to_gbnf(schema))

    def build_body(self, request: Request) -> dict[str, Any]:
        """The JSON body posted for ``request`` (exposed for inspection and tests).

        Args:
            request: the request to send.

        Returns:
            The body as a dict.
        """
        body: dict[str, Any] = {
            "model": self.model,
            "prompt": request.prompt,
            "max_tokens": request.max_new_tokens,
            "temperature": 0.0,
            "stream": False,
        }
        stops = [s for s in dict.fromkeys(request.stop) if s]
        if stops and self.max_stop:
            body["stop"] = stops[: self.max_stop]
        schema = request.schema
        if request.grammar is not None and self.structured == "grammar":
            from funcroute.constrain.formats import to_gbnf

            grammar = to_gbnf(request.grammar)
            body["grammar"] = grammar
            body["grammar_string"] = grammar
        elif schema is not None and self.structured != "none":
            if self.structured == "grammar":
                grammar = self._grammar(schema)
                body["grammar"] = grammar
                body["grammar_string"] = grammar
            elif self.structured == "json_schema":
                body["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {"name": "reply", "schema": schema},
                }
                body["json_schema"] = schema
            elif self.structured == "guided_json":
                body["guided_json"] = schema
            else:
                body["structured_outputs"] = {"json": schema}
        body.update(self.extra_body)
        per_request = request.extra.get("extra_body")
        if isinstance(per_request, Mapping):
            body.update(per_request)
        return body

    # -- response handling (the wire details live in _openai_http) -----------------------------------

    def _snippet(self, response: httpx.Response) -> str:
        return snippet(response, self._api_key)

    def _check_status(self, response: httpx.Response) -> None:
        check_status(response, self._label, self._display_url, self._api_key)

    def _parse(self, response: httpx.Response, request: Request, elapsed: float) -> Completion:
        return parse_completion(response, request, elapsed, self._label, self._display_url, self._api_key)

    def _transport_error(self, exc: httpx.HTTPError) -> Retry:
        return transport_error(exc, self._label, self._display_url, self.timeout)

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy both request loops follow (from ``max_retries`` and ``backoff``)."""
        return RetryPolicy(self.max_retries, self.backoff)

    def _after_failure(self, failures: int, exc: httpx.HTTPError | Retry) -> float:
        """How long to wait after the ``failures``-th failed try; raises when it is the last one."""
        failure = self._transport_error(exc) if isinstance(exc, httpx.HTTPError) else exc
        delay = self.retry.delay(failures, failure.retry_after)
        if delay is None:
            noun = "try" if failures == 1 else "tries"
            raise BackendError(
                self._label, f"gave up after {failures} {noun}: {failure}", retryable=True
            ) from None
        logger.debug("retrying %s in %.2fs after: %s", self._display_url, delay, failure)
        return delay

    # -- public API ---------------------------------------------------------------------------------

    def complete(self, request: Request) -> Completion:
        """Send one request, retrying transient failures.

        Args:
            request: the prompt and its stop strings, token budget and optional schema.

        Returns:
            The reply, cut at the first stop string or where ``request.stop_when`` says.

        Raises:
            BackendError: the server failed (see the module docstring for what is retried).
        """
        check_allowed(self, "asked for a completion (complete)")
        if self._closed:
            raise BackendError(self._label, "backend is closed", retryable=False)
        body = self.build_body(request)
        failures = 0
        while True:
            start = time.perf_counter()
            try:
                response = self._client.post(
                    self.url, json=body, headers=self._headers(), timeout=self.timeout
                )
                self._check_status(response)
            except (httpx.HTTPError, Retry) as exc:
                failures += 1
                time.sleep(self._after_failure(failures, exc))
                continue
            return self._parse(response, request, time.perf_counter() - start)

    def _async_client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._aclient is None or self._aloop is not loop:
            # No keep-alive: no socket outlives a request, so a client left behind by an event loop
            # that has since closed holds nothing open (and leaks nothing).
            self._aclient = httpx.AsyncClient(
                timeout=self.timeout, limits=httpx.Limits(max_keepalive_connections=0)
            )
            self._aloop = loop
        return self._aclient

    async def acomplete(self, request: Request) -> Completion:
        """Async twin of :meth:`complete`, over a lazily created ``httpx.AsyncClient``.

        Args:
            request: the request to send.

        Returns:
            The reply.

        Raises:
            BackendError: the server failed.
        """
        check_allowed(self, "asked for a completion (acomplete)")
        if self._closed:
            raise BackendError(self._label, "backend is closed", retryable=False)
        body = self.build_body(request)
        client = self._async_client()
        failures = 0
        while True:
            start = time.perf_counter()
            try:
                response = await client.post(
                    self.url, json=body, headers=self._headers(), timeout=self.timeout
                )
                self._check_status(response)
            except (httpx.HTTPError, Retry) as exc:
                failures += 1
                await asyncio.sleep(self._after_failure(failures, exc))
                continue
            return self._parse(response, request, time.perf_counter() - start)

    def complete_many(self, requests: Sequence[Request]) -> list[Completion]:
        """Send several requests concurrently (at most ``concurrency`` at once), keeping their order.

        Args:
            requests: the requests.

        Returns:
            One completion per request, in the same order.

        Raises:
            BackendError: the first failure in request order (the other requests still finish).
        """
        check_allowed(self, "asked for a completion (complete_many)")
        if len(requests) <= 1:
            return [self.complete(r) for r in requests]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(requests))) as pool:
            futures = [pool.submit(self.complete, r) for r in requests]
            return [f.result() for f in futures]

    async def aclose(self) -> None:
        """Close the async client (when called on its event loop) and the sync one."""
        client, self._aclient, self._aloop = self._aclient, None, None
        if client is not None:
            await client.aclose()
        self.close()

    def close(self) -> None:
        """Close the HTTP clients this backend created. Safe to call twice."""
        self._closed = True
        client, self._aclient, self._aloop = self._aclient, None, None
        if client is not None:
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is None:
                # Without keep-alive the pool is empty between requests; closing needs no I/O.
                try:
                    asyncio.run(client.aclose())
                except Exception:  # pragma: no cover - best effort
                    logger.debug("could not close the async client", exc_info=True)
        if self._owns_client:
            self._client.close()
