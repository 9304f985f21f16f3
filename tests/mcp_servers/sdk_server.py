"""An MCP server written with the SDK's own MCPServer (FastMCP before SDK 2): the far side of from_mcp.

Run as ``python sdk_server.py`` (stdio) or ``python sdk_server.py http PORT`` (streamable HTTP).
Its tools mix sync and async handlers, a nested pydantic model (so the schema has $defs/$ref), a
structured result, a tool-level error, a destructive tool, one that kills the process mid-call and
one that takes as long as it is told to.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import Literal

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

server = MCPServer("weather-example")


class Location(BaseModel):
    city: str = Field(description="The city name, e.g. Paris")
    country: str = Field(default="FR", description="ISO 3166 country code")


@server.tool()
def get_weather(location: Location, unit: Literal["celsius", "fahrenheit"] = "celsius") -> dict[str, object]:
    """Get the current weather for a location."""
    temperature = 21 if unit == "celsius" else 70
    return {"city": location.city, "country": location.country, "temperature": temperature, "unit": unit}


@server.tool()
async def add(a: int, b: int) -> int:
    """Add two integers."""
    await asyncio.sleep(0)
    return a + b


@server.tool()
def shout(text: str) -> str:
    """Repeat a text in capitals."""
    return text.upper()


@server.tool(annotations=ToolAnnotations(destructive_hint=True, read_only_hint=False))
def delete_file(path: str) -> str:
    """Delete a file (only pretends to)."""
    return f"deleted {path}"


@server.tool()
def fail(reason: str) -> str:
    """Always fails with the given reason (ToolError: the SDK hides other exceptions' texts)."""
    raise ToolError(reason)


@server.tool()
def crash() -> str:
    """Kill the server process in the middle of the call."""
    sys.stdout.flush()
    os._exit(3)


@server.tool()
async def wait(seconds: float) -> str:
    """Wait for some seconds, then answer."""
    await asyncio.sleep(seconds)
    return "waited"


@server.tool()
def block(seconds: float) -> str:
    """Block a worker thread for some seconds, then answer."""
    time.sleep(seconds)
    return "blocked"


@server.tool()
def pid() -> int:
    """The server's process id (tests check that the process is gone after close)."""
    return os.getpid()


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "http":
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run()
