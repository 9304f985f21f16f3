"""The ASGI app: OpenAI's ``/v1/chat/completions`` and ``/v1/models`` on Starlette.

Every failure is answered in OpenAI's error shape with a fitting status (400 bad request, 401 API
key, 404/405 route, 413 body too large, 422 no suitable function, 502/503 backend, 500 no valid call)
and never with a traceback. Bodies are read in chunks and refused as soon as they pass the limit.
Streams are Server-Sent Events in OpenAI's chunk shape; when the client goes away mid-stream, the
generation is told to stop at its next token.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from funcroute._install import install_hint
from funcroute.backends.base import Backend
from funcroute.errors import UsageError
from funcroute.prompts.templates import ChatTemplate, get_template
from funcroute.routing.selector import Selector
from funcroute.serve.engine import Engine, Limits, Outcome
from funcroute.serve.schemas import ApiError, ChatRequest, parse_chat_request

__all__ = ["create_app"]

_log = logging.getLogger("funcroute.serve")
_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _error(exc: ApiError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status)


class _Sink:
    """Live deltas (from the loop or a worker thread) → SSE chunk payloads on an asyncio queue."""

    def __init__(self, loop: asyncio.AbstractEventLoop, make: Any) -> None:
        self.loop = loop
        self.thread = threading.get_ident()
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.make = make

    def _put(self, delta: dict[str, Any]) -> None:
        chunk = self.make(delta)
        if threading.get_ident() == self.thread:
            self.queue.put_nowait(chunk)
        else:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, chunk)

    def content(self, text: str) -> None:
        self._put({"content": text})

    def call_start(self, index: int, call_id: str, name: str) -> None:
        call = {
            "index": index,
            "id": call_id,
            "type": "function",
            "function": {"name": name, "arguments": ""},
        }
        self._put({"tool_calls": [call]})

    def call_arguments(self, index: int, text: str) -> None:
        self._put({"tool_calls": [{"index": index, "function": {"arguments": text}}]})


class _Stream(StreamingResponse):
    """An SSE response that runs ``release`` when it ends, however it ends."""

    def __init__(self, content: AsyncIterator[str], release: Any) -> None:
        super().__init__(content, media_type="text/event-stream", headers=_SSE_HEADERS)
        self._release = release

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()


class _Server:
    def __init__(self, engine: Engine, model_name: str, api_key: str | None) -> None:
        self.engine = engine
        self.model_name = model_name
        self.api_key = api_key
        self.pending = 0
        self.created = int(time.time())

    def _authorize(self, request: Request) -> None:
        if self.api_key is None:
            return
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode(), self.api_key.encode()
        ):
            raise ApiError(401, "invalid or missing API key", code="invalid_api_key")

    async def _body(self, request: Request) -> Any:
        limit = self.engine.limits.max_body_bytes
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            raise ApiError(
                413, f"request body of {length} bytes is over the limit of {limit}", code="too_large"
            )
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise ApiError(413, f"request body is over the limit of {limit} bytes", code="too_large")
            chunks.append(chunk)
        try:
            return json.loads(b"".join(chunks), parse_constant=_reject_constant)
        except (ValueError, RecursionError) as exc:
            reason = str(exc) if isinstance(exc, ValueError) else "nested too deeply"
            raise ApiError(
                400, f"the request body is not valid JSON: {reason}", code="invalid_json"
            ) from None

    async def models(self, request: Request) -> Response:
        try:
            self._authorize(request)
        except ApiError as exc:
            return _error(exc)
        model = {"id": self.model_name, "object": "model", "created": self.created, "owned_by": "funcroute"}
        return JSONResponse({"object": "list", "data": [model]})

    async def health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def chat(self, request: Request) -> Response:
        if self.pending >= self.engine.limits.max_pending:
            return _error(ApiError(503, "the server is busy; try again", type="server_error", code="busy"))
        self.pending += 1
        release = True
        try:
            self._authorize(request)
            req = parse_chat_request(await self._body(request))
            if req.stream:
                response = self._stream(req)
                release = False  # the stream releases its slot when it ends
                return response
            cancel = threading.Event()
            outcome = await self.engine.prepare(req, None, cancel)()
            return JSONResponse(self._completion(req, outcome))
        except ApiError as exc:
            return _error(exc)
        finally:
            if release:
                self.pending -= 1

    def _stream(self, req: ChatRequest) -> Response:
        stream_id = f"chatcmpl-{uuid.uuid4().hex}"
        created = int(time.time())

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
            return {
                "id": stream_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": self.model_name,
                "choices": [choice],
            }

        sink = _Sink(asyncio.get_running_loop(), chunk)
        cancel = threading.Event()
        run = self.engine.prepare(req, sink, cancel)
        task: asyncio.Task[Outcome] = asyncio.get_running_loop().create_task(run())
        released = False

        def release() -> None:
            # Runs when the response ends for any reason (done, error, client gone, never started):
            # the backend stops at its next token and the request's slot is freed exactly once.
            nonlocal released
            cancel.set()
            if not task.done():
                task.cancel()
            if not released:
                released = True
                self.pending -= 1

        return _Stream(self._events(req, task, sink, chunk), release)

    async def _events(
        self, req: ChatRequest, task: asyncio.Task[Outcome], sink: _Sink, chunk: Any
    ) -> AsyncIterator[str]:
        getter: asyncio.Future[dict[str, Any]] | None = None
        try:
            yield _sse(chunk({"role": "assistant", "content": ""}))
            while True:
                getter = asyncio.ensure_future(sink.queue.get())
                done, _ = await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
                if getter in done:
                    yield _sse(getter.result())
                    continue
                getter.cancel()
                while not sink.queue.empty():
                    yield _sse(sink.queue.get_nowait())
                break
            try:
                outcome = task.result()
            except ApiError as exc:
                yield _sse(exc.body())
                return
            yield _sse(chunk({}, outcome.finish_reason))
            if (req.stream_options or {}).get("include_usage"):
                final = chunk({})
                final["choices"] = []
                final["usage"] = _usage(outcome)
                yield _sse(final)
            yield "data: [DONE]\n\n"
        finally:
            if getter is not None:
                getter.cancel()

    def _completion(self, req: ChatRequest, outcome: Outcome) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": outcome.content, "refusal": None}
        if outcome.calls:
            message["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in outcome.calls
            ]
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model_name,
            "choices": [
                {"index": 0, "message": message, "finish_reason": outcome.finish_reason, "logprobs": None}
            ],
            "usage": _usage(outcome),
        }


def _usage(outcome: Outcome) -> dict[str, int]:
    total = outcome.prompt_tokens + outcome.completion_tokens
    return {
        "prompt_tokens": outcome.prompt_tokens,
        "completion_tokens": outcome.completion_tokens,
        "total_tokens": total,
    }


def _sse(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload, ensure_ascii=False, separators=(',', ':'))}\n\n"


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    message = exc.detail if isinstance(exc, HTTPException) else "internal server error"
    return _error(ApiError(status, f"{message}: {request.method} {request.url.path}", code=str(status)))


async def _crash(request: Request, exc: Exception) -> Response:
    _log.error(
        "unexpected error serving %s %s: %s: %s", request.method, request.url.path, type(exc).__name__, exc
    )
    return _error(ApiError(500, "internal server error", type="server_error"))


def create_app(
    backend: Backend | Selector | None = None,
    *,
    template: str | ChatTemplate = "airoboros-2",
    model_name: str = "funcroute",
    api_key: str | None = None,
    limits: Limits | None = None,
) -> Starlette:
    """Build the OpenAI-compatible ASGI app for ``backend``.

    Args:
        backend: any funcroute backend, or a selector that needs no model; ``None`` is the
            offline semantic router.
        template: the chat template the model was trained with.
        model_name: the model id ``/v1/models`` lists (requests may name any model).
        api_key: when given, every request needs ``Authorization: Bearer <api_key>``.
        limits: body size, tool count, generation and concurrency limits.

    Returns:
        A Starlette app; run it with uvicorn (``funcroute serve`` does).

    Raises:
        UsageError: no backend and the offline router's extra is not installed.
    """
    if backend is None:
        try:
            from funcroute.offline.selector import SemanticSelector
        except ImportError as exc:
            raise UsageError(
                "no model given and the offline semantic router is unavailable "
                f"({install_hint('semantic')}), or serve a model: {exc}"
            ) from None
        backend = SemanticSelector()
    engine = Engine(backend, get_template(template), limits or Limits())
    server = _Server(engine, model_name, api_key)
    routes = [
        Route("/v1/chat/completions", server.chat, methods=["POST"]),
        Route("/v1/models", server.models, methods=["GET"]),
        Route("/health", server.health, methods=["GET"]),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_error, Exception: _crash})
    app.state.engine = engine
    return app
