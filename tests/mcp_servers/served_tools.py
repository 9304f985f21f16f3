"""The ToolSet that tests serve with ``funcroute mcp serve --tools tests/mcp_servers/served_tools.py``.

``delete_file`` needs approval; it appends to the file named by $SERVED_TOOLS_LOG when it really
runs, so a test in another process can tell whether it did.
"""

from __future__ import annotations

import asyncio
import os
from typing import Literal

from pydantic import BaseModel, Field

from funcroute import ToolSet

tools = ToolSet()
print("this line goes to stderr when served over stdio")  # a chatty tool module must not break stdio


class Filters(BaseModel):
    keyword: str = Field(description="The word or phrase we want to search for.")


@tools.tool
def file_analytics(action: Literal["count_occurrences", "find_line"], filters: Filters) -> dict[str, object]:
    """This tool performs various operations on a text file."""
    return {"action": action, "keyword": filters.keyword, "count": 3}


@tools.tool
async def convert(amount: float, currency: str = "EUR") -> str:
    """Convert an amount of US dollars to another currency.

    Args:
        amount: The amount in US dollars.
        currency: The target currency code.
    """
    await asyncio.sleep(0)
    return f"{amount * 2:.2f} {currency}"


@tools.tool(confirm=True)
def delete_file(path: str) -> str:
    """Delete a file from the disk."""
    log = os.environ.get("SERVED_TOOLS_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(f"deleted {path}\n")
    return f"deleted {path}"


@tools.tool
def explode(message: str) -> str:
    """A tool whose handler always raises."""
    raise RuntimeError(message)
