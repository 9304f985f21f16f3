"""Import the tools of a running MCP server as a ToolSet; dispatch goes back over MCP.

::

    with tools_from_mcp(["python", "weather_server.py"]) as tools:   # or "http://127.0.0.1:8000/mcp"
        router = Router(tools, backend)
        router.route("What's the weather in Paris?").value               # ran on the MCP server

The connection (:mod:`funcroute.mcp.connection`) works from plain synchronous code (``dispatch``,
``Router.route``) and from async code (``adispatch``, ``Router.aroute``) alike. Every wait is
bounded: connecting, listing and each call have timeouts, a server that dies fails the calls in
flight at once, and the server process is stopped when the ToolSet is closed, garbage-collected,
or the interpreter exits.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from typing import Any, Literal

import mcp_types as types
from mcp.client.session import ElicitationFnT

from funcroute.errors import ToolSpecError
from funcroute.mcp._convert import (
    ImportLimits,
    SkippedTool,
    import_tool,
    needs_confirm,
    result_text,
    result_value,
)
from funcroute.mcp.connection import MCPCallError, MCPConnection, ServerTarget
from funcroute.parsing import ParseLimits
from funcroute.tools.tool import Tool
from funcroute.tools.toolset import ToolSet

__all__ = ["MCPToolSet", "tools_from_mcp"]

_log = logging.getLogger("funcroute")


class _RemoteHandler:
    """The handler of an imported tool: sends the validated arguments to the server."""

    def __init__(self, connection: MCPConnection, remote: types.Tool, timeout: float) -> None:
        self.connection = connection
        # A second later than the tool's own timeout: ToolSet's HandlerTimeoutError answers the
        # caller first; this one then cancels the request on the server.
        self.timeout = timeout + 1.0
        self.remote_name = remote.name
        self.output_schema = remote.output_schema
        self.__name__ = remote.name  # read by error messages and thread names

    def __call__(self, **arguments: Any) -> Any:
        result = self.connection.call_tool(self.remote_name, arguments, timeout=self.timeout)
        if result.is_error:
            text = result_text(result) or "(no message)"
            raise MCPCallError(
                self.remote_name, f"the MCP tool {self.remote_name!r} reported an error: {text}"
            )
        return result_value(result, self.output_schema)


class MCPToolSet(ToolSet):
    """A ToolSet whose tools run on an MCP server; close it (or use ``with``) to disconnect.

    Attributes:
        connection: the open connection the handlers use.
        skipped: the server's tools that were not imported, with the reason for each.
    """

    def __init__(
        self,
        tools: Collection[Tool],
        *,
        connection: MCPConnection,
        skipped: Sequence[SkippedTool] = (),
        extra: Literal["forbid", "ignore"] = "forbid",
        limits: ParseLimits | None = None,
    ) -> None:
        super().__init__(tools, extra=extra, limits=limits)
        self.connection = connection
        self.skipped = list(skipped)

    def close(self) -> None:
        """Close the connection (tools stay registered but can no longer run)."""
        self.connection.close()

    def __enter__(self) -> MCPToolSet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def tools_from_mcp(
    server: ServerTarget,
    *,
    prefix: str = "",
    include: Collection[str] | None = None,
    confirm: bool | Collection[str] | None = None,
    strict: bool = False,
    connect_timeout: float = 30.0,
    timeout: float = 60.0,
    headers: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    elicitation_callback: ElicitationFnT | None = None,
    import_limits: ImportLimits | None = None,
    extra: Literal["forbid", "ignore"] = "forbid",
    limits: ParseLimits | None = None,
) -> MCPToolSet:
    """Connect to an MCP server and import its tools .

    Args:
        server: a URL, a command line, ``StdioServerParameters`` or an in-process SDK server.
        prefix: prepended to every tool name (to merge several servers without collisions); the
            server is still called by the tool's own name.
        include: import only these tools (server names); a name the server lacks is an error.
        confirm: which imported tools need approval before dispatch: ``None`` (default) those the
            server marks (funcroute's ``_meta`` mark, or explicit ``destructiveHint`` annotations),
            ``True`` all, ``False`` none, or a collection of server names.
        strict: raise :class:`~funcroute.errors.ToolSpecError` listing every tool that cannot be
            imported, instead of skipping them (they are always in ``.skipped`` and logged).
        connect_timeout: seconds to start/reach the server and finish the handshake.
        timeout: seconds each call may take; also the tools' ``timeout``.
        headers: HTTP headers for a URL server.
        env: environment of a stdio server process.
        cwd: working directory of a stdio server process.
        elicitation_callback: answers the server's elicitation requests (SDK signature).
        import_limits: bounds on tool count, pages, schema size and description length.
        extra: the ToolSet's handling of unknown parameters.
        limits: the ToolSet's reply parsing limits.

    Raises:
        MCPConnectionError: the server could not be reached or its tools could not be listed.
        ToolSpecError: with ``strict=True``, a tool could not be imported; or ``include`` names
            tools the server does not have.
    """
    # Long only by its documented options; the body is one recipe: connect, import, report, wrap.
    bounds = import_limits or ImportLimits()
    connection = MCPConnection(
        server,
        connect_timeout=connect_timeout,
        call_timeout=timeout,
        headers=headers,
        env=env,
        cwd=cwd,
        elicitation_callback=elicitation_callback,
    )
    try:
        remote_tools = connection.list_tools(bounds)
        tools, skipped = _import_all(connection, remote_tools, prefix, include, confirm, timeout, bounds)
        for gone in skipped:
            _log.warning("MCP server %s: tool %r not imported: %s", connection.label, gone.name, gone.reason)
        if strict and skipped:
            raise ToolSpecError(f"MCP server {connection.label}", [f"{s.name}: {s.reason}" for s in skipped])
        return MCPToolSet(tools, connection=connection, skipped=skipped, extra=extra, limits=limits)
    except BaseException:
        connection.close()
        raise


def _import_all(
    connection: MCPConnection,
    remote_tools: Sequence[types.Tool],
    prefix: str,
    include: Collection[str] | None,
    confirm: bool | Collection[str] | None,
    timeout: float,
    bounds: ImportLimits,
) -> tuple[list[Tool], list[SkippedTool]]:
    names = [t.name for t in remote_tools]
    if include is not None:
        missing = sorted(set(include) - set(names))
        if missing:
            listed = ", ".join(names[:20]) + (" ..." if len(names) > 20 else "")
            raise ToolSpecError(
                f"MCP server {connection.label}", [f"no tool named {n!r} (it has: {listed})" for n in missing]
            )
    tools: list[Tool] = []
    skipped: list[SkippedTool] = []
    seen: set[str] = set()
    for remote in remote_tools:
        if include is not None and remote.name not in include:
            continue
        if remote.name in seen:
            skipped.append(SkippedTool(remote.name, "the server lists more than one tool with this name"))
            continue
        seen.add(remote.name)
        wanted = (
            needs_confirm(remote)
            if confirm is None
            else (confirm if isinstance(confirm, bool) else remote.name in confirm)
        )
        made = import_tool(
            remote,
            local_name=prefix + remote.name,
            handler=_RemoteHandler(connection, remote, timeout),
            source=f"mcp:{connection.label}#{remote.name}",
            confirm=wanted,
            timeout=timeout,
            limits=bounds,
        )
        (tools if isinstance(made, Tool) else skipped).append(made)  # type: ignore[arg-type]
    return tools, skipped
