"""Tests of the JSON Schema -> GBNF converter.

Every grammar is (1) parsed by llama.cpp's own grammar parser, when llama-cpp-python is installed, and
(2) run by a small GBNF recogniser below against valid and invalid documents, so acceptance is checked
without a model.
"""

from __future__ import annotations

import enum
import importlib.util
import json
import sys
from functools import cache
from typing import Any, Literal

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field

from funcroute.constrain.gbnf import schema_to_gbnf
from funcroute.errors import UsageError

HAVE_LLAMA_CPP = importlib.util.find_spec("llama_cpp") is not None

# --------------------------------------------------------------------------------------------------
# A small GBNF recogniser (the subset schema_to_gbnf writes: literals, classes, refs, groups, | ? * +)
# --------------------------------------------------------------------------------------------------

Node = tuple[Any, ...]


def _parse_char(text: str, i: int) -> tuple[str, int]:
    if text[i] != "\\":
        return text[i], i + 1
    esc = text[i + 1]
    simple = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", '"': '"', "[": "[", "]": "]"}
    if esc in simple:
        return simple[esc], i + 2
    width = {"x": 2, "u": 4, "U": 8}[esc]
    return chr(int(text[i + 2 : i + 2 + width], 16)), i + 2 + width


class Grammar:
    """Parses GBNF text and decides whether a whole string matches ``root``."""

    def __init__(self, text: str) -> None:
        self.rules: dict[str, Node] = {}
        for line in text.splitlines():
            if not line.strip():
                continue
            name, body = line.split(" ::= ", 1)
            node, end = self._alt(body, 0)
            assert end == len(body), (line, end)
            self.rules[name] = node

    def _skip(self, s: str, i: int) -> int:
        while i < len(s) and s[i] == " ":
            i += 1
        return i

    def _alt(self, s: str, i: int) -> tuple[Node, int]:
        options = []
        seq, i = self._seq(s, i)
        options.append(seq)
        while i < len(s) and s[i] == "|":
            seq, i = self._seq(s, i + 1)
            options.append(seq)
        return ("alt", options), i

    def _seq(self, s: str, i: int) -> tuple[Node, int]:
        items: list[Node] = []
        i = self._skip(s, i)
        while i < len(s) and s[i] not in "|)":
            item, i = self._atom(s, i)
            if i < len(s) and s[i] in "?*+":
                item, i = ({"?": "opt", "*": "star", "+": "plus"}[s[i]], item), i + 1
            items.append(item)
            i = self._skip(s, i)
        return ("seq", items), i

    def _atom(self, s: str, i: int) -> tuple[Node, int]:
        if s[i] == '"':
            out, i = [], i + 1
            while s[i] != '"':
                ch, i = _parse_char(s, i)
                out.append(ch)
            return ("lit", "".join(out)), i + 1
        if s[i] == "[":
            i += 1
            negate = s[i] == "^"
            i += negate
            ranges = []
            while s[i] != "]":
                lo, i = _parse_char(s, i)
                hi = lo
                if s[i] == "-" and s[i + 1] != "]":
                    hi, i = _parse_char(s, i + 1)
                ranges.append((lo, hi))
            return ("cls", negate, ranges), i + 1
        if s[i] == "(":
            node, i = self._alt(s, i + 1)
            assert s[i] == ")"
            return node, i + 1
        j = i
        while j < len(s) and (s[j].isalnum() or s[j] == "-"):
            j += 1
        assert j > i, (s, i)
        return ("ref", s[i:j]), j

    def matches(self, text: str) -> bool:
        memo: dict[tuple[int, int], frozenset[int]] = {}

        def run(node: Node, pos: int) -> frozenset[int]:
            key = (id(node), pos)
            if key in memo:
                return memo[key]
            kind = node[0]
            if kind == "lit":
                out = frozenset([pos + len(node[1])]) if text.startswith(node[1], pos) else frozenset()
            elif kind == "cls":
                inside = pos < len(text) and any(lo <= text[pos] <= hi for lo, hi in node[2])
                out = frozenset([pos + 1]) if pos < len(text) and inside != node[1] else frozenset()
            elif kind == "ref":
                out = run(self.rules[node[1]], pos)
            elif kind == "alt":
                out = frozenset().union(*(run(o, pos) for o in node[1]))
            elif kind == "seq":
                ends = frozenset([pos])
                for item in node[1]:
                    ends = frozenset().union(*(run(item, e) for e in ends)) if ends else ends
                out = ends
            elif kind == "opt":
                out = frozenset([pos]) | run(node[1], pos)
            else:  # star / plus
                seen: set[int] = set() if kind == "plus" else {pos}
                frontier = {pos}
                while frontier:
                    nxt = set().union(*(run(node[1], e) for e in frontier)) - seen
                    seen |= nxt
                    frontier = {e for e in nxt if e != pos}
                out = frozenset(seen)
            memo[key] = out
            return out

        return len(text) in run(self.rules["root"], 0)


@cache
def _compiled(schema_json: str) -> tuple[str, Grammar]:
    text = schema_to_gbnf(json.loads(schema_json))
    assert_llama_cpp_parses(text)
    return text, Grammar(text)


def grammar_for(schema: Any) -> Grammar:
    return _compiled(json.dumps(schema))[1]  # key order matters: it is the property order


def assert_llama_cpp_parses(text: str) -> None:
    """llama.cpp's own parser accepts the grammar (``LlamaGrammar.from_string`` only stores text)."""
    if not HAVE_LLAMA_CPP:
        return
    import llama_cpp

    sampler = llama_cpp.llama_sampler_init_grammar(None, text.encode("utf-8"), b"root")
    assert sampler, f"llama.cpp could not parse the grammar:\n{text}"
    llama_cpp.llama_sampler_free(sampler)


def compact(value: Any, ascii_only: bool = False) -> str:
    """Compact JSON; DEL (which JSON allows raw but the grammar does not) is written as an escape."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=ascii_only).replace("\x7f", "\\u007f")


# --------------------------------------------------------------------------------------------------
# The recogniser itself
# --------------------------------------------------------------------------------------------------


def test_recogniser_sanity() -> None:
    g = Grammar('root ::= "a" ([b-c])* x?\nx ::= [^a-z] | "zz"\n')
    assert all(g.matches(s) for s in ["a", "abcb", "a1", "abzz"])
    assert not any(g.matches(s) for s in ["", "b", "ab1x", "aq", "az"])


# --------------------------------------------------------------------------------------------------
# Primitives
# --------------------------------------------------------------------------------------------------

CALL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "function": {"const": "search"},
        "params": {
            "type": "object",
            "properties": {
                "query": {"type": "string"},
                "limit": {"type": "integer", "minimum": 1},
                "exact": {"type": "boolean"},
                "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "maxItems": 3},
            },
            "required": ["query"],
            "additionalProperties": False,
        },
    },
    "required": ["function", "params"],
    "additionalProperties": False,
}


@pytest.mark.parametrize(
    ("schema", "good", "bad"),
    [
        ({"type": "boolean"}, ["true", "false"], ["True", "1", " true", "true "]),
        ({"type": "null"}, ["null"], ["None", ""]),
        (
            {"type": "integer"},
            ["0", "-7", "42", "1234567890123456"],
            ["01", "1.5", "+1", "-", "", "12345678901234567", "1e3"],
        ),
        ({"type": "integer", "minimum": 0}, ["0", "7"], ["-7"]),
        (
            {"type": "number"},
            ["0", "-0.5", "3.25", "1e10", "2.5E-3", "-12"],
            [".5", "1.", "1e", "--1", "0x10", "NaN", "Infinity", "1e1234"],
        ),
        (
            {"type": "string"},
            ['""', '"abc"', '"a\\"b"', '"\\n\\t\\u00e9"', '"é漢😀"'],
            ['"a', "abc", '"a"b"'],
        ),
        ({"type": "string", "minLength": 2, "maxLength": 3}, ['"ab"', '"abc"', '"a\\nb"'], ['"a"', '"abcd"']),
        ({"const": {"x": [1, "é"]}}, ['{"x":[1,"é"]}'], ['{"x": [1, "é"]}', '{"x":[1,"e"]}']),
        ({"enum": ["a", 1, None, True]}, ['"a"', "1", "null", "true"], ['"b"', "2", "false"]),
        ({"type": ["string", "null"]}, ['"x"', "null"], ["1"]),
        ({"anyOf": [{"type": "integer"}, {"type": "boolean"}]}, ["1", "true"], ['"1"']),
        ({"oneOf": [{"const": "x"}, {"const": "y"}]}, ['"x"', '"y"'], ['"z"']),
        (
            {"type": "array", "items": {"type": "integer"}},
            ["[]", "[1]", "[1,2,3]"],
            ["[1,]", "[,1]", "[1,  2]", "[ 1,2]"],
        ),
        (
            {"type": "array", "items": {"type": "integer"}, "minItems": 1, "maxItems": 2},
            ["[1]", "[1,2]"],
            ["[]", "[1,2,3]"],
        ),
        ({"type": "array", "items": {"type": "integer"}, "maxItems": 0}, ["[]"], ["[1]"]),
        (
            {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}], "items": False},
            ['["a",1]'],
            ['["a"]', '["a",1,2]', '[1,"a"]'],
        ),
        ({}, ["1", '"x"', '{"a":[null,{"b":false}]}', "[]"], ["", "{", '{"a":1,}', "[1 ]"]),
        ({"type": "object"}, ["{}", '{"a":1}', '{"a":{"b":[]}}'], ["[]", '{"a"}', '{"a":1 }']),
        (
            {"type": "object", "additionalProperties": {"type": "integer"}},
            ["{}", '{"a":1,"b":2}'],
            ['{"a":"x"}'],
        ),
        ({"type": "object", "additionalProperties": False}, ["{}"], ['{"a":1}']),
    ],
)
def test_primitives(schema: dict[str, Any], good: list[str], bad: list[str]) -> None:
    grammar = grammar_for(schema)
    for doc in good:
        assert grammar.matches(doc), doc
    for doc in bad:
        assert not grammar.matches(doc), doc


def test_call_schema_accepts_compact_and_json_dumps_spacing_only() -> None:
    grammar = grammar_for(CALL_SCHEMA)
    good = [
        {"function": "search", "params": {"query": "weather"}},
        {"function": "search", "params": {"query": "", "limit": 3}},
        {"function": "search", "params": {"query": "x", "exact": True, "tags": ["a", "b"]}},
        {"function": "search", "params": {"query": "x", "limit": 1, "exact": False, "tags": []}},
    ]
    for doc in good:
        jsonschema.validate(doc, CALL_SCHEMA)
        assert grammar.matches(compact(doc)), doc
        assert grammar.matches(json.dumps(doc)), "one space after ':' and ',' is how models write JSON"
        assert not grammar.matches(json.dumps(doc, indent=2)), "newlines and indentation are refused"
        assert not grammar.matches(json.dumps(doc).replace(": ", ":  ", 1)), "never a run of spaces"
        assert not grammar.matches(" " + compact(doc)) and not grammar.matches(compact(doc) + " ")
    bad = [
        {"function": "lookup", "params": {"query": "x"}},  # wrong const
        {"function": "search"},  # missing required
        {"function": "search", "params": {}},  # missing nested required
        {"function": "search", "params": {"query": "x", "other": 1}},  # extra property
        {"function": "search", "params": {"query": 1}},  # wrong type
        {"function": "search", "params": {"query": "x", "limit": 0.5}},
        {"function": "search", "params": {"query": "x", "tags": ["c"]}},
        {"function": "search", "params": {"query": "x", "tags": ["a", "a", "a", "a"]}},  # maxItems
        {"params": {"query": "x"}, "function": "search"},  # properties come in schema order
    ]
    for doc in bad:
        assert not grammar.matches(compact(doc)), doc


def test_optional_properties_in_every_combination() -> None:
    props = {name: {"type": "integer"} for name in "abcde"}
    for required in ([], ["c"], ["a", "e"], ["b", "d"], list("abcde")):
        schema = {"type": "object", "properties": props, "required": required}
        grammar = grammar_for(schema)
        for mask in range(32):
            doc = {k: i for i, k in enumerate("abcde") if mask >> i & 1}
            valid = all(r in doc for r in required)
            assert grammar.matches(compact(doc)) == valid, (required, doc)
        assert not grammar.matches('{"a":1,,"b":2}')
        assert not grammar.matches('{,"a":1}')


def test_grammar_size_is_linear_in_optional_properties() -> None:
    schema = {"type": "object", "properties": {f"p{i}": {"type": "boolean"} for i in range(60)}}
    text = schema_to_gbnf(schema)
    assert len(text) < 20_000
    assert_llama_cpp_parses(text)
    assert Grammar(text).matches('{"p3":true,"p59":false}')


# --------------------------------------------------------------------------------------------------
# Strings: no raw control characters, only proper escapes
# --------------------------------------------------------------------------------------------------


def test_string_characters() -> None:
    grammar = grammar_for({"type": "string"})
    for code in range(0x80):
        ch = chr(code)
        allowed = code >= 0x20 and code != 0x7F and ch not in '"\\'
        assert grammar.matches(f'"{ch}"') == allowed, hex(code)
    for escape in ['\\"', "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t", "\\u0041", "\\uFFFF", "\\u001b"]:
        assert grammar.matches(f'"{escape}"'), escape
    for bad in ["\\a", "\\x41", "\\u12", "\\uD800", "\\udfff", "\\", "\\U00000041"]:
        assert not grammar.matches(f'"{bad}"'), bad
    assert grammar.matches('"\u0080\u00ff\u2028\U0001f600"')


def test_control_characters_excluded_in_grammar_text() -> None:
    text = schema_to_gbnf({"type": "string"})
    assert "\\x00-\\x1F" in text and "\\x7F" in text
    assert not any(ord(c) < 0x20 and c != "\n" for c in text)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_any_json_string_round_trips(value: str) -> None:
    grammar = grammar_for({"type": "string"})
    assert grammar.matches(compact(value))  # control characters escaped by json.dumps
    if any(ord(c) > 0xFFFF for c in value):
        return  # ASCII-only JSON writes these as surrogate pairs, which the grammar excludes
    assert grammar.matches(compact(value, ascii_only=True))


@settings(max_examples=100, deadline=None)
@given(st.text(min_size=1).filter(lambda s: any(ord(c) < 0x20 for c in s)))
def test_raw_control_characters_rejected(value: str) -> None:
    grammar = grammar_for({"type": "string"})
    assert not grammar.matches('"' + value.replace("\\", "").replace('"', "") + '"')


def test_literals_are_escaped() -> None:
    schema = {"enum": ['a"b', "c\\d", "new\nline", "tab\t", "ctl\x01", "é"]}
    grammar = grammar_for(schema)
    for value in schema["enum"]:
        assert grammar.matches(compact(value)), value
    assert not grammar.matches('"a"b"')
    keys = {
        "type": "object",
        "properties": {'we"ird\\key\n': {"type": "null"}},
        "required": ['we"ird\\key\n'],
    }
    assert grammar_for(keys).matches(compact({'we"ird\\key\n': None}))


# --------------------------------------------------------------------------------------------------
# References, combinators, pydantic
# --------------------------------------------------------------------------------------------------


def test_recursive_ref() -> None:
    schema = {
        "$ref": "#/$defs/Node",
        "$defs": {
            "Node": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
                },
                "required": ["name"],
            }
        },
    }
    grammar = grammar_for(schema)
    tree = {
        "name": "a",
        "children": [{"name": "b"}, {"name": "c", "children": [{"name": "d", "children": []}]}],
    }
    assert grammar.matches(compact(tree))
    assert not grammar.matches(compact({"name": "a", "children": [{"children": []}]}))


def test_allof_merges_properties() -> None:
    schema = {
        "allOf": [
            {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
            {"properties": {"b": {"type": "string"}}, "required": ["b"]},
        ]
    }
    grammar = grammar_for(schema)
    assert grammar.matches('{"a":1,"b":"x"}')
    assert not grammar.matches('{"a":1}')


class Unit(enum.Enum):
    CELSIUS = "celsius"
    FAHRENHEIT = "fahrenheit"


class Location(BaseModel):
    city: str = Field(max_length=40)
    country: str | None = None


class Weather(BaseModel):
    location: Location
    unit: Unit = Unit.CELSIUS
    days: list[int] = Field(default_factory=list, max_length=5)
    mode: Literal["now", "forecast"]


def test_pydantic_schema() -> None:
    schema = Weather.model_json_schema()
    grammar = grammar_for(schema)
    docs = [
        Weather(location=Location(city="Paris"), mode="now"),
        Weather(
            location=Location(city="Zürich", country="CH"), unit=Unit.FAHRENHEIT, days=[1, 2], mode="forecast"
        ),
    ]
    for model in docs:
        doc = model.model_dump(mode="json")
        assert grammar.matches(compact(doc)), doc
        jsonschema.validate(doc, schema)
    assert grammar.matches('{"location":{"city":"x","country":null},"mode":"now"}')
    assert not grammar.matches('{"location":{"city":"x"},"unit":"kelvin","mode":"now"}')
    assert not grammar.matches('{"location":{"city":"x"}}')


# --------------------------------------------------------------------------------------------------
# Errors and output shape
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        (False, "false"),
        ({"enum": []}, "empty enum"),
        ({"$ref": "https://example.com/schema.json"}, "local"),
        ({"$ref": "#/$defs/Missing"}, "unresolvable"),
        ({"type": "decimal"}, "unknown type"),
        ({"type": "string", "minLength": 5, "maxLength": 2}, "maxLength"),
        ({"type": "array", "minItems": 3, "maxItems": 1}, "maxItems"),
    ],
)
def test_errors(schema: Any, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        schema_to_gbnf(schema)


def test_huge_bounds_are_not_enforced_but_still_parse() -> None:
    old_limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old_limit, 20_000))  # the recogniser recurses once per nesting level
    try:
        assert grammar_for({"type": "string", "maxLength": 1000}).matches('"' + "x" * 1000 + '"')
        assert not grammar_for({"type": "string", "maxLength": 1000}).matches('"' + "x" * 1001 + '"')
        huge = grammar_for({"type": "string", "minLength": 5000, "maxLength": 10**6})  # llama.cpp parses it
        assert huge.matches('"' + "x" * 1500 + '"') and huge.matches('""')
        items = grammar_for({"type": "array", "items": {"type": "integer"}, "maxItems": 5000})
        assert items.matches("[" + ",".join(["1"] * 1200) + "]")
    finally:
        sys.setrecursionlimit(old_limit)


def test_output_shape() -> None:
    text = schema_to_gbnf(CALL_SCHEMA)
    assert text.startswith("root ::= ")
    assert text.endswith("\n")
    names = [line.split(" ::= ")[0] for line in text.splitlines()]
    assert len(names) == len(set(names))
    assert " ws" not in text and "[ \\t\\n]" not in text  # no whitespace-run rule
    assert 'json-sp ::= " "?' in text.splitlines()  # one optional space, nothing more
    assert schema_to_gbnf(CALL_SCHEMA) == text  # deterministic


@pytest.mark.skipif(not HAVE_LLAMA_CPP, reason="llama-cpp-python is not installed")
def test_llama_cpp_rejects_a_broken_grammar() -> None:
    """Guards the parse check itself: a bad grammar really is reported."""
    import llama_cpp

    assert not llama_cpp.llama_sampler_init_grammar(None, b"root ::= undefined-rule", b"root")
