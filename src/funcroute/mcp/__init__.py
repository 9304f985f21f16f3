"""MCP both ways: serve a ToolSet to MCP clients, and import an MCP server's tools as a ToolSet.

Needs the official SDK: ``pip install "funcroute-llm[mcp]"``.

* :func:`mcp_server` / :func:`run` (and ``funcroute mcp serve``): expose a ToolSet over stdio or
  streamable HTTP; ``confirm=True`` tools never run without approval.
* :func:`tools_from_mcp` (``ToolSet.from_mcp``): connect to a server (a command line or a URL) and
  get a ToolSet whose handlers call back over MCP.
"""

from __future__ import annotations

from funcroute.mcp._convert import CONFIRM_META_KEY, ImportLimits, SkippedTool
from funcroute.mcp.client import MCPToolSet, tools_from_mcp
from funcroute.mcp.connection import (
    MCPCallError,
    MCPConnection,
    MCPConnectionError,
    MCPTimeoutError,
    ServerTarget,
)
from funcroute.mcp.server import ApprovalPolicy, http_app, mcp_server, run, serve_stdio

__all__ = [
    "CONFIRM_META_KEY",
    "ApprovalPolicy",
    "ImportLimits",
    "MCPCallError",
    "MCPConnection",
    "MCPConnectionError",
    "MCPTimeoutError",
    "MCPToolSet",
    "ServerTarget",
    "SkippedTool",
    "http_app",
    "mcp_server",
    "run",
    "serve_stdio",
    "tools_from_mcp",
]
