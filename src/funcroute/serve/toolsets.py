"""The ``tools`` of a request as a ToolSet: validated once, cached by content.

Agent loops send the same tools with every turn. Building a ToolSet (schema checks, validators) and
everything cached on it (rendered prompt blocks, the call schema, compiled grammars keyed by its
fingerprint, the offline router's embeddings index) is the expensive part, so ToolSets are kept in a
small LRU keyed by the canonical JSON of the tools. Cached ToolSets are never mutated: the ``auto``
variant with the no-call tool is a separate cache entry.
"""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from typing import Any

from funcroute.errors import ToolSpecError
from funcroute.serve.schemas import ApiError, ToolSpec
from funcroute.tools.tool import Tool
from funcroute.tools.toolset import ToolSet

__all__ = ["NO_CALL_DESCRIPTION", "ToolSetCache", "no_call_name"]

#: The description of the tool a model picks, under ``tool_choice="auto"``, to answer in text.
NO_CALL_DESCRIPTION = (
    "Choose this when none of the other functions fits the user's input, or when the results above "
    "already answer it; you will then answer in plain text."
)
_INDEX = re.compile(r"^\[(\d+)\]")


def no_call_name(tools: ToolSet) -> str:
    """A name for the no-call tool that no client tool already uses."""
    for name in ("none", "no_function", "answer_in_text"):
        if name not in tools:
            return name
    suffix = 1
    while f"none_{suffix}" in tools:
        suffix += 1
    return f"none_{suffix}"


class ToolSetCache:
    """Build ToolSets from request tools, reusing one for identical tools.

    Args:
        max_tools: the most tools one request may carry.
        size: ToolSets kept.
    """

    def __init__(self, *, max_tools: int = 256, size: int = 64) -> None:
        self.max_tools = max_tools
        self.size = size
        self._cache: OrderedDict[tuple[str, bool, str | None], ToolSet] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, specs: list[ToolSpec], *, with_no_call: bool = False, only: str | None = None) -> ToolSet:
        """The ToolSet for ``specs`` (plus the no-call tool when asked; only one tool, when named).

        Raises:
            ApiError: 400 for too many tools, duplicate names or an invalid schema, naming the tool
                and the JSON path inside it.
        """
        if len(specs) > self.max_tools:
            raise ApiError(
                400,
                f"too many tools: {len(specs)}; this server accepts at most {self.max_tools} per request",
                param="tools",
                code="too_many_tools",
            )
        raw = [spec.model_dump(exclude_none=True) for spec in specs]
        try:
            key = (json.dumps(raw, sort_keys=True, allow_nan=False), with_no_call, only)
        except (ValueError, RecursionError):
            raise ApiError(
                400, "tools hold values JSON cannot carry (NaN, too deep)", param="tools"
            ) from None
        with self._lock:
            found = self._cache.get(key)
            if found is not None:
                self._cache.move_to_end(key)
                return found
        tools = _build(raw)
        if only is not None:
            tools = tools.subset([only])
        if with_no_call:
            tools = _with_no_call(tools)
        with self._lock:
            self._cache[key] = tools
            while len(self._cache) > self.size:
                self._cache.popitem(last=False)
        return tools


def _build(raw: list[dict[str, Any]]) -> ToolSet:
    try:
        return ToolSet.from_openai(raw)
    except ToolSpecError as exc:
        problems = [_name_tool(p, raw) for p in exc.problems]
        first = _INDEX.match(exc.problems[0]) if exc.problems else None
        param = f"tools[{first.group(1)}].function" if first else "tools"
        listed = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise ApiError(
            400, f"invalid tool schema: {listed}", param=param, code="invalid_tool_schema"
        ) from None
    except RecursionError:
        raise ApiError(400, "a tool schema is nested too deeply", param="tools") from None


def _name_tool(problem: str, raw: list[dict[str, Any]]) -> str:
    """``[3].parameters: ...`` → ``tools[3] ('get_weather').parameters: ...``."""
    match = _INDEX.match(problem)
    if match is None:
        return problem
    index = int(match.group(1))
    name = raw[index].get("function", {}).get("name") if index < len(raw) else None
    label = f"tools[{index}] ({name!r})" if isinstance(name, str) else f"tools[{index}]"
    return label + problem[match.end() :]


def _with_no_call(tools: ToolSet) -> ToolSet:
    name = no_call_name(tools)
    extended = ToolSet(extra=tools.extra, limits=tools.limits)
    for tool in tools:
        extended.add(tool)
    extended.add(Tool.from_function(_answer_in_text, name=name, description=NO_CALL_DESCRIPTION))
    return extended


def _answer_in_text() -> None:
    """The no-call tool: it takes no parameters and never runs on the server."""
