"""OpenAI-style tool specs the `funcroute serve` tests share (tests/ is on sys.path)."""

from __future__ import annotations

from typing import Any


def function_tool(
    name: str, description: str, properties: dict[str, Any], required: list[str]
) -> dict[str, Any]:
    """One entry of a chat request's ``tools`` list, as OpenAI clients send it."""
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": properties, "required": required},
        },
    }


#: Two integers in, their sum out: every serve test file calls it.
ADD = function_tool(
    "add", "Add two integers.", {"a": {"type": "integer"}, "b": {"type": "integer"}}, ["a", "b"]
)
