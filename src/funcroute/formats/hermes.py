"""Hermes / Qwen 2.5 / Qwen 3: one JSON call per ``<tool_call>`` block.

Hermes-2-Pro, Hermes 3, Qwen 2.5 and Qwen 3 chat templates all ask for::

    <tool_call>
    {"name": "get_weather", "arguments": {"city": "Paris"}}
    </tool_call>

with one block per call. Blocks are read in order; an unclosed last block (a stop token cut it) is
read too, and each block's JSON gets the same tolerant, bounded reading as an Airoboros reply.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from funcroute.formats.base import (
    ArgHints,
    BlockFormat,
    CallSpec,
    ToolSpec,
    call_object_schema,
    json_calls,
)
from funcroute.formats.grammar import Json, Lit, Many, Node, seq
from funcroute.parsing import ParseLimits, RawCall

__all__ = ["Hermes"]

OPEN, CLOSE = "<tool_call>", "</tool_call>"


class Hermes(BlockFormat):
    """``<tool_call>{"name": ..., "arguments": {...}}</tool_call>``, one block per call."""

    name = "hermes"
    markers = (OPEN,)
    template_markers = ("<tool_call>",)
    description = 'Hermes / Qwen 2.5-3: <tool_call>{"name", "arguments"}</tool_call> per call'

    opening, closing = OPEN, CLOSE

    def read_block(self, body: str, text: str, limits: ParseLimits, hints: ArgHints | None) -> list[RawCall]:
        """The block's JSON calls."""
        return json_calls(body, limits)

    def write(self, calls: Sequence[CallSpec]) -> str:
        """One block per call, separated by a newline, as the Qwen templates render them."""
        return "\n".join(
            f"{OPEN}\n{json.dumps({'name': name, 'arguments': dict(args)}, ensure_ascii=False)}\n{CLOSE}"
            for name, args in calls
        )

    def grammar(self, tools: Sequence[ToolSpec], *, parallel: bool = False) -> Node:
        """``<tool_call>``, newline, JSON, newline, ``</tool_call>``; repeated with newlines when parallel."""
        block = seq(Lit(OPEN + "\n"), Json(call_object_schema(tools, "name", "arguments")), Lit("\n" + CLOSE))
        return Many(block, "\n") if parallel else block
