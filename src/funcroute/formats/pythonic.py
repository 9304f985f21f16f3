"""Pythonic calls: ``[get_weather(city="Paris"), get_time(tz="CET")]``.

Llama 3.2 / 4 (the ``pythonic`` tool parser of vLLM), Gorilla and BFCL's own notation write calls
as a Python list of function calls with keyword arguments. The text is parsed with :mod:`ast` and
only literals are accepted (strings, numbers, ``True``/``False``/``None``, lists, tuples, dicts;
JSON's ``true``/``false``/``null`` too): nothing is ever evaluated, so ``__import__("os")`` or
``10**10**10`` is an error, not a computation. Positional arguments are matched to the tool's
parameters in schema order when the schema is known.
"""

from __future__ import annotations

import ast
import re
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from funcroute.errors import OutputParseError
from funcroute.formats._pyfast import fast_calls
from funcroute.formats.base import (
    DEFAULT_LIMITS,
    MAX_CALLS,
    ArgHints,
    CallSpec,
    ToolCallFormat,
    ToolSpec,
    checked_call,
)
from funcroute.formats.grammar import Alt, Json, Lit, Many, Node, alt, argument_list, seq
from funcroute.parsing import ParseLimits, RawCall

__all__ = ["Pythonic", "looks_pythonic", "python_literal"]

# A call starts at a word boundary (no quadratic rescans inside long words): ``[name(`` or ``name(``.
_START = re.compile(r"(?<![\w.])(?:\[[ \t\n]*)?[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*[ \t]*\(")
_LEAD = re.compile(r"(?:\[[ \t\r\n]*)?[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*[ \t]*\(")
_WORDS = {"true": True, "false": False, "null": None, "none": None}
_MAX_STARTS = 4


def looks_pythonic(text: str) -> bool:
    """Whether ``text`` opens with a pythonic call (``[name(`` or ``name(``), fences allowed."""
    text = text.lstrip()
    if text.startswith("```"):
        text = text[text.find("\n") + 1 :].lstrip() if "\n" in text else ""
    text = text.removeprefix("<|python_tag|>").lstrip()
    return _LEAD.match(text) is not None


class _NotLiteral(Exception):
    pass


def _literal(node: ast.AST, depth: int, max_depth: int) -> Any:
    if depth > max_depth:
        raise _NotLiteral(f"nesting deeper than {max_depth} levels")
    if isinstance(node, ast.Constant):
        if isinstance(node.value, (str, int, float, bool)) or node.value is None:
            return node.value
        raise _NotLiteral(f"a {type(node.value).__name__} value")
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = node.operand
        if isinstance(operand, ast.Constant) and type(operand.value) in (int, float):
            number: int | float = operand.value  # type: ignore[assignment]  # narrowed by the type() test
            return -number if isinstance(node.op, ast.USub) else number
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return [_literal(item, depth + 1, max_depth) for item in node.elts]
    if isinstance(node, ast.Dict):
        out: dict[str, Any] = {}
        for key, value in zip(node.keys, node.values, strict=True):
            if key is None:
                raise _NotLiteral("'**' inside a dict")
            name = _literal(key, depth + 1, max_depth)
            if isinstance(name, (dict, list)):
                raise _NotLiteral("a dict key that is a list or dict")
            out[name if isinstance(name, str) else _key(name)] = _literal(value, depth + 1, max_depth)
        return out
    if isinstance(node, ast.Name) and node.id.lower() in _WORDS:
        return _WORDS[node.id.lower()]
    raise _NotLiteral(f"not a literal: {ast.unparse(node)[:80]}")


def _key(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def _calls(tree: ast.expr) -> list[ast.Call] | None:
    if isinstance(tree, ast.Call):
        return [tree]
    if (
        isinstance(tree, (ast.List, ast.Tuple))
        and tree.elts
        and all(isinstance(e, ast.Call) for e in tree.elts)
    ):
        return [e for e in tree.elts if isinstance(e, ast.Call)]
    return None


def _parse(candidate: str) -> ast.expr | None:
    try:
        if "\\" not in candidate:  # no escape sequence, so no SyntaxWarning to silence
            return ast.parse(candidate, mode="eval").body
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "invalid escape sequence" in a model's string is not ours
            return ast.parse(candidate, mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        return None


def _candidates(text: str) -> Iterator[str]:
    """Slices of ``text`` that may be a whole pythonic expression, most likely first."""
    starts = 0
    for match in _START.finditer(text):
        starts += 1
        if starts > _MAX_STARTS:
            return
        rest = text[match.start() :].lstrip()
        yield rest.rstrip()
        for closer in ("]", ")"):
            end = rest.rfind(closer)
            if end != -1:
                yield rest[: end + 1]
        line_end = rest.find("\n")
        if line_end != -1:
            yield rest[:line_end].rstrip()


class Pythonic(ToolCallFormat):
    """``[name(key=value, ...), ...]``: literals only, read with :mod:`ast`, never evaluated."""

    name = "pythonic"
    description = '[get_weather(city="Paris"), ...]: Llama 3.2/4, Gorilla, BFCL notation'
    template_markers = ("[func_name1(params_name1=params_value1",)

    def read(
        self, text: str, limits: ParseLimits = DEFAULT_LIMITS, hints: ArgHints | None = None
    ) -> list[RawCall]:
        """The calls of the first pythonic expression in ``text``."""
        text = text.replace("<|python_tag|>", "")
        for token in ("<|eom_id|>", "<|eot_id|>"):
            text = text.split(token, 1)[0]
        stripped = text.strip()
        if stripped[:1] == "[" and stripped[-1:] == "]" and len(stripped) < 4096:
            quick = fast_calls(stripped, limits.max_depth)
            if quick is not None:
                return [checked_call(name, args, limits, text) for name, args in quick[:MAX_CALLS]]
        for candidate in _candidates(text):
            tree = _parse(candidate)
            calls = _calls(tree) if tree is not None else None
            if calls:
                return [self._call(c, limits, hints, text) for c in calls[:MAX_CALLS]]
        return []

    @staticmethod
    def _call(node: ast.Call, limits: ParseLimits, hints: ArgHints | None, reply: str) -> RawCall:
        name = _dotted(node.func)
        if name is None:
            raise OutputParseError(
                f"a call to something that is not a name: {ast.unparse(node.func)[:80]}", reply
            )
        try:
            arguments: dict[str, Any] = {}
            if node.args:
                schema = hints(name) if hints is not None else None
                props = list((schema or {}).get("properties") or ()) if isinstance(schema, Mapping) else []
                if len(node.args) > len(props):
                    raise _NotLiteral(f"{len(node.args)} positional argument(s); write them as name=value")
                for prop, value in zip(props, node.args, strict=False):
                    arguments[prop] = _literal(value, 2, limits.max_depth)
            for keyword in node.keywords:
                if keyword.arg is None:
                    raise _NotLiteral("'**' arguments")
                arguments[keyword.arg] = _literal(keyword.value, 2, limits.max_depth)
        except _NotLiteral as exc:
            raise OutputParseError(f"the call to {name!r} is not plain data: {exc}", reply) from None
        except RecursionError:
            raise OutputParseError(f"nesting deeper than {limits.max_depth} levels", reply) from None
        return checked_call(name, arguments, limits, reply)

    def write(self, calls: Sequence[CallSpec]) -> str:
        """``[name(key=value, ...), ...]`` with Python literals."""
        rendered = (
            f"{name}({', '.join(f'{key}={python_literal(value)}' for key, value in args.items())})"
            for name, args in calls
        )
        return f"[{', '.join(rendered)}]"

    def grammar(self, tools: Sequence[ToolSpec], *, parallel: bool = False) -> Node:
        """``[call]`` (``[call, call, ...]`` when parallel); booleans/None as Python words."""
        call = alt([_call_grammar(name, schema) for name, schema in tools])
        return seq(Lit("["), Many(call, ", ") if parallel else call, Lit("]"))


def _value_grammar(schema: Mapping[str, Any]) -> Node:
    kind = schema.get("type")
    if kind == "boolean":
        return Alt((Lit("True"), Lit("False")))
    if kind == "null":
        return Lit("None")
    return Json(schema)


def _call_grammar(name: str, schema: Mapping[str, Any]) -> Node:
    props: Mapping[str, Any] = schema.get("properties") or {}
    required = set(schema.get("required") or ())

    def arg(prop: str) -> Node:
        return seq(Lit(f"{prop}="), _value_grammar(props[prop]))

    body = argument_list(
        [arg(p) for p in props if p in required], [arg(p) for p in props if p not in required], ", "
    )
    return seq(Lit(f"{name}("), body, Lit(")"))


def python_literal(value: Any) -> str:
    """``value`` (plain JSON data) as a Python literal."""
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, (int, float, str)):
        return repr(value)
    if isinstance(value, Mapping):
        return (
            "{" + ", ".join(f"{python_literal(str(k))}: {python_literal(v)}" for k, v in value.items()) + "}"
        )
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(python_literal(v) for v in value) + "]"
    raise TypeError(f"not plain JSON data: {type(value).__name__}")
