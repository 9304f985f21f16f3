"""Small JSON Schema utilities shared by tools, prompts and grammars.

pydantic emits ``$defs`` + ``$ref`` and a ``title`` on every node. Prompts, grammars and the union
schema of a ToolSet are simpler on a self-contained tree, so refs are inlined once per tool and
titles dropped. Recursive models cannot be inlined and are refused with a clear error.
"""

from __future__ import annotations

from typing import Any

__all__ = ["inline_refs", "json_type", "schema_types"]

# Keywords whose value is data (never a schema to walk into) / a name → subschema map.
_DATA = ("default", "enum", "const", "examples")
_MAP = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")


def inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of ``schema`` with local ``#/$defs/...`` refs replaced by their targets.

    Raises:
        ValueError: for recursive definitions (which have no finite inline form) or dangling refs.
    """
    defs: dict[str, Any] = {**schema.get("definitions", {}), **schema.get("$defs", {})}

    def walk(node: Any, active: tuple[str, ...]) -> Any:
        if isinstance(node, list):
            return [walk(item, active) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str):
            name = ref.rsplit("/", 1)[-1]
            if name in active:
                raise ValueError(f"recursive type {name!r} cannot be described to a model")
            if name not in defs:
                raise ValueError(f"schema reference {ref!r} points nowhere")
            target = walk(defs[name], (*active, name))
            siblings = {k: walk(v, active) for k, v in node.items() if k != "$ref"}
            return {**target, **siblings}
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in ("$defs", "definitions"):
                continue
            if key == "title" and isinstance(value, str):
                continue
            if key in _DATA:
                out[key] = value  # data, not schema: a default may well contain a "title" key
                continue
            if key in _MAP and isinstance(value, dict):
                out[key] = {name: walk(sub, active) for name, sub in value.items()}
            else:
                out[key] = walk(value, active)
        return out

    result = walk(schema, ())
    assert isinstance(result, dict)
    return result


def schema_types(node: dict[str, Any]) -> list[str]:
    """The JSON types a schema node admits, looking through ``anyOf``/``oneOf`` (order kept)."""
    kinds = node.get("type")
    found: list[str] = []
    if isinstance(kinds, str):
        found.append(kinds)
    elif isinstance(kinds, list):
        found.extend(k for k in kinds if isinstance(k, str))
    for key in ("anyOf", "oneOf"):
        for sub in node.get(key, []) or []:
            if isinstance(sub, dict):
                found.extend(t for t in schema_types(sub) if t not in found)
    if "enum" in node and not found:
        found.extend(sorted({json_type(v) for v in node["enum"]}))
    if "const" in node and not found:
        found.append(json_type(node["const"]))
    return found


def json_type(value: Any) -> str:
    """The JSON Schema type name of a plain value (``True`` is a boolean, not an integer)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
