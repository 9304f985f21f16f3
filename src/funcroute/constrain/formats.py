r"""Render a format's grammar tree (:mod:`funcroute.formats.grammar`) for each decoding engine.

* :func:`to_lark` gives an llguidance Lark grammar (the transformers backend): literals are
  quoted strings, each JSON value is a ``%json`` rule of its (bounded) schema, and free text is a
  lazy rule that ends with its delimiter (``t[suffix="</think>"]: /(?s:.*)/``), so a thought
  runs freely until ``</think>`` and the call after it is constrained.
* :func:`to_gbnf` gives a llama.cpp GBNF grammar (llama-cpp-python, llama.cpp servers): JSON values
  reuse :func:`funcroute.constrain.gbnf.schema_to_gbnf`'s converter in one rule namespace, and free
  text is a small automaton of rules that accepts any text up to the first occurrence of the
  delimiter (the Knuth-Morris-Pratt failure function tells where a partial match falls back to).

Inside JSON values both allow what the JSON grammars allow: one optional space between tokens
(``{"a": 1}`` as models write it), never a run of whitespace.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any

from funcroute.constrain._gbnf_rules import literal as _literal
from funcroute.constrain.bounds import DecodeBounds, bound_schema
from funcroute.constrain.gbnf import _Converter
from funcroute.formats.grammar import Alt, Json, Lit, Many, Node, Opt, Seq, Text

__all__ = ["to_gbnf", "to_lark"]

_MAX_BOUNDED = 4096  # longer free texts (reasoning) are left unbounded: the token budget ends them


class _Emitter(ABC):
    """A grammar tree written out for one engine.

    Sequences, choices, options and repetitions read alike in both engines' syntax, so only
    literals, JSON values, free text and new rules differ per engine.
    """

    def __init__(self, bounds: DecodeBounds | None) -> None:
        self.bounds = bounds

    @abstractmethod
    def literal(self, text: str) -> str:
        """A non-empty literal."""

    @abstractmethod
    def json(self, node: Json) -> str:
        """A JSON value of the node's schema."""

    @abstractmethod
    def text(self, node: Text) -> str:
        """Free text up to the node's delimiter."""

    @abstractmethod
    def rule_of(self, node: Node) -> str:
        """The name of a new rule for ``node`` (a repeated item is referred to twice)."""

    def expr(self, node: Node) -> str:
        if isinstance(node, Lit):
            return self.literal(node.text) if node.text else '""'
        if isinstance(node, Json):
            return self.json(node)
        if isinstance(node, Text):
            return self.text(node)
        if isinstance(node, Seq):
            return " ".join(self.expr(item) for item in node.items) if node.items else '""'
        if isinstance(node, Alt):
            return "(" + " | ".join(self.expr(option) for option in node.options) + ")"
        if isinstance(node, Opt):
            return f"({self.expr(node.item)})?"
        if isinstance(node, Many):
            item = self.rule_of(node.item)
            sep = f"{self.literal(node.separator)} " if node.separator else ""
            return f"{item} ({sep}{item})*"
        raise TypeError(f"not a grammar node: {node!r}")


# ---------------------------------------------------------------------------------------------- Lark


class _Lark(_Emitter):
    def __init__(self, bounds: DecodeBounds | None) -> None:
        super().__init__(bounds)
        self.rules: list[str] = []
        self.count = 0

    def rule(self, body: str, attrs: str = "") -> str:
        self.count += 1
        name = f"r{self.count}"
        self.rules.append(f"{name}{attrs}: {body}")
        return name

    def literal(self, text: str) -> str:
        return json.dumps(text, ensure_ascii=False)

    def json(self, node: Json) -> str:
        schema = dict(node.schema)
        if self.bounds is not None:
            schema = bound_schema(schema, self.bounds)
        schema.pop("$schema", None)
        schema["x-guidance"] = {"whitespace_flexible": False, "whitespace_pattern": " ?"}
        return self.rule(f"%json {json.dumps(schema, ensure_ascii=False)}")

    def text(self, node: Text) -> str:
        suffix = json.dumps(node.until, ensure_ascii=False)
        limit = node.max_chars
        if limit is None and self.bounds is not None:
            limit = self.bounds.max_string_chars
        # A bounded value: after ``limit`` characters only the delimiter may follow (a token
        # budget would cut the text without its delimiter). Thoughts stay unbounded.
        regex = "/(?s:.*)/" if limit is None or limit > _MAX_BOUNDED else f"/(?s:.{{0,{limit}}})/"
        return self.rule(regex, f"[suffix={suffix}]")

    def rule_of(self, node: Node) -> str:
        return self.rule(self.expr(node))


def to_lark(node: Node, bounds: DecodeBounds | None = None) -> str:
    """The llguidance Lark grammar of ``node`` (JSON schemas bounded by ``bounds`` when given)."""
    lark = _Lark(bounds)
    start = lark.expr(node)
    return "\n".join([f"start: {start}", *lark.rules]) + "\n"


# ---------------------------------------------------------------------------------------------- GBNF


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x80:
        return f"\\x{code:02X}"
    return f"\\u{code:04X}" if code < 0x10000 else f"\\U{code:08X}"


def _char_class(chars: set[str], negate: bool) -> str:
    inner = "".join(_escape(c) for c in sorted(chars))
    return f"[{'^' if negate else ''}{inner}]"


def _until_rules(delimiter: str, fresh: Callable[[str], str], add: Callable[[str, str], None]) -> str:
    """Rules accepting any text without ``delimiter`` followed by ``delimiter``; returns the start rule.

    State ``i`` means the text so far ends with ``delimiter[:i]``; reading the whole delimiter ends
    the rule, and any other character moves to the state the KMP failure function gives.
    """
    size = len(delimiter)
    fail = [0] * (size + 1)
    k = 0
    for i in range(1, size):
        while k and delimiter[i] != delimiter[k]:
            k = fail[k]
        if delimiter[i] == delimiter[k]:
            k += 1
        fail[i + 1] = k

    def step(state: int, char: str) -> int:
        while state and delimiter[state] != char:
            state = fail[state]
        return state + 1 if delimiter[state] == char else 0

    names = [fresh(f"text-until-{i}") for i in range(size)]
    alphabet = set(delimiter)
    for state in range(size):
        options = []
        for char in sorted(alphabet):
            target = step(state, char)
            if target == size:
                options.append(_literal(char))
            else:
                options.append(f"{_literal(char)} {names[target]}")
        options.append(f"{_char_class(alphabet, negate=True)} {names[0]}")
        add(names[state], " | ".join(options))
    return names[0]


class _Gbnf(_Emitter):
    def __init__(self, bounds: DecodeBounds | None) -> None:
        super().__init__(bounds)
        self.converter = _Converter({})
        self.converter.rules["root"] = ""
        self.count = 0

    def fresh(self, hint: str) -> str:
        return self.converter.name(hint)

    def add(self, name: str, body: str) -> None:
        self.converter.rules[name] = body

    def literal(self, text: str) -> str:
        return _literal(text)

    def json(self, node: Json) -> str:
        schema: Mapping[str, Any] = node.schema
        if self.bounds is not None:
            schema = bound_schema(dict(schema), self.bounds)
        self.converter.root = schema  # local $refs resolve against this value's own schema
        self.converter.refs = {}
        self.count += 1
        return self.converter.visit(schema, f"value-{self.count}")

    def text(self, node: Text) -> str:
        return _until_rules(node.until, self.fresh, self.add)

    def rule_of(self, node: Node) -> str:
        item = self.fresh("item")  # named before its body, as the rule numbering always was
        self.add(item, self.expr(node))
        return item


def to_gbnf(node: Node, bounds: DecodeBounds | None = None) -> str:
    """The llama.cpp GBNF grammar of ``node``; its start rule is ``root``."""
    gbnf = _Gbnf(bounds)
    gbnf.converter.rules["root"] = gbnf.expr(node)
    return gbnf.converter.grammar()
