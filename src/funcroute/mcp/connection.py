"""One open connection to an MCP server, usable from any thread (the SDK's ``Client`` in a loop thread).

The SDK client is async and lives inside ``async with``; funcroute handlers are called from plain
threads and from event loops alike. So each connection runs its own event loop in one daemon
thread, and callers submit requests to it with a bounded wait. The loop thread holds only a
``_Runtime``, never the connection itself, so a connection nobody holds is garbage-collected and
its finalizer stops the loop and the server process (as ``close()`` and interpreter exit do).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import shlex
import threading
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import anyio
import mcp_types as types
from mcp import Client, StdioServerParameters
from mcp.client.session import ElicitationFnT
from mcp.server import MCPServer, Server
from mcp.shared.exceptions import MCPError
from pydantic import ValidationError

from funcroute.errors import FuncRouteError, UsageError
from funcroute.mcp._convert import ImportLimits

__all__ = ["MCPCallError", "MCPConnection", "MCPConnectionError", "MCPTimeoutError", "ServerTarget"]

T = TypeVar("T")

#: What names a server: an ``http(s)://`` URL (streamable HTTP), a command line (a string, split
#: like a shell would, or a list of arguments: run as a stdio subprocess), ``StdioServerParameters``,
#: or an in-process SDK ``Server``/``MCPServer``.
ServerTarget = str | Sequence[str] | StdioServerParameters | Server[Any] | MCPServer


class MCPConnectionError(FuncRouteError):
    """Connecting to an MCP server, or listing its tools, failed; or the connection is closed."""


class MCPCallError(FuncRouteError):
    """An MCP server answered a tool call with an error (a tool error or a protocol error).

    Attributes:
        tool: the tool's name on the server.
    """

    def __init__(self, tool: str, message: str) -> None:
        self.tool = tool
        super().__init__(message)


class MCPTimeoutError(MCPCallError):
    """An MCP server did not answer within the time limit."""


class _Runtime:
    """The background loop, its thread and the open client.

    Kept apart from MCPConnection, and never referring back to it, so that a connection nobody
    holds any more is garbage-collected and its finalizer stops the loop and the server.
    """

    def __init__(self, target: Any, headers: dict[str, str], elicitation: ElicitationFnT | None) -> None:
        self.target = target
        self.headers = headers
        self.elicitation = elicitation
        self.read_timeout = 60.0
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.client: Client | None = None
        self.error: BaseException | None = None
        self.stop: asyncio.Event | None = None
        self.main: asyncio.Task[None] | None = None
        self.thread: threading.Thread | None = None
        self.closed = False

    def run(self) -> None:
        loop = self.loop
        asyncio.set_event_loop(loop)
        try:
            self.main = loop.create_task(self._main())
            loop.run_until_complete(self.main)
        except BaseException as exc:  # cancelled while connecting, or the transport failed
            self.error = self.error or exc
        finally:
            self.closed = True
            self.ready.set()
            pending = asyncio.all_tasks(loop)
            for task in pending:  # calls in flight end now instead of waiting for their timeout
                task.cancel()
            with contextlib.suppress(BaseException):
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            with contextlib.suppress(BaseException):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _main(self) -> None:
        async with contextlib.AsyncExitStack() as stack:
            target: Any = self.target
            if isinstance(target, str) and self.headers:
                import httpx2
                from mcp.client.streamable_http import streamable_http_client

                http = await stack.enter_async_context(httpx2.AsyncClient(headers=self.headers))
                target = streamable_http_client(target, http_client=http)
            client = Client(
                target,
                read_timeout_seconds=self.read_timeout,
                elicitation_callback=self.elicitation,
                cache=None,  # listing must see the server's tools as they are now
            )
            try:
                await stack.enter_async_context(client)
            except BaseException as exc:
                self.error = exc
                raise
            stop = asyncio.Event()
            self.stop = stop
            self.client = client
            self.ready.set()
            await stop.wait()

    def shutdown(self, wait: float = 10.0) -> None:
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(RuntimeError):  # the loop already stopped
            self.loop.call_soon_threadsafe(self._stop_main)
        if self.thread is not None and self.thread is not threading.current_thread():
            self.thread.join(wait)

    def _stop_main(self) -> None:
        if self.stop is not None:
            self.stop.set()
        if self.main is not None and self.stop is None:  # still connecting: abandon the attempt
            self.main.cancel()


class MCPConnection:
    """One open connection to an MCP server, usable from any thread.

    Args:
        server: the server (see :data:`ServerTarget`).
        connect_timeout: seconds allowed to start the server and finish the handshake.
        call_timeout: seconds each request (listing, a tool call) may take.
        headers: extra HTTP headers for a URL target (e.g. ``Authorization``).
        env: environment of a stdio server process (default: the SDK's safe subset of ours).
        cwd: working directory of a stdio server process.
        elicitation_callback: answers the server's elicitation requests (the SDK's signature);
            without one the client declares no elicitation support.

    Raises:
        MCPConnectionError: the server could not be started or reached, or did not answer in time.
    """

    def __init__(
        self,
        server: ServerTarget,
        *,
        connect_timeout: float = 30.0,
        call_timeout: float = 60.0,
        headers: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        elicitation_callback: ElicitationFnT | None = None,
    ) -> None:
        for label, value in (("connect_timeout", connect_timeout), ("call_timeout", call_timeout)):
            if not (isinstance(value, (int, float)) and 0 < value < float("inf")):
                raise UsageError(f"{label} must be a positive number of seconds, got {value!r}")
        self.call_timeout = float(call_timeout)
        target, self.label = _resolve(server, env, cwd)
        self._runtime = _Runtime(target, dict(headers or {}), elicitation_callback)
        self._runtime.read_timeout = self.call_timeout
        self._finalizer = weakref.finalize(self, self._runtime.shutdown)
        thread = threading.Thread(target=self._runtime.run, name=f"funcroute-mcp {self.label}", daemon=True)
        self._runtime.thread = thread
        thread.start()
        runtime = self._runtime
        if not runtime.ready.wait(connect_timeout) or runtime.client is None:
            error = runtime.error
            reason = "did not finish the MCP handshake in time" if error is None else _describe(error)
            self.close()
            raise MCPConnectionError(f"cannot connect to the MCP server {self.label}: {reason}")

    def _submit(
        self, make: Callable[[Client], Awaitable[T]], what: str, tool: str = "", limit: float | None = None
    ) -> T:
        client = self._runtime.client
        if client is None or self._runtime.closed:
            error = self._runtime.error
            reason = f": {_describe(error)}" if error is not None else ""
            raise MCPConnectionError(f"the connection to the MCP server {self.label} is closed{reason}")

        seconds = self.call_timeout if limit is None else limit

        async def bounded() -> T:
            with anyio.fail_after(seconds):
                return await make(client)

        try:
            future = asyncio.run_coroutine_threadsafe(bounded(), self._runtime.loop)
        except RuntimeError:  # the loop closed between the check above and now
            raise MCPConnectionError(f"the connection to the MCP server {self.label} is closed") from None
        try:
            return future.result(seconds + 5.0)  # the loop's own limit fires first
        except (TimeoutError, concurrent.futures.TimeoutError):
            future.cancel()
            raise MCPTimeoutError(
                tool, f"the MCP server {self.label} did not answer {what} within {seconds:g} s"
            ) from None
        except concurrent.futures.CancelledError:
            raise MCPConnectionError(
                f"the connection to the MCP server {self.label} closed during {what}"
            ) from None
        except MCPError as exc:
            raise MCPCallError(tool, f"the MCP server {self.label} failed {what}: {exc}") from exc
        except ValidationError as exc:  # the SDK checks every answer against the MCP schema
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_url=False)[:3]
            )
            raise MCPCallError(
                tool,
                f"the MCP server {self.label} answered {what} with data that breaks the MCP schema: "
                f"{problems}",
            ) from None
        except Exception as exc:  # the transport failed in some other way
            raise MCPCallError(tool, f"the MCP server {self.label} failed {what}: {_describe(exc)}") from exc

    # ------------------------------------------------------------------------------ operations

    def list_tools(self, limits: ImportLimits | None = None) -> list[types.Tool]:
        """Every tool the server lists, following pagination within ``limits``."""
        limits = limits or ImportLimits()
        found: list[types.Tool] = []
        cursor: str | None = None
        for _ in range(limits.max_pages):
            try:
                page = self._submit(lambda c, at=cursor: c.list_tools(cursor=at), "tools/list")  # type: ignore[misc]
            except MCPTimeoutError as exc:  # the SDK drops replies it cannot parse: say so
                raise MCPConnectionError(f"{exc} (or sent a reply the MCP SDK could not read)") from None
            except MCPCallError as exc:
                raise MCPConnectionError(str(exc)) from exc.__cause__
            found.extend(page.tools)
            if len(found) > limits.max_tools:
                raise MCPConnectionError(
                    f"the MCP server {self.label} lists more than {limits.max_tools} tools "
                    "(raise ImportLimits.max_tools to accept them)"
                )
            cursor = page.next_cursor
            if not cursor:
                return found
        raise MCPConnectionError(
            f"the MCP server {self.label} returned more than {limits.max_pages} pages of tools"
        )

    def call_tool(
        self, name: str, arguments: Mapping[str, Any], *, timeout: float | None = None
    ) -> types.CallToolResult:
        """Call a tool on the server and return its raw result (``is_error`` results included).

        ``timeout`` overrides ``call_timeout`` for this call.
        """
        what = f"the call to {name!r}"
        seconds = self.call_timeout if timeout is None else timeout
        result = self._submit(
            lambda c: c.call_tool(name, dict(arguments), read_timeout_seconds=seconds), what, name, seconds
        )
        if not isinstance(result, types.CallToolResult):  # an extension's result type, not a tool's
            raise MCPCallError(
                name, f"the MCP server {self.label} answered {what} with {type(result).__name__}"
            )
        return result

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` ran or the connection loop ended (a dead server shows as failing calls)."""
        return self._runtime.closed

    def close(self) -> None:
        """Close the connection and stop a stdio server process; idempotent."""
        self._finalizer()

    def __enter__(self) -> MCPConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"MCPConnection({self.label}{', closed' if self.closed else ''})"


def _resolve(server: ServerTarget, env: Mapping[str, str] | None, cwd: str | None) -> tuple[Any, str]:
    """The SDK ``Client`` target for ``server`` and a short label for messages."""
    if isinstance(server, (Server, MCPServer)):
        return server, f"(in-process {server.name!r})"
    if isinstance(server, StdioServerParameters):
        return server, shlex.join([server.command, *server.args])
    if isinstance(server, str) and server.strip().lower().startswith(("http://", "https://")):
        return server.strip(), server.strip()
    if isinstance(server, str):
        try:
            argv = shlex.split(server)
        except ValueError as exc:
            raise UsageError(f"cannot read the MCP server command {server!r}: {exc}") from None
    elif isinstance(server, Sequence) and all(isinstance(a, str) for a in server):
        argv = list(server)
    else:
        raise UsageError(
            "an MCP server is a URL, a command line, StdioServerParameters or an SDK server; "
            f"got {server!r:.80}"
        )
    if not argv or not argv[0]:
        raise UsageError("the MCP server command is empty")
    params = StdioServerParameters(command=argv[0], args=argv[1:], env=dict(env) if env else None, cwd=cwd)
    return params, shlex.join(argv)


def _describe(error: BaseException) -> str:
    """One line for an error, looking inside the exception groups anyio raises."""
    while getattr(error, "exceptions", None):  # an exception group (builtin only from Python 3.11)
        error = error.exceptions[0]  # type: ignore[attr-defined]
    if isinstance(error, asyncio.CancelledError):
        return "the connection was closed"
    text = str(error) or type(error).__name__
    return f"{type(error).__name__}: {text}" if not isinstance(error, (OSError, MCPError)) else text
