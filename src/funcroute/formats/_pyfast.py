"""A fast path for the usual pythonic reply: ``[name(key='text', n=3, flag=True, xs=[1, 2])]``.

:mod:`ast` costs tens of microseconds per reply; most replies use only plain names, quoted strings
without escapes, numbers, Python/JSON words, lists and dicts. This scanner reads exactly that
subset and returns ``None`` on anything else (escapes, tuples, positional arguments, odd
numbers...), so the caller falls back to :mod:`ast`. It never accepts text ``ast`` would reject.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["fast_calls"]

_TOKEN = re.compile(
    r"""[ \t\r\n]*(?:
        ("[^"\\\n]*"|'[^'\\\n]*')                                                 # 1: a string, no escapes
        |(-?(?:0|[1-9][0-9]{0,300})(?:\.[0-9]+)?(?:[eE][-+]?[0-9]{1,3})?)(?![\w.])  # 2: a number
        |([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)                                        # 3: a (dotted) name
        |([\[\](){}=,:])                                                          # 4: punctuation
    )""",
    re.VERBOSE,
)
_WORDS = {"True": True, "False": False, "None": None, "true": True, "false": False, "null": None}


class _Fallback(Exception):
    pass


class _Scanner:
    def __init__(self, text: str, max_depth: int) -> None:
        self.tokens: list[tuple[int, str]] = []
        pos = 0
        end = len(text.rstrip())
        while pos < end:
            match = _TOKEN.match(text, pos)
            if match is None:
                raise _Fallback
            kind = match.lastindex or 0
            self.tokens.append((kind, match.group(kind)))
            pos = match.end()
        self.at = 0
        self.max_depth = max_depth

    def peek(self) -> tuple[int, str]:
        return self.tokens[self.at] if self.at < len(self.tokens) else (0, "")

    def take(self, punct: str) -> None:
        if self.peek() != (4, punct):
            raise _Fallback
        self.at += 1

    def value(self, depth: int) -> Any:
        if depth > self.max_depth:
            raise _Fallback  # ast then reports the depth problem
        kind, text = self.peek()
        self.at += 1
        if kind == 1:
            return text[1:-1]
        if kind == 2:
            return float(text) if any(c in text for c in ".eE") else int(text)
        if kind == 3 and text in _WORDS:
            return _WORDS[text]
        if (kind, text) == (4, "["):
            items: list[Any] = []
            while self.peek() != (4, "]"):
                items.append(self.value(depth + 1))
                if self.peek() == (4, ","):
                    self.at += 1
                elif self.peek() != (4, "]"):
                    raise _Fallback
            self.at += 1
            return items
        if (kind, text) == (4, "{"):
            mapping: dict[str, Any] = {}
            while self.peek() != (4, "}"):
                key_kind, key = self.peek()
                if key_kind != 1:
                    raise _Fallback
                self.at += 1
                self.take(":")
                mapping[key[1:-1]] = self.value(depth + 1)
                if self.peek() == (4, ","):
                    self.at += 1
                elif self.peek() != (4, "}"):
                    raise _Fallback
            self.at += 1
            return mapping
        raise _Fallback

    def call(self) -> tuple[str, dict[str, Any]]:
        kind, name = self.peek()
        if kind != 3 or name in _WORDS:
            raise _Fallback
        self.at += 1
        self.take("(")
        arguments: dict[str, Any] = {}
        while self.peek() != (4, ")"):
            key_kind, key = self.peek()
            if key_kind != 3 or "." in key:
                raise _Fallback
            self.at += 1
            self.take("=")
            if key in arguments:
                raise _Fallback  # a repeated keyword is a SyntaxError for ast: let it say so
            arguments[key] = self.value(2)
            if self.peek() == (4, ","):
                self.at += 1
            elif self.peek() != (4, ")"):
                raise _Fallback
        self.at += 1
        return name, arguments


def fast_calls(text: str, max_depth: int) -> list[tuple[str, dict[str, Any]]] | None:
    """The calls of ``[call, ...]`` or ``call`` in the simple subset, or ``None`` to use :mod:`ast`."""
    try:
        scanner = _Scanner(text, max_depth)
        calls = []
        if scanner.peek() == (4, "["):
            scanner.at += 1
            while scanner.peek() != (4, "]"):
                calls.append(scanner.call())
                if scanner.peek() == (4, ","):
                    scanner.at += 1
                elif scanner.peek() != (4, "]"):
                    raise _Fallback
            scanner.at += 1
        else:
            calls.append(scanner.call())
        if scanner.at != len(scanner.tokens) or not calls:
            raise _Fallback
    except (_Fallback, ValueError, IndexError):
        return None
    return calls
