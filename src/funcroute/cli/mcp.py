"""``funcroute mcp serve`` and ``funcroute mcp tools``: the CLI face of :mod:`funcroute.mcp`.

The SDK is imported only when a command runs, so ``funcroute --help`` works without it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from typing import Any

from funcroute._install import require
from funcroute.errors import UsageError

__all__ = ["add_mcp_command"]


def _sdk() -> Any:
    return require("funcroute.mcp", "mcp", "the MCP commands need the MCP SDK")


def _cmd_serve(args: argparse.Namespace) -> int:
    from funcroute.cli.loading import load_toolset

    module = _sdk()
    if args.yes and args.no_elicit:
        raise UsageError("give --yes or --no-elicit, not both")
    if not 0 < args.port < 65536:
        raise UsageError(f"--port must be 1-65535, got {args.port}")
    if not args.path.startswith("/"):
        raise UsageError(f"--path must start with '/', got {args.path!r}")
    # On stdio the protocol owns stdout: a tool module that prints while loading must not corrupt it.
    with contextlib.redirect_stdout(sys.stderr) if args.transport == "stdio" else contextlib.nullcontext():
        tools = load_toolset(args.tools)
    if len(tools) == 0:
        raise UsageError(f"{args.tools} holds no tools to serve")
    approve = "yes" if args.yes else "refuse" if args.no_elicit else "elicit"
    unbound = [t.name for t in tools if t.handler is None]
    if unbound:
        print(
            f"funcroute: {len(unbound)} tools have no handler ({', '.join(unbound[:5])}"
            f"{' ...' if len(unbound) > 5 else ''}): calls to them will fail",
            file=sys.stderr,
        )
    if args.transport == "http" and args.host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"funcroute: warning: serving on {args.host} without authentication: anyone who can reach "
            "this port can call the tools",
            file=sys.stderr,
        )
    if args.transport == "http":
        print(
            f"funcroute: serving {len(tools)} tools over MCP at http://{args.host}:{args.port}{args.path} "
            "(Ctrl-C stops)",
            file=sys.stderr,
        )
    module.run(
        tools,
        transport=args.transport,
        host=args.host,
        port=args.port,
        path=args.path,
        name=args.name,
        approve=approve,
    )
    return 0


def _cmd_tools(args: argparse.Namespace) -> int:
    module = _sdk()
    headers = {}
    for item in args.header or ():
        key, sep, value = item.partition(":")
        if not sep or not key.strip():
            raise UsageError(f"--header takes 'Name: value', got {item!r}")
        headers[key.strip()] = value.strip()
    server: Any = args.server[0] if len(args.server) == 1 else args.server
    with module.tools_from_mcp(server, headers=headers or None, timeout=args.timeout) as tools:
        if args.json:
            print(json.dumps(tools.openai_tools(), indent=2, ensure_ascii=False))
        else:
            width = max((len(t.name) for t in tools), default=0)
            for tool in tools:
                mark = "  [confirm]" if tool.confirm else ""
                print(f"{tool.name.ljust(width)}  {tool.description}{mark}")
        for gone in tools.skipped:
            print(f"funcroute: skipped {gone.name!r}: {gone.reason}", file=sys.stderr)
    return 0


def add_mcp_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``funcroute mcp {serve,tools}`` on the CLI's subparsers."""
    text = "serve tools over MCP, or list an MCP server's tools"
    cmd: argparse.ArgumentParser = subparsers.add_parser("mcp", help=text, description=text)
    sub = cmd.add_subparsers(dest="mcp_command", metavar="MCP_COMMAND")
    sub.required = True

    serve_text = "expose a ToolSet as an MCP server (stdio or streamable HTTP)"
    serve = sub.add_parser("serve", help=serve_text, description=serve_text)
    serve.add_argument("--tools", required=True, metavar="SPEC", help="tool file, Python file or module:attr")
    serve.add_argument("--transport", choices=("stdio", "http"), default="stdio")
    serve.add_argument("--host", default="127.0.0.1", help="HTTP address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="HTTP port (default 8000)")
    serve.add_argument("--path", default="/mcp", help="HTTP endpoint path (default /mcp)")
    serve.add_argument("--name", default="funcroute", help="server name shown to clients")
    approval = serve.add_argument_group(
        "confirm=True tools (default: ask the client's user through MCP elicitation; refuse if it cannot)"
    )
    approval.add_argument("--yes", action="store_true", help="run them without asking (trust every client)")
    approval.add_argument("--no-elicit", action="store_true", help="never run them")
    serve.set_defaults(handler=_cmd_serve)

    tools_text = "list the tools of an MCP server as funcroute imports them"
    tools = sub.add_parser("tools", help=tools_text, description=tools_text)
    tools.add_argument("server", nargs="+", help="a URL (http://.../mcp) or a command line (-- cmd args...)")
    tools.add_argument("--header", action="append", metavar="'NAME: VALUE'", help="HTTP header (repeatable)")
    tools.add_argument("--timeout", type=float, default=60.0, help="seconds per request")
    tools.add_argument("--json", action="store_true", help="print OpenAI-style tool specs")
    tools.set_defaults(handler=_cmd_tools)
    return cmd
