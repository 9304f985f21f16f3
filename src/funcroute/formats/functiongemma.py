"""FunctionGemma: ``<start_function_call>call:name{key:<escape>text<escape>,n:3}<end_function_call>``.

Google's FunctionGemma (Gemma 3 270M tuned for calls) writes keys bare, strings between
``<escape>`` tokens, and numbers, booleans, lists and nested ``{...}`` objects bare. The reader is a
small bounded recursive-descent parser; it also takes JSON strings and quoted keys, which small
models mix in.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from funcroute.errors import OutputParseError
from funcroute.formats.base import (
    ArgHints,
    BlockFormat,
    CallSpec,
    ToolSpec,
    checked_call,
    coerce_text,
    param_schema,
)
from funcroute.formats.grammar import Alt, Json, Lit, Many, Node, Text, alt, argument_list, seq
from funcroute.parsing import ParseLimits, RawCall

__all__ = ["FunctionGemma"]

START, END, ESCAPE = "<start_function_call>", "<end_function_call>", "<escape>"
_DECODER = json.JSONDecoder(strict=False)
_WORD = re.compile(r"[A-Za-z_][\w.-]*\Z")
_BARE = {"true": True, "false": False, "null": None, "True": True, "False": False, "None": None}


class _Bad(Exception):
    pass


class _Reader:
    """Reads one ``{...}`` argument object; positions only move forward, depth is bounded."""

    def __init__(self, text: str, max_depth: int) -> None:
        self.text = text
        self.pos = 0
        self.max_depth = max_depth

    def skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t\r\n":
            self.pos += 1

    def value(self, depth: int, schema: Mapping[str, Any] | None = None) -> Any:
        if depth > self.max_depth:
            raise _Bad(f"nesting deeper than {self.max_depth} levels")
        self.skip()
        text, pos = self.text, self.pos
        if text.startswith(ESCAPE, pos):
            end = text.find(ESCAPE, pos + len(ESCAPE))
            if end == -1:
                raise _Bad("an <escape> string is not closed")
            self.pos = end + len(ESCAPE)
            return text[pos + len(ESCAPE) : end]
        if pos >= len(text):
            raise _Bad("the arguments end too early")
        char = text[pos]
        if char == "{":
            return self.mapping(depth)
        if char == "[":
            return self.sequence(depth)
        if char == '"':
            try:
                value, self.pos = _DECODER.raw_decode(text, pos)
            except ValueError:
                raise _Bad("a quoted string is not closed") from None
            return value
        end = pos
        while end < len(text) and text[end] not in ",}]":
            end += 1
        self.pos = end
        token = text[pos:end].strip()
        if schema is not None:
            return coerce_text(token, schema)
        if token in _BARE:
            return _BARE[token]
        try:
            number = json.loads(token)
        except ValueError:
            return token
        return number if isinstance(number, (int, float)) else token

    def mapping(
        self, depth: int, schemas: Mapping[str, Mapping[str, Any] | None] | None = None
    ) -> dict[str, Any]:
        self.pos += 1  # "{"
        out: dict[str, Any] = {}
        while True:
            self.skip()
            if self.pos >= len(self.text):
                raise _Bad("an object is not closed with '}'")
            if self.text[self.pos] == "}":
                self.pos += 1
                return out
            if self.text[self.pos] == '"':  # a quoted key (the writer quotes keys that are not words)
                try:
                    key, self.pos = _DECODER.raw_decode(self.text, self.pos)
                except ValueError:
                    raise _Bad("a quoted key is not closed") from None
                self.skip()
                if not self.text.startswith(":", self.pos):
                    raise _Bad("a key without ':'")
                self.pos += 1
            else:
                colon = self.text.find(":", self.pos)
                if colon == -1:
                    raise _Bad("a key without ':'")
                key = self.text[self.pos : colon].strip().strip("'")
                self.pos = colon + 1
            out[key] = self.value(depth + 1, schemas.get(key) if schemas is not None else None)
            self.skip()
            if self.text.startswith(",", self.pos):
                self.pos += 1

    def sequence(self, depth: int) -> list[Any]:
        self.pos += 1  # "["
        out: list[Any] = []
        while True:
            self.skip()
            if self.pos >= len(self.text):
                raise _Bad("a list is not closed with ']'")
            if self.text[self.pos] == "]":
                self.pos += 1
                return out
            start = self.pos
            out.append(self.value(depth + 1))
            self.skip()
            if self.text.startswith(",", self.pos):
                self.pos += 1
            elif self.pos == start:
                raise _Bad(f"unexpected {self.text[self.pos]!r} in a list")


class FunctionGemma(BlockFormat):
    """``<start_function_call>call:name{key:value,...}<end_function_call>`` per call."""

    name = "functiongemma"
    markers = (START,)
    template_markers = ("<start_function_call>", "<start_function_declaration>")
    description = "FunctionGemma: <start_function_call>call:name{key:<escape>text<escape>}<end_function_call>"

    opening, closing = START, END

    def read_block(self, body: str, text: str, limits: ParseLimits, hints: ArgHints | None) -> list[RawCall]:
        """The block's call."""
        body = body.strip().removeprefix("call:").strip()
        brace = body.find("{")
        name = (body[:brace] if brace != -1 else body).strip()
        if brace == -1:
            return [checked_call(name, {}, limits, text)]
        props = (
            {key: param_schema(hints, name, key) for key in ((hints(name) or {}).get("properties") or ())}
            if hints is not None
            else None
        )
        reader = _Reader(body[brace:], limits.max_depth)
        try:
            arguments = reader.mapping(1, props)
        except _Bad as exc:
            raise OutputParseError(f"the FunctionGemma call to {name!r} is unreadable: {exc}", text) from None
        return [checked_call(name, arguments, limits, text)]

    def write(self, calls: Sequence[CallSpec]) -> str:
        """One block per call, back to back."""
        return "".join(f"{START}call:{name}{_object(args)}{END}" for name, args in calls)

    def grammar(self, tools: Sequence[ToolSpec], *, parallel: bool = False) -> Node:
        """The call block with the tool's parameters in schema order."""
        block = alt([_block(name, schema) for name, schema in tools])
        return Many(block) if parallel else block


def _write(value: Any) -> str:
    if isinstance(value, str):
        return f"{ESCAPE}{value}{ESCAPE}"
    if isinstance(value, Mapping):
        return _object(value)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_write(v) for v in value) + "]"
    return json.dumps(value)


def _object(args: Mapping[str, Any]) -> str:
    return "{" + ",".join(f"{_key(key)}:{_write(value)}" for key, value in args.items()) + "}"


def _key(key: str) -> str:
    return key if _WORD.match(key) else json.dumps(key, ensure_ascii=False)


def _value(schema: Mapping[str, Any]) -> Node:
    if schema.get("type") == "string":
        if "enum" in schema and schema["enum"] and all(isinstance(v, str) for v in schema["enum"]):
            return seq(Lit(ESCAPE), Alt(tuple(Lit(v) for v in schema["enum"])), Lit(ESCAPE))
        return seq(Lit(ESCAPE), Text(ESCAPE, max_chars=schema.get("maxLength")))
    return Json(schema)


def _block(name: str, schema: Mapping[str, Any]) -> Node:
    props: Mapping[str, Any] = schema.get("properties") or {}
    required = set(schema.get("required") or ())

    def param(key: str) -> Node:
        return seq(Lit(f"{key}:"), _value(props[key]))

    body = argument_list(
        [param(k) for k in props if k in required], [param(k) for k in props if k not in required], ","
    )
    return seq(Lit(f"{START}call:{name}{{"), body, Lit(f"}}{END}"))
