"""Plain-text descriptions of a tool's parameters for people (``funcroute tools -v``).

One line per parameter, nested objects as dotted paths: its type (choices spelled out), whether it is
required, its default, and its description::

    city (string, required): The city to get the forecast for.
    unit ("celsius" | "fahrenheit", optional, default "celsius"): The temperature unit.
    item.quantity (number, optional, default 1): How many or how much.
"""

from __future__ import annotations

import json
from typing import Any

from funcroute._schema import schema_types

__all__ = ["parameter_lines"]


def parameter_lines(schema: dict[str, Any], prefix: str = "") -> list[str]:
    """One line per parameter of ``schema`` (an arguments object schema), nested ones dotted."""
    lines: list[str] = []
    required = set(schema.get("required") or ())
    for name, node in (schema.get("properties") or {}).items():
        node = node if isinstance(node, dict) else {}
        path = f"{prefix}{name}"
        inner = _object(node)
        note = [_kind(node), "required" if name in required else "optional"]
        if "default" in node:
            note.append(f"default {json.dumps(node['default'], ensure_ascii=False, default=str)}")
        description = " ".join(str(node.get("description") or "").split())
        lines.append(f"{path} ({', '.join(note)})" + (f": {description}" if description else ""))
        if inner is not None:
            lines += parameter_lines(inner, f"{path}.")
    return lines


def _object(node: dict[str, Any]) -> dict[str, Any] | None:
    if isinstance(node.get("properties"), dict) and node["properties"]:
        return node
    for option in node.get("anyOf") or node.get("oneOf") or ():
        if isinstance(option, dict) and isinstance(option.get("properties"), dict) and option["properties"]:
            return option
    return None


def _choices(node: dict[str, Any]) -> list[Any] | None:
    for candidate in (node, *(node.get("anyOf") or node.get("oneOf") or ())):
        choices = candidate.get("enum") if isinstance(candidate, dict) else None
        if isinstance(choices, list):
            return list(choices)
    return None


def _kind(node: dict[str, Any]) -> str:
    choices = _choices(node)
    nullable = "null" in schema_types(node)
    if choices is not None:
        text = " | ".join(json.dumps(c, ensure_ascii=False) for c in choices if c is not None)
    elif _object(node) is not None:
        text = "object"
    else:
        kinds = [k for k in schema_types(node) if k != "null"] or ["any"]
        text = " or ".join(kinds)
        items = _array_items(node)
        if items is not None:
            item_choices = _choices(items)
            inner = (
                " | ".join(json.dumps(c, ensure_ascii=False) for c in item_choices)
                if item_choices is not None
                else "object"
                if _object(items) is not None
                else " or ".join(k for k in schema_types(items) if k != "null") or "any"
            )
            text = text.replace("array", f"list of {inner}")
    return f"{text} or null" if nullable else text


def _array_items(node: dict[str, Any]) -> dict[str, Any] | None:
    for candidate in (node, *(o for o in node.get("anyOf") or () if isinstance(o, dict))):
        if isinstance(candidate.get("items"), dict):
            items: dict[str, Any] = candidate["items"]
            return items
    return None
