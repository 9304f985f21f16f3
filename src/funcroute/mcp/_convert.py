"""Pure conversions between funcroute tools and MCP tool descriptions and results.

Nothing here talks to a server: :mod:`funcroute.mcp.client` and :mod:`funcroute.mcp.server` do the
I/O and use these functions to read what arrives and to describe what leaves. MCP descriptions from
a server are untrusted data: each one is checked against :class:`ImportLimits` and read through the
same loader as OpenAI tool specs (``$ref`` inlined, recursive schemas refused, names checked), and a
bad one becomes a :class:`SkippedTool` with the reason instead of spoiling the whole import.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

import mcp_types as types
from pydantic import BaseModel, TypeAdapter
from pydantic_core import PydanticSerializationError, to_jsonable_python

from funcroute._schema import inline_refs
from funcroute.errors import ToolSpecError
from funcroute.tools import specs as _specs
from funcroute.tools.tool import Tool

__all__ = [
    "CONFIRM_META_KEY",
    "ImportLimits",
    "SkippedTool",
    "call_result",
    "error_result",
    "import_tool",
    "mcp_tool",
    "needs_confirm",
    "output_schema",
    "result_text",
    "result_value",
]

#: ``_meta`` key marking a tool that needs approval before it runs (read back by ``tools_from_mcp``).
CONFIRM_META_KEY = "funcroute/confirm"


@dataclass(frozen=True)
class ImportLimits:
    """Bounds on what an MCP server may hand to :func:`funcroute.mcp.tools_from_mcp`.

    Attributes:
        max_tools: tools read at most; listing stops with an error beyond this.
        max_pages: ``tools/list`` pages read at most (a server whose cursor never ends cannot hang us).
        max_schema_bytes: a tool whose input schema is larger (as JSON) is skipped.
        max_schema_depth: a tool whose input schema nests deeper (objects and lists) is skipped.
        max_description_chars: longer descriptions are cut (the model reads every character).
    """

    max_tools: int = 10_000
    max_pages: int = 1_000
    max_schema_bytes: int = 256 * 1024
    max_schema_depth: int = 48
    max_description_chars: int = 4_000


@dataclass(frozen=True)
class SkippedTool:
    """A tool of the MCP server that was not imported.

    Attributes:
        name: the tool's name on the server.
        reason: why it was left out.
    """

    name: str
    reason: str


def needs_confirm(tool: types.Tool) -> bool:
    """Whether a tool description asks for approval before running.

    True for funcroute's own mark (``_meta["funcroute/confirm"]``) and for tools whose annotations
    say *explicitly* that they are destructive and not read-only. The MCP defaults (a tool without
    annotations counts as destructive) are not applied: that would mark nearly every tool.
    """
    if tool.meta and tool.meta.get(CONFIRM_META_KEY) is True:
        return True
    notes = tool.annotations
    return notes is not None and notes.destructive_hint is True and notes.read_only_hint is not True


def import_tool(
    remote: types.Tool,
    *,
    local_name: str,
    handler: Callable[..., Any],
    source: str,
    confirm: bool,
    timeout: float | None,
    limits: ImportLimits,
) -> Tool | SkippedTool:
    """Build a funcroute Tool from one MCP tool description, or say why it cannot be one."""
    try:
        schema_text = json.dumps(remote.input_schema, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        return SkippedTool(remote.name, f"its input schema is not JSON data: {exc}")
    if len(schema_text) > limits.max_schema_bytes:
        return SkippedTool(
            remote.name,
            f"its input schema is {len(schema_text)} bytes, over the {limits.max_schema_bytes}-byte limit",
        )
    depth = _depth(remote.input_schema)
    if depth > limits.max_schema_depth:
        return SkippedTool(
            remote.name,
            f"its input schema nests {depth} levels deep, over the limit of {limits.max_schema_depth}",
        )
    description = " ".join((remote.description or remote.title or "").split())
    if len(description) > limits.max_description_chars:
        description = description[: limits.max_description_chars - 3] + "..."
    spec = {"name": local_name, "description": description, "parameters": remote.input_schema}
    try:
        (tool,) = _specs.tools_from_openai([spec])
    except ToolSpecError as exc:
        reasons = "; ".join(p.removeprefix("[0]").lstrip(".: ") for p in exc.problems)
        return SkippedTool(remote.name, reasons)
    return tool.replace(handler=handler, source=source, confirm=confirm, timeout=timeout)


def output_schema(tool: Tool) -> tuple[dict[str, Any] | None, bool]:
    """The output schema of a Python tool from its return annotation, and whether it is wrapped.

    An object type is its own schema; any other type is wrapped as ``{"result": <type>}`` (the
    SDK's MCPServer convention, which clients, ``tools_from_mcp`` included, unwrap). Tools without a
    usable return annotation (or loaded from data) declare none and return text.
    """
    if tool.handler is None:
        return None, False
    try:
        returns = typing.get_type_hints(tool.handler, include_extras=True).get("return", Any)
        if returns is Any or returns is type(None) or returns is None:
            return None, False
        schema = inline_refs(TypeAdapter(returns).json_schema(mode="serialization"))
    except Exception:  # unresolvable hints, recursive or unschematic types: no output schema
        return None, False
    if schema.get("type") == "object":
        return schema, False
    return {"type": "object", "properties": {"result": schema}, "required": ["result"]}, True


def mcp_tool(tool: Tool, outputs: dict[str, Any] | None = None) -> types.Tool:
    """Describe a funcroute tool to MCP clients; ``confirm=True`` tools are marked two ways.

    The MCP annotations say destructive and not read-only (what generic clients read), and
    ``_meta["funcroute/confirm"]`` says so exactly (what ``tools_from_mcp`` reads back).
    ``outputs`` is the output schema (see :func:`output_schema`).
    """
    schema = {"type": "object", **json.loads(json.dumps(tool.schema))}
    annotations = None
    meta = None
    if tool.confirm:
        annotations = types.ToolAnnotations(read_only_hint=False, destructive_hint=True)
        meta = {CONFIRM_META_KEY: True}
    return types.Tool(
        name=tool.name,
        description=tool.description or None,
        input_schema=schema,
        output_schema=outputs,
        annotations=annotations,
        _meta=meta,
    )


def call_result(
    value: Any, *, wrapped: bool = False, check: Callable[[Any], bool] | None = None
) -> types.CallToolResult:
    """The MCP result of a handler's return value.

    Strings are sent as text; JSON-compatible values (pydantic models, dataclasses, dates... as
    pydantic dumps them) as JSON text; ``None`` as no content; anything else as its ``str()``.
    Where the tool declares an output schema, the value is also sent as ``structuredContent``
    (as ``{"result": value}`` when ``wrapped``) if ``check`` accepts it; without a schema, objects
    are. A ``CallToolResult`` is passed through unchanged.
    """
    if isinstance(value, types.CallToolResult):
        return value
    try:
        data = to_jsonable_python(value.model_dump(mode="json") if isinstance(value, BaseModel) else value)
        text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False, allow_nan=False)
    except (PydanticSerializationError, TypeError, ValueError, RecursionError):
        return types.CallToolResult(content=[types.TextContent(text=str(value))])
    content: list[types.ContentBlock] = [] if value is None else [types.TextContent(text=text)]
    structured = {"result": data} if wrapped else data
    if check is not None:
        # A handler that returns something other than its annotation gets text only: a client
        # would reject structured content that breaks the declared schema.
        structured = structured if check(structured) else None
    elif not isinstance(structured, dict):
        structured = None
    return types.CallToolResult(content=content, structured_content=structured)


def error_result(message: str, limit: int = 4_000) -> types.CallToolResult:
    """A tool-level error: the caller (often a model) reads it and may correct itself.

    Cut to ``limit`` characters: 5,000 unexpected parameters must not become a 150 KB answer.
    """
    if len(message) > limit:
        message = f"{message[:limit]}... ({len(message) - limit} more characters)"
    return types.CallToolResult(content=[types.TextContent(text=message)], is_error=True)


def result_text(result: types.CallToolResult) -> str:
    """The text blocks of a result, joined; other blocks are named by their type."""
    parts = [
        block.text if isinstance(block, types.TextContent) else f"[{block.type}]" for block in result.content
    ]
    return "\n".join(parts)


def result_value(result: types.CallToolResult, output_schema: Mapping[str, Any] | None) -> Any:
    """What a dispatched MCP call returns to funcroute (the caller checks ``is_error`` first).

    Structured content wins; a ``{"result": value}`` object is unwrapped when the tool's output
    schema is exactly that wrapper (how the SDK's MCPServer returns non-object values). Otherwise
    the text of a text-only result, or the content blocks as JSON-like dicts.
    """
    structured = result.structured_content
    if structured is not None:
        if isinstance(structured, dict) and set(structured) == {"result"} and _is_wrapper(output_schema):
            return structured["result"]
        return structured
    if all(isinstance(block, types.TextContent) for block in result.content):
        return result_text(result)
    return [block.model_dump(mode="json", by_alias=True, exclude_none=True) for block in result.content]


def _is_wrapper(schema: Mapping[str, Any] | None) -> bool:
    if not isinstance(schema, Mapping):
        return False
    properties = schema.get("properties")
    required: Collection[Any] = schema.get("required") or ()
    return isinstance(properties, Mapping) and set(properties) == {"result"} and list(required) == ["result"]


def _depth(value: Any) -> int:
    """Nesting depth of JSON data, without recursion (the data is untrusted)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((child, level + 1) for child in children if isinstance(child, (dict, list)))
    return deepest
