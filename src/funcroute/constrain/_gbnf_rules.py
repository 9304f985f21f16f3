"""GBNF text: literals, bounded repetition, the primitive JSON rules, and a set of named rules.

This is the writing half of :mod:`funcroute.constrain.gbnf` (the schema walker is the other half),
shared with the grammar emitter in :mod:`funcroute.constrain.formats`. The design choices (one
optional space, clean strings, bounded numbers) are explained in the gbnf module's docstring.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["MAX_REPEAT", "RuleSet", "json_literal", "literal", "repeat"]

_HEX = "[0-9a-fA-F]"
#: A JSON string character: raw (no quote, backslash, or ASCII control) or a proper escape. The
#: ``\u`` escape excludes UTF-16 surrogates (D800-DFFF).
_CHAR_RULE = (
    r'[^"\\\x00-\x1F\x7F] | "\\" (["\\/bfnrt] | "u" ([0-9a-cA-CefEF] '
    + f"{_HEX} {_HEX} {_HEX}"
    + " | [dD] [0-7] "
    + f"{_HEX} {_HEX}))"
)
_MAX_INT_DIGITS = 16
_MAX_FRAC_DIGITS = 16
_MAX_EXP_DIGITS = 3
#: Length and item-count bounds above this are not enforced (llama.cpp refuses the grammar size that
#: much nesting takes); the grammar then accepts more than the schema, never less.
MAX_REPEAT = 1000

_PRIMITIVES: dict[str, str] = {
    "json-char": _CHAR_RULE,
    "json-string": '"\\"" (json-char)* "\\""',
    "json-boolean": '"true" | "false"',
    "json-null": '"null"',
    "json-value": ("json-object | json-array | json-string | json-number | json-boolean | json-null"),
    "json-object": (
        '"{" (json-string ":" json-sp json-value ("," json-sp json-string ":" json-sp json-value)*)? "}"'
    ),
    "json-array": '"[" (json-value ("," json-sp json-value)*)? "]"',
    "json-sp": '" "?',  # one optional space, as json.dumps writes after ":" and ","
}
#: Primitive rules that reference other primitives.
_PRIMITIVE_DEPS: dict[str, tuple[str, ...]] = {
    "json-string": ("json-char",),
    "json-value": (
        "json-object",
        "json-array",
        "json-string",
        "json-number",
        "json-boolean",
        "json-null",
    ),
    "json-object": ("json-string", "json-value", "json-sp"),
    "json-array": ("json-value", "json-sp"),
    "json-number": ("json-integer",),
    "json-unumber": ("json-uinteger",),
}


def literal(text: str) -> str:
    """Quote ``text`` as a GBNF string literal."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def json_literal(value: Any) -> str:
    """The compact JSON of ``value`` as a GBNF literal."""
    return literal(json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=False))


def repeat(item: str, low: int, high: int | None) -> str:
    """``item`` repeated ``low`` to ``high`` times (``None``: unbounded), as a GBNF expression."""
    parts = [item] * low
    if high is None:
        parts.append(f"({item})*")
    elif high > low:
        optional = ""
        for _ in range(high - low):
            optional = f"({item} {optional})?" if optional else f"({item})?"
        parts.append(optional)
    return " ".join(parts)


def _digits(low: int, high: int) -> str:
    return repeat("[0-9]", low, high)


class RuleSet:
    """The rules of one grammar, in the order they were named; ``root`` is the start rule."""

    def __init__(self) -> None:
        self.rules: dict[str, str] = {}

    def name(self, hint: str) -> str:
        """A fresh rule name derived from ``hint``."""
        base = re.sub(r"[^a-zA-Z0-9-]+", "-", hint).strip("-") or "rule"
        candidate, n = base, 1
        while candidate in self.rules or candidate.startswith("json-"):
            n += 1
            candidate = f"{base}-{n}"
        self.rules[candidate] = ""  # reserve
        return candidate

    def add(self, hint: str, body: str) -> str:
        """Add a rule named after ``hint`` with ``body``; returns its name."""
        name = self.name(hint)
        self.rules[name] = body
        return name

    def primitive(self, name: str) -> str:
        """Add the primitive JSON rule ``name`` (and the ones it uses) once; returns ``name``."""
        if name not in self.rules:
            self.rules[name] = _PRIMITIVES[name] if name in _PRIMITIVES else self._numeric(name)
            for dep in _PRIMITIVE_DEPS.get(name, ()):
                self.primitive(dep)
        return name

    @staticmethod
    def _numeric(name: str) -> str:
        int_part = f'("0" | [1-9] {_digits(0, _MAX_INT_DIGITS - 1)})'
        if name == "json-integer":
            return f'"-"? {int_part}'
        if name == "json-uinteger":
            return int_part
        frac = f'("." {_digits(1, _MAX_FRAC_DIGITS)})?'
        exp = f"([eE] [-+]? {_digits(1, _MAX_EXP_DIGITS)})?"
        if name == "json-number":
            return f"json-integer {frac} {exp}"
        if name == "json-unumber":
            return f"json-uinteger {frac} {exp}"
        raise AssertionError(name)  # pragma: no cover

    def grammar(self) -> str:
        """The grammar text: one ``name ::= body`` line per rule."""
        return "".join(f"{name} ::= {body}\n" for name, body in self.rules.items())
