"""The fast paths of issue 20 read exactly what the careful paths read, on the fuzz corpora.

Each fast path is checked against the reading it short-cuts, on the same inputs:

- ``ToolSet.parse``'s straight line for a clean or fenced ``{"function", "params"}`` reply against
  the careful reader (``ReplyReader._careful``): the same call, or the same error;
- whole-reply JSON checked while decoding (no tree walk) against ``json`` + the full ``_check``;
- libyaml for YAML replies against the pure-Python safe loader;
- the validator's dump read off the model for plain fields against pydantic's own ``model_dump``.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from test_formats_hostile import HOSTILE
from test_fuzz import MUTATIONS, SMALL, STYLES, TOOLS, fuzz, json_values, render, valid_calls

from funcroute import FuncRouteError, ToolSet
from funcroute.parsing import ParseLimits, whole_json
from funcroute.parsing.checks import _DECODER, _check, _decode_checked, _Unusable
from funcroute.parsing.safe_yaml import _CSafeLoader, _SafeLoader, load_yaml

# ------------------------------------------------------------------------------------ helpers


def outcome(read: Any, reply: str) -> Any:
    """What reading ``reply`` gives, comparable across paths: the call, or the error's type and words."""
    try:
        call = read(reply)
    except FuncRouteError as exc:
        return ("error", type(exc).__name__, str(exc), getattr(exc, "reply", None) == reply)
    return ("call", call.function, typed(call.arguments), call.reply == reply)


def typed(value: Any) -> Any:
    """``value`` with every scalar's type kept, so that ``1 == 1.0 == True`` does not hide a change."""
    if isinstance(value, dict):
        return {"dict": [(typed(k), typed(v)) for k, v in value.items()]}
    if isinstance(value, list):
        return {"list": [typed(v) for v in value]}
    return (type(value).__name__, repr(value))


def careful(tools: ToolSet) -> Any:
    reader = tools._reader
    return lambda reply: reader._careful(reply, whole_json(reply, tools.limits))


def mutate(text: str, edits: list[tuple[str, int, str]]) -> str:
    for kind, where, noise in edits:
        at = where % (len(text) + 1)
        if kind == "insert":
            text = text[:at] + noise + text[at:]
        elif kind == "delete":
            text = text[:at] + text[at + len(noise) :]
        elif kind == "replace":
            text = text[:at] + noise + text[at + len(noise) :]
        elif kind == "duplicate":
            text = text[:at] + text[at : at + 8] + text[at:]
        else:
            text = text[at:] + text[:at]
    return text


EDITS = st.lists(
    st.tuples(
        st.sampled_from(MUTATIONS),
        st.integers(0, 4000),
        st.sampled_from(['"', "{", "}", ",", ":", "`", "x", "1.5e999", "NaN", "\\ud800", "é"]),
    ),
    max_size=3,
)

HAND_WRITTEN = [
    '{"function": "file_analytics", "params": {"action": "count", "filters": {"keyword": "Python"}}}',
    '```json\n{"function": "file_analytics", "params": {"action": "count", "filters": {"keyword": "x"}}}'
    "\n```",
    '{"function": "file_analytics", "params": {"action": "count"}}',  # invalid: filters missing
    '{"function": "file_analytics", "params": {"action": 1, "filters": {"keyword": 2}, "extra": 1}}',
    '{"function": "nope", "params": {}}',
    '{"function": "File_Analytics", "params": {"action": "a", "filters": {"keyword": "b"}}}',
    '{"function": "send_message", "params": {"to": "bob", "text": "hi"}}\n{"function": "ping"}',
    '{"function": "send_message", "params": {"to": "bob", "text": "hi", "urgent": "yes"}}',
    '{"function": "scale", "params": {"factor": NaN}}',
    '{"function": "scale", "params": {"factor": 1e999}}',
    '{"function": "scale", "params": {"factor": "inf"}}',
    '{"function": "store", "params": {"data": "\\ud800"}}',
    '{"function": "store", "params": {"data": ' + "[" * 40 + "]" * 40 + "}}",
    '{"function": "store", "params": {"data": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}}',
    '{"function": "send_message", "params": {"to": "a", "text": "<tool_call>{\\"name\\": \\"x\\"}"}}',
    '{"function": "a.b", "params": {}}',
    '{"function": {"name": "store", "arguments": "{\\"data\\": 1}"}}',
    '```json\n{"function": "store", "params": {"data": 1}}\n```\n```json\n{"function": "ping"}\n```',
    '```\n{"function": "store", "params": {"data": "x"}}\n```',
    '```json\n{"function": "nope", "params": {}}\n```\n'
    '<tool_call>{"name": "store", "arguments": {}}</tool_call>',
]


# --------------------------------------------------------------------------- the parse straight line


@pytest.mark.parametrize("tools", [TOOLS, SMALL], ids=["default", "small-limits"])
@pytest.mark.parametrize("reply", HAND_WRITTEN + list(HOSTILE.values()), ids=lambda r: r[:40])
def test_parse_straight_line_matches_the_careful_reader(tools: ToolSet, reply: str) -> None:
    assert outcome(tools.parse, reply) == outcome(careful(tools), reply)


@fuzz(200)
@given(valid_calls(), st.sampled_from(STYLES), EDITS)
def test_parse_straight_line_matches_on_fuzzed_replies(
    call: dict[str, Any], style: str, edits: list[tuple[str, int, str]]
) -> None:
    reply = mutate(render(call, style), edits)
    for tools in (TOOLS, SMALL):
        assert outcome(tools.parse, reply) == outcome(careful(tools), reply)


# ------------------------------------------------------------------ JSON checked while decoding


def reference_json(text: str, max_depth: int) -> Any:
    """What whole_json did before: decode, then walk the tree with every check."""
    try:
        doc = _DECODER.decode(text.strip())
        _check(doc, max_depth)
    except (ValueError, RecursionError, _Unusable):
        return "refused"
    return typed(doc)


def fast_json(text: str, max_depth: int) -> Any:
    try:
        return typed(_decode_checked(text.strip(), max_depth))  # whole_json hands it stripped text
    except (ValueError, RecursionError, _Unusable):
        return "refused"


JSON_EDGE_CASES = [
    '{"a": NaN}',
    '{"a": -Infinity}',
    '{"a": 1e999}',
    '{"a": -1e400}',
    '{"a": 1e308}',
    '{"a": "\\ud800"}',
    '{"\\udfff": 1}',
    '{"a": "\\u00e9\\ud83d\\ude00"}',
    '{"é": "ok", "b": "\U0001f600"}',
    "[" * 32 + "]" * 32,
    "[" * 33 + "]" * 33,
    '{"a": "' + "[" * 40 + '"}',
    '{"a": ' + "{" * 31 + "}" * 31 + "}",
    '{"a": 1} ',
    '{"a": 1} {"b": 2}',
    '{"a": ' + "9" * 5000 + "}",
    '{"a": 1.5, "b": [0.1, 2e-300, -0.0]}',
]


@pytest.mark.parametrize("text", JSON_EDGE_CASES, ids=lambda t: t[:30])
@pytest.mark.parametrize("max_depth", [32, 6])
def test_json_checked_while_decoding_matches_the_tree_walk(text: str, max_depth: int) -> None:
    assert fast_json(text, max_depth) == reference_json(text, max_depth)


@fuzz(300)
@given(json_values, st.integers(1, 8), st.booleans())
def test_json_checked_while_decoding_matches_on_generated_values(
    value: Any, depth: int, ascii_only: bool
) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only)
    assert fast_json(text, depth) == reference_json(text, depth)


def test_whole_json_still_refuses_what_breaks_a_limit() -> None:
    limits = ParseLimits(max_depth=4)
    assert whole_json('{"a": {"b": {"c": {"d": 1}}}}', limits) is not None
    assert whole_json('{"a": {"b": {"c": {"d": {"e": 1}}}}}', limits) is None
    assert whole_json('{"a": NaN}', limits) is None
    assert whole_json('{"a": "\\ud800"}', limits) is None


# ------------------------------------------------------------------------------ libyaml vs PyYAML


def pure_yaml(text: str) -> Any:
    try:
        return typed(yaml.load(text, Loader=_SafeLoader))
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        return ("refused", type(exc).__name__, str(exc))


def ours_yaml(text: str) -> Any:
    try:
        return typed(load_yaml(text))
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        return ("refused", type(exc).__name__, str(exc))


YAML_EDGE_CASES = [
    "function: store\nparams:\n  data: yes\n",
    "function: store\nparams:\n  data: 2001-12-14\n",
    "function: store\nparams:\n  data: [on, off, True, FALSE, ~, null, 0x1F, 0o17, 1_000, .inf, .nan]\n",
    "function: store\nparams:\n  data: &a [1, 2]\n  more: *a\n",
    "function: store\nparams:\n  data: !!python/object/apply:os.system ['echo']\n",
    "function: store\nparams:\n  data: !!binary aGVsbG8=\n",
    "function: store\nparams:\n  <<: {data: 1}\n",
    "function: store\nparams:\n  data: |\n    two\n    lines\n",
    "function: store\nparams:\n\tdata: 1\n",
    "function: store\nparams:\n  data: 'caf\u00e9 \u2028 x'\n",
    'function: store\nparams:\n  data: "\\x85"\n',
    "function: store\nparams:\n  data: a\u0085b\n",
    "function: store\nparams:\n  data: \ufeffx\n",
    "---\nfunction: a\n---\nfunction: b\n",
    "function: store\nparams:\n  data: {a: [1, {b: 2}]}\n  200: ok\n",
    "function: store\nparams:\n  ? complex\n  : key\n",
    "- function: a\n- function: b\n",
    "function: store\nparams:\n  data: " + "[" * 40 + "]" * 40 + "\n",
    "function: store\nparams:\n  data: x\x00y\n",
    "function: store\nparams:\n  data: \x07\n",
    "function: store\nparams: {data: 1,,}\n",
    "%YAML 1.1\n---\nfunction: store\n",
    "function: store\nparams:\n  data: " + "- " * 3000 + "x\n",
]


@pytest.mark.skipif(_CSafeLoader is None, reason="PyYAML without libyaml")
@pytest.mark.parametrize("text", YAML_EDGE_CASES, ids=lambda t: repr(t[25:45]))
def test_libyaml_reads_as_the_safe_loader(text: str) -> None:
    assert ours_yaml(text) == pure_yaml(text)


@pytest.mark.skipif(_CSafeLoader is None, reason="PyYAML without libyaml")
@fuzz(200)
@given(valid_calls(), st.sampled_from(["yaml", "yaml-fenced"]), EDITS)
def test_libyaml_reads_as_the_safe_loader_on_fuzzed_replies(
    call: dict[str, Any], style: str, edits: list[tuple[str, int, str]]
) -> None:
    text = mutate(render(call, style).removeprefix("```yaml\n").removesuffix("```"), edits)
    assert ours_yaml(text) == pure_yaml(text)


@pytest.mark.skipif(_CSafeLoader is None, reason="PyYAML without libyaml")
@fuzz(300)
@given(
    st.lists(
        st.sampled_from([*"ab1 :-[]{},?'\"#&*!|>\n\t.~", "é", "\u2028", "yes", "2001-01-01", "  "]),
        max_size=40,
    )
)
def test_libyaml_reads_as_the_safe_loader_on_yaml_soup(parts: list[str]) -> None:
    text = "".join(parts)
    assert ours_yaml(text) == pure_yaml(text)


def test_yaml_reply_read_the_same_through_the_toolset() -> None:
    reply = "function: send_message\nparams:\n  to: bob\n  text: 'yes'\n  urgent: true\n"
    call = TOOLS.parse(reply)
    assert (call.function, call.arguments) == ("send_message", {"to": "bob", "text": "yes", "urgent": True})
    assert TOOLS.parse(reply, format="airoboros-yaml").arguments == call.arguments


# ----------------------------------------------------------------- the dump read off the model


def plain_tools() -> ToolSet:
    tools = ToolSet()

    @tools.tool
    def plain(name: str, count: int = 1, ratio: float = 0.5, on: bool = False) -> str:
        """All plain fields."""
        return name

    return tools


PLAIN = plain_tools()


@fuzz(300)
@given(
    st.dictionaries(
        st.sampled_from(["name", "count", "ratio", "on"]),
        st.none()
        | st.booleans()
        | st.integers(-(10**20), 10**20)
        | st.floats(allow_nan=False)
        | st.text(max_size=8)
        | st.sampled_from(["3", "1.5", "true", "nan", "inf", "1e999"]),
    )
)
def test_plain_dump_matches_pydantic(arguments: dict[str, Any]) -> None:
    tool = PLAIN["plain"]
    validator = tool.validator
    assert validator is not None
    model = validator._model  # type: ignore[attr-defined]
    try:
        validated = model.model_validate(arguments)
    except Exception:
        validated = None
    try:
        got = validator(dict(arguments)).arguments
    except Exception:
        got = None
    if validated is None or got is None:
        # Both refuse, or only ours does: NaN/Infinity (pydantic reads "nan", "inf", 1e999 as floats).
        finite = validated is None or all(
            not isinstance(v, float) or math.isfinite(v) for v in validated.__dict__.values()
        )
        assert (validated is None) == (got is None) if finite else got is None
        return
    expected = validated.model_dump(mode="json", by_alias=True, exclude_unset=True)
    assert typed(got) == typed(expected)


def test_plain_dump_keeps_a_str_subclass_to_the_serializer() -> None:
    class Name(str):
        pass

    call = PLAIN.validate("plain", {"name": Name("bob"), "count": True})
    assert typed(call.arguments) == typed({"name": "bob", "count": 1})


@pytest.mark.skipif(_CSafeLoader is None, reason="PyYAML without libyaml")
@pytest.mark.parametrize(
    "text", ["- " * 600 + "x\n", "a:\n" + "".join(" " * i + "b:\n" for i in range(1, 600))]
)
def test_deep_yaml_never_reaches_libyaml_on_a_small_thread_stack(text: str) -> None:
    """libyaml's composer recurses in C: deep YAML must go to the pure-Python loader (a RecursionError)."""
    script = (
        "import sys, threading\n"
        "from funcroute.parsing.safe_yaml import load_yaml\n"
        "threading.stack_size(128 * 1024)\n"
        "def go():\n"
        "    try:\n"
        "        load_yaml(sys.stdin.read())\n"
        "    except Exception as exc:\n"
        "        print(type(exc).__name__)\n"
        "t = threading.Thread(target=go)\n"
        "t.start()\n"
        "t.join()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], input=text, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr[-500:]
