"""The built-in ``none`` tool: a valid call by which a model declines to call any real function.

Offered next to a ToolSet's tools (``funcroute eval --no-call-tool``, ``Cascade(abstain=True)``), it
lets a grammar-constrained model say "no suitable function" instead of being forced into a call.
"""

from __future__ import annotations

import functools

from funcroute.tools.tool import Tool

__all__ = ["NO_CALL_TOOL", "no_call_tool"]

#: The built-in tool's default name.
NO_CALL_TOOL = "none"


def _none(reason: str = "") -> None:
    """Use this when none of the other functions fits the user's input.

    Args:
        reason: Why none of the functions fits.
    """


@functools.cache
def no_call_tool(name: str = NO_CALL_TOOL) -> Tool:
    """The "no suitable function" tool under ``name`` (one instance per name, so it can be recognised)."""
    return Tool.from_function(_none, name=name)
