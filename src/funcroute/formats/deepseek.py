"""DeepSeek V3 / R1 / V3.1 tool calls between ``<｜tool▁call▁begin｜>`` and ``<｜tool▁call▁end｜>``.

V3 and R1 write ``function<｜tool▁sep｜>NAME`` then the arguments in a ```json fence; V3.1 writes
``NAME<｜tool▁sep｜>{...}``. Both are read; the writer uses the V3 form.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from funcroute.formats.base import (
    ArgHints,
    BlockFormat,
    CallSpec,
    ToolSpec,
    object_call,
    params_schema,
)
from funcroute.formats.grammar import Json, Lit, Many, Node, alt, seq
from funcroute.parsing import ParseLimits, RawCall

__all__ = ["DeepSeek"]

CALLS_BEGIN, CALLS_END = "<｜tool▁calls▁begin｜>", "<｜tool▁calls▁end｜>"
CALL_BEGIN, CALL_END, SEP = "<｜tool▁call▁begin｜>", "<｜tool▁call▁end｜>", "<｜tool▁sep｜>"


class DeepSeek(BlockFormat):
    """``<｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME`` + a ```json fence + ``<｜tool▁call▁end｜>``."""

    name = "deepseek"
    markers = (CALL_BEGIN,)
    template_markers = ("<｜tool▁calls▁begin｜>", "<｜tool▁call▁begin｜>")
    description = "DeepSeek V3/R1/V3.1: <｜tool▁call▁begin｜>...<｜tool▁sep｜>... blocks"

    opening, closing = CALL_BEGIN, CALL_END

    def read_block(self, body: str, text: str, limits: ParseLimits, hints: ArgHints | None) -> list[RawCall]:
        """The block's call (none without a separator)."""
        head, has_sep, rest = body.partition(SEP)
        if not has_sep:
            return []
        if head.strip() == "function":  # V3 / R1: the name is the first line after the separator
            name, _, rest = rest.partition("\n")
        else:
            name = head
        return [object_call(name, rest, limits, text)]

    def write(self, calls: Sequence[CallSpec]) -> str:
        """The V3 form, every call inside one ``<｜tool▁calls▁begin｜>`` section."""
        inner = "".join(
            f"{CALL_BEGIN}function{SEP}{name}\n```json\n{json.dumps(dict(args), ensure_ascii=False)}"
            f"\n```{CALL_END}"
            for name, args in calls
        )
        return f"{CALLS_BEGIN}{inner}{CALLS_END}"

    def grammar(self, tools: Sequence[ToolSpec], *, parallel: bool = False) -> Node:
        """The V3 form with JSON arguments."""
        call = alt(
            [
                seq(
                    Lit(f"{CALL_BEGIN}function{SEP}{name}\n```json\n"),
                    Json(params_schema(schema)),
                    Lit(f"\n```{CALL_END}"),
                )
                for name, schema in tools
            ]
        )
        return seq(Lit(CALLS_BEGIN), Many(call) if parallel else call, Lit(CALLS_END))
