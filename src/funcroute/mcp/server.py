"""Serve a ToolSet to MCP clients, over stdio or streamable HTTP, with the official ``mcp`` SDK.

::

    server = mcp_server(tools)                 # an SDK low-level Server
    anyio.run(serve_stdio, server)             # or: run(tools, transport="http", port=8000)

Every tool is listed with its name, description and JSON Schema. A call is validated by the
ToolSet (the same validator the router uses): bad arguments, unknown tools and handler failures
come back as MCP tool errors (``isError``) whose text names every problem, so a calling model can
correct itself; nothing raises through to the client.

**Tools with** ``confirm=True`` never run without approval. ``approve`` decides:

* ``"elicit"`` (default): ask the client's user through MCP elicitation (a yes/no form naming the
  tool and its arguments). The call runs only if the user accepts and says yes. A client without
  elicitation support gets a refusal. On 2026-07-28 connections the question travels as an
  ``InputRequiredResult``; the approval that comes back is bound to the exact tool and arguments
  by an HMAC in ``requestState``, so it cannot be replayed for another call.
* ``"yes"``: approve every call (the operator vouches for every client: ``--yes``).
* ``"refuse"``: never run them; the client is told why.
* a callable: called with the validated :class:`~funcroute.tools.Call`; ``True`` approves.

Such tools are marked to clients: annotations ``destructiveHint: true, readOnlyHint: false`` and
``_meta["funcroute/confirm"]: true``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from typing import Any, Literal

import jsonschema
import mcp_types as types
from mcp.server import Server, ServerRequestContext
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from starlette.applications import Starlette

from funcroute import __version__
from funcroute.errors import CallValidationError, FuncRouteError, UsageError
from funcroute.mcp._convert import call_result, error_result, mcp_tool, output_schema
from funcroute.tools.call import Call
from funcroute.tools.tool import Tool
from funcroute.tools.toolset import ToolSet

__all__ = ["ApprovalPolicy", "http_app", "mcp_server", "run", "serve_stdio"]

#: How calls to ``confirm=True`` tools are approved (see the module docstring).
ApprovalPolicy = Literal["elicit", "yes", "refuse"] | Callable[[Call], bool]

_APPROVAL_KEY = "funcroute_approval"
_ELICIT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "approve": {
            "type": "boolean",
            "title": "Run this call?",
            "description": "Yes runs the tool with exactly these arguments.",
            "default": False,
        }
    },
    "required": ["approve"],
}
_ELICIT_CAPABILITY = types.ClientCapabilities(elicitation=types.ElicitationCapability())


class _ToolServer:
    """The request handlers: list the ToolSet's tools, validate and run calls."""

    def __init__(self, tools: ToolSet, approve: ApprovalPolicy, page_size: int) -> None:
        if not callable(approve) and approve not in ("elicit", "yes", "refuse"):
            raise UsageError(f"approve must be 'elicit', 'yes', 'refuse' or a callable, got {approve!r}")
        if page_size < 1:
            raise UsageError(f"page_size must be at least 1, got {page_size!r}")
        self.tools = tools
        self.approve = approve
        self.page_size = page_size
        # A served ToolSet does not change: describe it once.
        self._outputs = {tool.name: _output(tool) for tool in tools}
        self.listed = [mcp_tool(tool, self._outputs[tool.name][0]) for tool in tools]
        self._secret = secrets.token_bytes(32)

    async def list_tools(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        cursor = params.cursor if params is not None else None
        start = 0
        if cursor:
            if not (cursor.isascii() and cursor.isdigit() and len(cursor) < 12) or int(cursor) > len(
                self.listed
            ):
                raise MCPError(types.INVALID_PARAMS, f"invalid tools/list cursor {cursor[:40]!r}")
            start = int(cursor)
        end = start + self.page_size
        following = str(end) if end < len(self.listed) else None
        return types.ListToolsResult(tools=self.listed[start:end], next_cursor=following)

    async def call_tool(
        self, ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult | types.InputRequiredResult:
        name = params.name
        if name not in self.tools:
            names = self.tools.names
            listed = ", ".join(names[:30]) + (" ..." if len(names) > 30 else "")
            return error_result(f"unknown tool {name[:100]!r}; available tools: {listed}")
        tool = self.tools[name]
        try:
            call = self.tools.validate(name, params.arguments or {})
        except CallValidationError as exc:
            return error_result(str(exc))
        if tool.confirm:
            verdict = await self._approval(ctx, params, tool, call)
            if verdict is not True:
                return verdict
        try:
            value = await self.tools.adispatch(call, approve=lambda _: True)  # approved above
        except FuncRouteError as exc:  # handler raised, timed out, or has no handler
            return error_result(str(exc))
        _, wrapped, check = self._outputs[name]
        return call_result(value, wrapped=wrapped, check=check)

    # ---------------------------------------------------------------------------------- approval

    async def _approval(
        self, ctx: ServerRequestContext[Any], params: types.CallToolRequestParams, tool: Tool, call: Call
    ) -> Literal[True] | types.CallToolResult | types.InputRequiredResult:
        refused = f"the call to {tool.name!r} was not run: it requires approval"
        if callable(self.approve):
            try:
                return True if self.approve(call) is True else error_result(f"{refused}, and it was refused")
            except Exception as exc:  # the operator's callback failed: refuse, never run
                return error_result(f"{refused}, and the approval check raised {type(exc).__name__}")
        if self.approve == "yes":
            return True
        if self.approve == "refuse":
            return error_result(
                f"{refused}, and this server refuses such calls (start it with --yes to allow)"
            )
        if not ctx.session.check_client_capability(_ELICIT_CAPABILITY):
            return error_result(
                f"{refused}, which this server asks for through MCP elicitation; this client does not "
                "support elicitation (or start the server with --yes)"
            )
        question = f"Run the tool {tool.name!r} with {json.dumps(call.arguments, ensure_ascii=False)[:2000]}?"
        if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
            return self._input_round(params, call, question, refused)
        try:
            answer = await ctx.session.elicit_form(
                question, _ELICIT_SCHEMA, related_request_id=ctx.request_id
            )
        except Exception as exc:  # no back-channel, the client failed: refuse
            return error_result(f"{refused}, and asking the client failed: {exc}")
        return _verdict(answer, refused)

    def _input_round(
        self, params: types.CallToolRequestParams, call: Call, question: str, refused: str
    ) -> Literal[True] | types.CallToolResult | types.InputRequiredResult:
        token = self._token(call)
        answer = (params.input_responses or {}).get(_APPROVAL_KEY)
        if answer is None:
            request = types.ElicitRequest(
                params=types.ElicitRequestFormParams(message=question, requested_schema=_ELICIT_SCHEMA)
            )
            return types.InputRequiredResult(input_requests={_APPROVAL_KEY: request}, request_state=token)
        if not hmac.compare_digest(params.request_state or "", token):
            return error_result(
                f"{refused}; the approval sent was not given for this tool and these arguments"
            )
        if not isinstance(answer, types.ElicitResult):
            return error_result(f"{refused}; the client's answer was not an elicitation result")
        return _verdict(answer, refused)

    def _token(self, call: Call) -> str:
        text = json.dumps([call.function, call.arguments], sort_keys=True, ensure_ascii=False)
        return hmac.new(self._secret, text.encode(), hashlib.sha256).hexdigest()


def _output(tool: Tool) -> tuple[dict[str, Any] | None, bool, Callable[[Any], bool] | None]:
    schema, wrapped = output_schema(tool)
    if schema is None:
        return None, False, None
    try:
        checker = jsonschema.Draft202012Validator(schema)
    except jsonschema.SchemaError:
        return None, False, None
    return schema, wrapped, checker.is_valid


def _verdict(answer: types.ElicitResult, refused: str) -> Literal[True] | types.CallToolResult:
    if answer.action == "accept" and (answer.content or {}).get("approve") is True:
        return True
    said = "declined" if answer.action != "accept" else "answered no"
    return error_result(f"{refused}, and the user {said}")


def mcp_server(
    tools: ToolSet,
    *,
    name: str = "funcroute",
    approve: ApprovalPolicy = "elicit",
    instructions: str | None = None,
    page_size: int = 500,
) -> Server[Any]:
    """An SDK low-level MCP ``Server`` exposing ``tools`` (as they are now: tools added later are not served).

    Args:
        tools: the tools to serve.
        name: the server name clients see.
        approve: how calls to ``confirm=True`` tools are approved (see the module docstring).
        instructions: text for the client describing the server.
        page_size: tools per ``tools/list`` page.
    """
    handlers = _ToolServer(tools, approve, page_size)
    return Server(
        name,
        version=__version__,
        instructions=instructions,
        on_list_tools=handlers.list_tools,
        on_call_tool=handlers.call_tool,
    )


async def serve_stdio(server: Server[Any]) -> None:
    """Serve one client over this process's stdin/stdout until it disconnects."""
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


def http_app(server: Server[Any], *, path: str = "/mcp", host: str = "127.0.0.1") -> Starlette:
    """The streamable-HTTP ASGI app for ``server`` (DNS-rebinding protection on for local hosts)."""
    return server.streamable_http_app(streamable_http_path=path, host=host)


def run(
    tools: ToolSet,
    *,
    transport: Literal["stdio", "http"] = "stdio",
    host: str = "127.0.0.1",
    port: int = 8000,
    path: str = "/mcp",
    **options: Any,
) -> None:
    """Serve ``tools`` until the client disconnects (stdio) or Ctrl-C (HTTP).

    ``options`` go to :func:`mcp_server` (``name``, ``approve``, ``instructions``, ``page_size``).
    """
    server = mcp_server(tools, **options)
    if transport == "stdio":
        import anyio

        anyio.run(serve_stdio, server)
        return
    if transport != "http":
        raise UsageError(f"transport must be 'stdio' or 'http', got {transport!r}")
    import uvicorn

    uvicorn.run(http_app(server, path=path, host=host), host=host, port=port, log_level="warning")
