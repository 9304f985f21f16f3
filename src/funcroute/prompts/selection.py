"""The Airoboros function-selection prompt, rendered byte for byte as the models were trained on.

Rendering rules for the ``Available functions:`` block (a YAML-looking mapping, 2-space indents):

* ``name:`` then ``description:`` then ``params:`` with one line per parameter, in signature order.
  A tool without parameters has no ``params:`` key.
* A parameter line is ``name: description``. Without a description the name is shown in words
  (``file_path`` → ``file path``), so the line is never empty.
* ``Literal``/``Enum`` choices are appended as ``One of "a", "b".`` (no colon, so the line stays
  valid YAML), since the training data carried allowed values in prose; a list of choices
  (``list[Enum]``) as ``One or more of "a", "b".``
* Nested objects (pydantic models, dataclasses, object schemas) render as nested mappings under
  ``name:``; an object's own description is not shown (YAML has no place for it beside children).
  Lists of objects render their item's fields under a ``- `` entry.
* No types by default. ``show_types=True`` appends ``(integer, optional, default: 3)``-style notes.
* Newlines inside descriptions collapse to single spaces, keeping one line per parameter.
* The block is valid YAML: a description that YAML would misread (``"Note: ..."``, a leading
  ``-`` or quote) is written double-quoted; all others stay plain, as in the training data.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Literal

import yaml

from funcroute._schema import schema_types
from funcroute.errors import UsageError

__all__ = ["Format", "render_tool", "selection_prompt"]

Format = Literal["json", "yaml"]

_HEADER = (
    "As an AI assistant, please select the most suitable function and parameters from the list of "
    "available functions below, based on the user's input. Provide your response in {fmt} format."
)
_HEADERS = {"json": _HEADER.format(fmt="JSON"), "yaml": _HEADER.format(fmt="YAML")}


def selection_prompt(user_input: str, tool_blocks: Iterable[str], format: Format = "json") -> str:
    """Assemble the prompt from pre-rendered tool blocks (see :func:`render_tool`)."""
    try:
        header = _HEADERS[format]
    except KeyError:
        raise UsageError(f"format must be 'json' or 'yaml', got {format!r}") from None
    return f"{header}\n\nInput: {user_input}\n\nAvailable functions:\n" + "\n".join(tool_blocks)


def render_tool(name: str, description: str, schema: dict[str, Any], *, show_types: bool = False) -> str:
    """Render one tool as its block in the ``Available functions:`` list (no trailing newline)."""
    lines = [f"{name}:", f"  description: {_scalar(_one_line(description) or _words(name))}"]
    properties = schema.get("properties") or {}
    if properties:
        lines.append("  params:")
        required = set(schema.get("required") or ())
        for param, sub in properties.items():
            _render_param(lines, param, sub, 4, param in required, show_types)
    return "\n".join(lines)


def _render_param(
    lines: list[str], name: str, node: Any, indent: int, required: bool, show_types: bool, prefix: str = ""
) -> None:
    pad = " " * indent
    node = node if isinstance(node, dict) else {}
    obj = _object_node(node)
    if obj is not None:
        lines.append(f"{pad}{prefix}{name}:")
        _render_children(lines, obj, indent + 2, show_types)
        return
    array = _array_node(node)
    item = _object_node(array.get("items")) if array is not None else None
    if item is not None and item.get("properties"):
        lines.append(f"{pad}{prefix}{name}:")
        _render_children(lines, item, indent + 2, show_types, first_prefix="- ")
        return
    text = _one_line(node.get("description")) or _words(name)
    choices = _choices(node)
    if not choices and array is not None and isinstance(array.get("items"), dict):
        choices = _choices(array["items"])  # list[Enum] / list[Literal]: the items' choices
        if choices:
            text = f"{text} One or more of {', '.join(json.dumps(c, ensure_ascii=False) for c in choices)}."
            choices = []
    if choices:
        text = f"{text} One of {', '.join(json.dumps(c, ensure_ascii=False) for c in choices)}."
    if show_types:
        text = f"{text} ({_type_note(node, required)})"
    lines.append(f"{pad}{prefix}{name}: {_scalar(text)}")


def _render_children(
    lines: list[str], obj: dict[str, Any], indent: int, show_types: bool, first_prefix: str = ""
) -> None:
    required = set(obj.get("required") or ())
    for position, (child, sub) in enumerate(obj["properties"].items()):
        if first_prefix:
            # YAML list entry: "- first: ..." then the other keys aligned under "first".
            prefix = first_prefix if position == 0 else " " * len(first_prefix)
            _render_param(lines, child, sub, indent, child in required, show_types, prefix)
        else:
            _render_param(lines, child, sub, indent, child in required, show_types)


def _object_node(node: Any) -> dict[str, Any] | None:
    """The object schema inside ``node`` (looking through Optional/anyOf), if it has fields."""
    if not isinstance(node, dict):
        return None
    if isinstance(node.get("properties"), dict) and node["properties"]:
        return node
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in node.get(key) or ():
            found = _object_node(sub)
            if found is not None:
                return found
    return None


def _array_node(node: Any) -> dict[str, Any] | None:
    """The array schema inside ``node`` (looking through Optional/anyOf), if any."""
    if not isinstance(node, dict):
        return None
    if node.get("type") == "array" or (isinstance(node.get("type"), list) and "array" in node["type"]):
        return node
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in node.get(key) or ():
            found = _array_node(sub)
            if found is not None:
                return found
    return None


_RESOLVER = yaml.resolver.Resolver()
_STR_TAG = "tag:yaml.org,2002:str"


def _yaml_tag(text: str) -> str:
    """The type YAML would give ``text`` as a plain scalar."""
    return str(_RESOLVER.resolve(yaml.ScalarNode, text, (True, False)))  # type: ignore[no-untyped-call]


_YAML_INDICATORS = tuple("-?:,[]{}#&*!|>'\"%@`")


def _scalar(text: str) -> str:
    """``text`` as a YAML value: plain when YAML reads it back unchanged, else double-quoted.

    Most descriptions stay plain, as in the training data; one with ``": "``, a trailing colon, a
    ``" #"``, a leading indicator character, or text YAML reads as another type (``yes``, ``null``,
    ``123``) is quoted so the block stays valid YAML that reads back as the same strings.
    """
    if (
        ": " in text
        or " #" in text
        or text.endswith(":")
        or text.startswith(_YAML_INDICATORS)
        or text != text.strip()
        or _yaml_tag(text) != _STR_TAG  # yes, null, 123...
    ):
        return json.dumps(text, ensure_ascii=False)
    return text


def _choices(node: dict[str, Any]) -> list[Any]:
    if isinstance(node.get("enum"), list):
        return [c for c in node["enum"] if c is not None]
    found: list[Any] = []
    for key in ("anyOf", "oneOf"):
        for sub in node.get(key) or ():
            if isinstance(sub, dict):
                if "const" in sub:
                    found.append(sub["const"])
                elif isinstance(sub.get("enum"), list):
                    found.extend(c for c in sub["enum"] if c is not None)
    return found


def _type_note(node: dict[str, Any], required: bool) -> str:
    kinds = [k for k in schema_types(node) if k != "null"] or ["any"]
    note = " or ".join(kinds)
    array = _array_node(node)
    if "array" in kinds and array is not None and isinstance(array.get("items"), dict):
        inner = [k for k in schema_types(array["items"]) if k != "null"]
        if inner:
            note = note.replace("array", f"list of {' or '.join(inner)}")
    if not required:
        note += ", optional"
    if "default" in node:
        note += f", default {json.dumps(node['default'], ensure_ascii=False, default=str)}"
    return note


def _one_line(text: Any) -> str:
    return " ".join(text.split()) if isinstance(text, str) else ""


def _words(name: str) -> str:
    return name.replace("_", " ").replace(".", " ").strip()
