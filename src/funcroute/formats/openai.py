"""OpenAI ``tool_calls``: the message (or whole response) a chat-completions server returns.

Arguments are a JSON *string* in the OpenAI wire format; readers also take an object, as local
servers sometimes send one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from funcroute.formats.base import (
    DEFAULT_LIMITS,
    MAX_CALLS,
    ArgHints,
    CallSpec,
    ToolCallFormat,
    ToolSpec,
    params_schema,
)
from funcroute.formats.grammar import Json, Node, alt
from funcroute.parsing import ParseLimits, RawCall, iter_documents, raw_calls

__all__ = ["OpenAIToolCalls"]


def _tool_calls(doc: Any) -> Any:
    """The ``tool_calls`` list of a response, a message, or the list itself."""
    if isinstance(doc, Mapping):
        choices = doc.get("choices")
        if isinstance(choices, list) and choices and isinstance(choices[0], Mapping):
            doc = choices[0].get("message") or choices[0].get("delta") or {}
        if isinstance(doc, Mapping) and isinstance(doc.get("message"), Mapping):
            doc = doc["message"]
        return doc.get("tool_calls") if isinstance(doc, Mapping) else None
    return doc if isinstance(doc, list) else None


class OpenAIToolCalls(ToolCallFormat):
    """``{"tool_calls": [{"type": "function", "function": {"name": ..., "arguments": "{...}"}}]}``."""

    name = "openai"
    markers = ('"tool_calls"',)
    description = 'OpenAI tool_calls: {"tool_calls": [{"function": {"name", "arguments": "<json>"}}]}'

    def read(
        self, text: str, limits: ParseLimits = DEFAULT_LIMITS, hints: ArgHints | None = None
    ) -> list[RawCall]:
        """The calls of a response, a message, or a bare ``tool_calls`` list."""
        for doc in iter_documents(text, limits):
            calls = _tool_calls(doc)
            if isinstance(calls, list) and calls:
                return raw_calls({"tool_calls": calls[:MAX_CALLS]}, limits)
            found = raw_calls(doc, limits)
            if found:
                return found
        return []

    def write(self, calls: Sequence[CallSpec]) -> str:
        """An assistant message with one ``tool_calls`` entry per call (ids ``call_0``...)."""
        message = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": f"call_{index}",
                    "type": "function",
                    "function": {"name": name, "arguments": json.dumps(dict(args), ensure_ascii=False)},
                }
                for index, (name, args) in enumerate(calls)
            ],
        }
        return json.dumps(message, ensure_ascii=False)

    def grammar(self, tools: Sequence[ToolSpec], *, parallel: bool = False) -> Node:
        """A message whose calls carry arguments as objects (a grammar cannot nest JSON in a string)."""
        variants = [
            {
                "type": "object",
                "properties": {
                    "type": {"const": "function"},
                    "function": {
                        "type": "object",
                        "properties": {"name": {"const": name}, "arguments": params_schema(schema)},
                        "required": ["name", "arguments"],
                        "additionalProperties": False,
                    },
                },
                "required": ["type", "function"],
                "additionalProperties": False,
            }
            for name, schema in tools
        ]
        item: dict[str, Any] = variants[0] if len(variants) == 1 else {"anyOf": variants}
        array: dict[str, Any] = {"type": "array", "items": item, "minItems": 1}
        if not parallel:
            array["maxItems"] = 1
        message = {
            "type": "object",
            "properties": {"tool_calls": array},
            "required": ["tool_calls"],
            "additionalProperties": False,
        }
        return alt([Json(message)])
