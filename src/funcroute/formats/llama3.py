"""Llama 3.1 / 3.2 / 3.3 JSON tool calls: ``{"type": "function", "name": ..., "parameters": {...}}``.

The Llama 3.x templates ask for a bare JSON object (``"type": "function"`` is often left out),
sometimes after ``<|python_tag|>``; several calls come as objects one after another, separated by
newlines or ``;``. Every object is read, in order.
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
    json_calls,
)
from funcroute.formats.grammar import Json, Lit, Many, Node, Opt, seq
from funcroute.parsing import ParseLimits, RawCall, raw_calls, whole_json

__all__ = ["Llama3Json", "concatenated_json_calls"]

PYTHON_TAG = "<|python_tag|>"
_DECODER = json.JSONDecoder(strict=False)


def concatenated_json_calls(text: str, limits: ParseLimits) -> list[RawCall]:
    """Calls of JSON objects written one after another (one per line, or ``{...}; {...}``).

    Only text made of JSON values and separators counts: prose between the objects ends the
    reading, so JSON quoted in an explanation is not taken for a second call.
    """
    found: list[RawCall] = []
    pos, end = 0, len(text)
    while pos < end and len(found) < MAX_CALLS:
        while pos < end and text[pos] in " \t\r\n;,":
            pos += 1
        if pos >= end or text[pos] not in "{[":
            break
        try:
            _, stop = _DECODER.raw_decode(text, pos)
        except (ValueError, RecursionError):
            break
        doc = whole_json(text[pos:stop], limits)  # the same depth / number / Unicode checks
        if doc is None:
            break
        found.extend(raw_calls(doc, limits))
        pos = stop
    return found


class Llama3Json(ToolCallFormat):
    """``{"type": "function", "name": ..., "parameters": {...}}``, one object per call."""

    name = "llama3-json"
    markers = (PYTHON_TAG,)
    template_markers = ("<|python_tag|>", "<|eom_id|>")
    description = 'Llama 3.x: {"type": "function", "name", "parameters"} (after <|python_tag|>)'

    def read(
        self, text: str, limits: ParseLimits = DEFAULT_LIMITS, hints: ArgHints | None = None
    ) -> list[RawCall]:
        """Every object's call, in order; a reply that is not clean JSON gets the tolerant reading."""
        body = text.split(PYTHON_TAG, 1)[1] if PYTHON_TAG in text else text
        for token in ("<|eom_id|>", "<|eot_id|>"):
            body = body.split(token, 1)[0]
        found = concatenated_json_calls(body.strip(), limits)
        return found or json_calls(body, limits)

    def write(self, calls: Sequence[CallSpec]) -> str:
        """One object per line, as Llama 3.x writes parallel calls."""
        return "\n".join(
            json.dumps({"type": "function", "name": name, "parameters": dict(args)}, ensure_ascii=False)
            for name, args in calls
        )

    def grammar(self, tools: Sequence[ToolSpec], *, parallel: bool = False) -> Node:
        """An optional ``<|python_tag|>``, then one object (several, one per line, when parallel)."""
        call = Json(call_object_schema(tools, "name", "parameters", {"type": "function"}))
        return seq(Opt(Lit(PYTHON_TAG)), Many(call, "\n") if parallel else call)
