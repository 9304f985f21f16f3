"""Mistral: ``[TOOL_CALLS]`` then a JSON list of calls, or (newer tokenizers) ``name[ARGS]{...}``.

Mistral 7B v0.3, Mixtral and Mistral Nemo write ``[TOOL_CALLS] [{"name": ..., "arguments": {...}},
...]``; Mistral Small 3.2, Magistral and Devstral (tokenizer v11+) write one
``[TOOL_CALLS]name[ARGS]{...}`` per call, sometimes with ``[CALL_ID]id`` before ``[ARGS]``. Every
call of the list is returned: a parallel call is never cut to its first element.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from funcroute.formats.base import (
    DEFAULT_LIMITS,
    MAX_CALLS,
    ArgHints,
    CallSpec,
    ToolCallFormat,
    ToolSpec,
    call_object_schema,
    checked_call,
    json_calls,
)
from funcroute.formats.grammar import Json, Lit, Node, seq
from funcroute.parsing import ParseLimits, RawCall, iter_documents

__all__ = ["Mistral"]

TOOL_CALLS, ARGS, CALL_ID = "[TOOL_CALLS]", "[ARGS]", "[CALL_ID]"


class Mistral(ToolCallFormat):
    """``[TOOL_CALLS] [{"name": ..., "arguments": {...}}, ...]`` or ``[TOOL_CALLS]name[ARGS]{...}``."""

    name = "mistral"
    markers = (TOOL_CALLS,)
    template_markers = ("[TOOL_CALLS]", "[AVAILABLE_TOOLS]")
    description = 'Mistral: [TOOL_CALLS] [{"name", "arguments"}, ...] or [TOOL_CALLS]name[ARGS]{...}'

    def read(
        self, text: str, limits: ParseLimits = DEFAULT_LIMITS, hints: ArgHints | None = None
    ) -> list[RawCall]:
        """Every call after every ``[TOOL_CALLS]``, in order."""
        found: list[RawCall] = []
        segments = text.split(TOOL_CALLS, MAX_CALLS + 1)[1:] if TOOL_CALLS in text else [text]
        for segment in segments:
            if len(found) >= MAX_CALLS:
                break
            body = segment.lstrip()
            if ARGS in body and body[:1] not in "[{":
                found.append(self._named(body, limits, text))
            else:
                found.extend(json_calls(body, limits))
        return found[:MAX_CALLS]

    @staticmethod
    def _named(body: str, limits: ParseLimits, reply: str) -> RawCall:
        head, _, rest = body.partition(ARGS)
        name = head.split(CALL_ID, 1)[0].strip()
        for doc in iter_documents(rest, limits):
            if isinstance(doc, dict):
                return checked_call(name, doc, limits, reply)
        return RawCall(name, rest.strip())  # fails validation with "arguments must be a mapping"

    def write(self, calls: Sequence[CallSpec]) -> str:
        """The v0.3 style: one ``[TOOL_CALLS]`` and a JSON list of every call."""
        listed = [{"name": name, "arguments": dict(args)} for name, args in calls]
        return f"{TOOL_CALLS} {json.dumps(listed, ensure_ascii=False)}"

    def grammar(self, tools: Sequence[ToolSpec], *, parallel: bool = False) -> Node:
        """``[TOOL_CALLS] `` then a JSON list (of one call unless parallel)."""
        array: dict[str, object] = {
            "type": "array",
            "items": call_object_schema(tools, "name", "arguments"),
            "minItems": 1,
        }
        if not parallel:
            array["maxItems"] = 1
        return seq(Lit(TOOL_CALLS + " "), Json(array))
