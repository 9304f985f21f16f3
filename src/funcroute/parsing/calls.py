"""Documents to calls as the model wrote them: the many shapes of ``{function, params}``."""

from __future__ import annotations

from typing import Any, NamedTuple

from funcroute.parsing.checks import _check, _loads_json, _Unusable
from funcroute.parsing.limits import DEFAULT_LIMITS, ParseLimits

__all__ = ["RawCall", "raw_calls"]


class RawCall(NamedTuple):
    """A call as the model wrote it, before validation."""

    name: str
    arguments: Any


_NAME_KEYS = ("function", "name", "tool", "function_name", "tool_name")
_ARG_KEYS = ("params", "parameters", "arguments", "args", "input", "inputs")


def raw_calls(doc: Any, limits: ParseLimits = DEFAULT_LIMITS) -> list[RawCall]:
    """The calls a parsed document describes (a list gives each of its calls), in order.

    ``limits`` bounds arguments sent as a JSON string (OpenAI's shape), parsed here.
    """
    if type(doc) is dict:
        # Fast path: the canonical {"function": "name", "params": {...}} shape.
        name = doc.get("function")
        params = doc.get("params")
        if type(name) is str and type(params) is dict and name.isidentifier():
            return [RawCall(name, params)]
        found: list[RawCall] = []
        _calls_in(doc, 0, found, limits.max_depth)
        return found
    found = []
    if isinstance(doc, list):
        for item in doc[:64]:
            if isinstance(item, dict):
                _calls_in(item, 0, found, limits.max_depth)
    return found


def _calls_in(doc: dict[str, Any], depth: int, found: list[RawCall], max_depth: int) -> None:
    name: Any = None
    for key in _NAME_KEYS:
        if key in doc:
            name = doc[key]
            break
    if isinstance(name, dict) and depth < 4:
        # {"function": {"name": ..., "arguments": ...}} (OpenAI shape, or an extra wrapper).
        inner = dict(name)
        for key in _ARG_KEYS:
            if key in doc and not any(k in inner for k in _ARG_KEYS):
                inner[key] = doc[key]
        _calls_in(inner, depth + 1, found, max_depth)
        return
    if name is None and depth < 2:
        # A whole chat-completions response or message left in the reply text.
        choices = doc.get("choices")
        first = choices[0] if isinstance(choices, list) and choices else None
        message = first.get("message") if isinstance(first, dict) else doc.get("message")
        if isinstance(message, dict):
            _calls_in(message, depth + 1, found, max_depth)
            return
    if isinstance(doc.get("tool_calls"), list) and depth < 3:
        for item in doc["tool_calls"][:64]:
            if isinstance(item, dict):
                _calls_in(item, depth + 1, found, max_depth)
        return
    if not isinstance(name, str) or not name.strip():
        return
    arguments: Any = {}
    for key in _ARG_KEYS:
        if key in doc:
            arguments = doc[key]
            break
    if arguments is None:
        arguments = {}
    elif isinstance(arguments, str) and arguments.lstrip().startswith("{"):
        try:  # OpenAI sends arguments as a JSON string
            parsed = _loads_json(arguments)
            _check(parsed, max_depth)
        except (ValueError, RecursionError, _Unusable):
            pass  # left as a string, it fails validation with a clear "must be a mapping"
        else:
            arguments = parsed
    found.append(RawCall(_clean_name(name), arguments))


def _clean_name(name: str) -> str:
    name = name.strip().replace("\\_", "_")
    return name[:-2] if name.endswith("()") else name
