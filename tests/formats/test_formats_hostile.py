"""The hostile suite over every format reader: size, depth and time bounds, and only our errors.

Each case runs through ``parse`` and ``parse_many`` with ``format="auto"`` and with every format
named, and must end (within the CPU-time hang guard of ``tests/formats/test_fuzz.py``) in calls that pass
the checks or in a :class:`FuncRouteError` that carries the reply. Inputs aim at each reader's
weak spot: thousands of unclosed openings (quadratic rescans), nesting past the depth limit
(recursion), long words and whitespace runs (regex backtracking), huge numbers, NaN, lone
surrogates, null bytes, and the size limit.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from test_fuzz import SMALL, TOOLS, check, fuzz, timed

from funcroute import OutputParseError, ToolSet
from funcroute.formats import format_names

FORMATS = ["auto", *format_names()]
N = 6000  # repetitions: enough to make a quadratic reader take seconds

HOSTILE: dict[str, str] = {
    "hermes openings": "<tool_call>{" * N,
    "hermes deep": "<tool_call>"
    + '{"name": "store", "arguments": {"data": '
    + "[" * 5000
    + "]" * 5000
    + "}}</tool_call>",
    "hermes many": '<tool_call>{"name": "ping", "arguments": {}}</tool_call>' * 500,
    "mistral openings": "[TOOL_CALLS]" * N,
    "mistral args": "[TOOL_CALLS]store[ARGS]" * N,
    "mistral deep": "[TOOL_CALLS] " + "[" * 20000,
    "llama3 objects": '{"name": "ping", "parameters": {}}; ' * 1500,
    "llama3 deep": "<|python_tag|>" + '{"a":' * 8000,
    "pythonic deep": "[store(data=" + "[" * 190 + "]" * 190 + ")]",
    "pythonic deeper": "[store(data=" + "(" * 5000 + ")" * 5000 + ")]",
    "pythonic long word": "a" * 60000 + "(",
    "pythonic whitespace": "[" + " " * 60000 + "x",
    "pythonic calls": "[" + "ping(), " * 7000 + "]",
    "pythonic big int": "[store(data=" + "9" * 50000 + ")]",
    "pythonic power": "[store(data=10**10**10)]",
    "pythonic lambda": "[store(data=(lambda: __import__('os').system('echo pwned'))())]",
    "pythonic attr": "[().__class__.__bases__[0].__subclasses__()]",
    "pythonic nul": "[store(data='\x00')]\x00",
    "xml openings": "<function=" * N,
    "xml params": "<function=store>" + "<parameter=data>" * N,
    "xml deep value": "<function=store><parameter=data>" + "[" * 9000 + "</parameter></function>",
    "gemma openings": "<start_function_call>" * N,
    "gemma deep": "<start_function_call>call:store{data:" + "{a:" * 9000,
    "gemma lists": "<start_function_call>call:store{data:" + "[" * 9000,
    "gemma escapes": "<start_function_call>call:store{data:" + "<escape>" * 7001,
    "gemma commas": "<start_function_call>call:store{data:[" + "," * 30000,
    "harmony starts": "<|start|>" * N,
    "harmony messages": "<|channel|>commentary to=functions.store <|message|>" * 1000,
    "harmony recipients": "to=functions." * N,
    "deepseek openings": "<｜tool▁call▁begin｜>function<｜tool▁sep｜>" * 2000,
    "think openings": "<think>" * N + '{"function": "ping", "params": {}}',
    "think closings": "</think>" * N + '<tool_call>{"name": "ping", "arguments": {}}</tool_call>',
    "mixed markers": "<tool_call>[TOOL_CALLS]<function=<start_function_call><|channel|>" * 1200,
    "nan": '<tool_call>{"name": "scale", "arguments": {"factor": NaN}}</tool_call>',
    "surrogate": '<tool_call>{"name": "store", "arguments": {"data": "\\ud800"}}</tool_call>',
    "oversize": "<tool_call>" + " " * 70000 + "</tool_call>",
    "oversize bytes": "[get_weather(city='" + "é" * 40000 + "')]",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_reply_every_reader(name: str) -> None:
    reply = HOSTILE[name]
    for fmt in FORMATS:
        for method in (TOOLS.parse, TOOLS.parse_many):
            outcome = timed(lambda r, m=method, f=fmt: m(r, format=f), reply)  # type: ignore[misc]
            _check_outcome(outcome, reply, TOOLS)


def _check_outcome(outcome: Any, reply: str, tools: ToolSet) -> None:
    from funcroute import Call, FuncRouteError

    if isinstance(outcome, FuncRouteError):
        assert getattr(outcome, "reply", reply) == reply
        return
    for call in [outcome] if isinstance(outcome, Call) else outcome:
        assert call.function in tools.names


@pytest.mark.parametrize("fmt", FORMATS)
def test_size_limit_applies_to_every_reader(fmt: str) -> None:
    reply = '<tool_call>{"name": "ping", "arguments": {}}</tool_call>' + " " * 3000
    with pytest.raises(OutputParseError, match="larger than the 2048-byte limit"):
        SMALL.parse(reply, format=fmt)


@pytest.mark.parametrize(
    "fmt",
    ["hermes", "mistral", "llama3-json", "pythonic", "qwen3-xml", "functiongemma", "harmony", "deepseek"],
)
def test_depth_limit_applies_to_every_reader(fmt: str) -> None:
    from funcroute.formats import get_format

    deep: Any = "x"
    for _ in range(8):
        deep = [deep]
    reply = get_format(fmt).write([("store", {"data": deep})])
    with pytest.raises(OutputParseError, match=r"deeper than 6 levels|no call"):
        SMALL.parse(reply, format=fmt)
    assert TOOLS.parse(reply, format=fmt).arguments == {"data": deep}  # within the default limit


MARKERS = [
    "<tool_call>",
    "</tool_call>",
    "[TOOL_CALLS]",
    "[ARGS]",
    "<function=",
    "</function>",
    "<parameter=",
    "</parameter>",
    "<start_function_call>",
    "<end_function_call>",
    "<escape>",
    "call:",
    "<|channel|>",
    "<|message|>",
    "<|start|>",
    "<|call|>",
    "to=functions.",
    "<think>",
    "</think>",
    "<|python_tag|>",
    "<｜tool▁call▁begin｜>",
    "<｜tool▁sep｜>",
    "[",
    "]",
    "(",
    ")",
    "{",
    "}",
    ":",
    ",",
    "=",
    '"',
    "'",
    "\n",
    "ping",
    "store",
    "data",
    "scale(factor=",
    "True",
    "null",
    "1e5",
    "-",
    "**",
    "\\",
]


@fuzz(150)
@given(st.lists(st.sampled_from(MARKERS) | st.text(max_size=6), max_size=40), st.sampled_from(FORMATS))
def test_marker_soup_never_escapes(parts: list[str], fmt: str) -> None:
    reply = "".join(parts)
    for method in (TOOLS.parse, TOOLS.parse_many):
        outcome = timed(lambda r, m=method: m(r, format=fmt), reply)  # type: ignore[misc]
        _check_outcome(outcome, reply, TOOLS)


def test_auto_path_still_runs_the_airoboros_fuzz_contract() -> None:
    # The home path keeps the fuzz suite's contract with the sniffer in front of it.
    assert check('```json\n{"function": "store", "params": {"data": 1}}\n```')


def _typed_tools() -> ToolSet:
    tools = ToolSet()

    @tools.tool
    def echo(text: str, n: int, x: float, flag: bool, items: list[str], meta: dict[str, int]) -> str:
        """Echo typed values."""
        return text

    return tools


TYPED = _typed_tools()
# Text the formats' own delimiters cannot carry unescaped is left out (no format escapes them).
_DELIMITERS = (
    "</parameter>",
    "<escape>",
    "</tool_call>",
    "<tool_call>",
    "[TOOL_CALLS]",
    "<|",
    "<｜",
    "</think>",
    "<think>",
    "[ARGS]",
    "<function=",
    "<parameter=",
    "<end_function_call>",
    "<start_function_call>",
)
safe_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30).filter(
    lambda t: not any(d in t for d in _DELIMITERS)
)


@fuzz(60)
@given(
    text=safe_text,
    n=st.integers(-(10**12), 10**12),
    x=st.floats(allow_nan=False, allow_infinity=False, width=64),
    flag=st.booleans(),
    items=st.lists(safe_text, max_size=4),
    meta=st.dictionaries(safe_text, st.integers(-1000, 1000), max_size=3),
    fmt=st.sampled_from(format_names()),
)
def test_every_writer_round_trips_typed_values(
    text: str, n: int, x: float, flag: bool, items: list[str], meta: dict[str, int], fmt: str
) -> None:
    from funcroute.formats import get_format

    arguments = {"text": text, "n": n, "x": x, "flag": flag, "items": items, "meta": meta}
    if fmt == "qwen3-xml":
        # One newline at each end of a raw XML value belongs to the markup.
        assume(not text.startswith(("\n", "\r")) and not text.endswith("\n"))
    reply = get_format(fmt).write([("echo", arguments), ("echo", arguments)])
    calls = TYPED.parse_many(reply, format=fmt)
    assert [c.arguments for c in calls] == [arguments, arguments], reply


@pytest.mark.parametrize("breaker", ["\x85", "\u2028", "\u2029"])
def test_yaml_writer_escapes_what_pyyaml_would_read_as_a_line_break(breaker: str) -> None:
    from funcroute.formats import get_format

    arguments = {"text": f"a{breaker}b", "n": 0, "x": 0.0, "flag": False, "items": [breaker], "meta": {}}
    reply = get_format("airoboros-yaml").write([("echo", arguments)])
    assert TYPED.parse(reply, format="airoboros-yaml").arguments == arguments


@pytest.mark.parametrize("tag", ["</thinking>", "<thinking>", "[/THINK]", "a\n</think>"])
def test_yaml_writer_quotes_a_value_that_would_read_as_a_reasoning_tag(tag: str) -> None:
    # Found by the round-trip property: a plain ``text: </thinking>`` line reads as the end of a
    # reasoning block, and the reader drops the first call.
    from funcroute.formats import get_format

    arguments = {"text": tag, "n": 0, "x": 0.0, "flag": False, "items": [tag], "meta": {tag: 1}}
    reply = get_format("airoboros-yaml").write([("echo", arguments), ("echo", arguments)])
    assert [c.arguments for c in TYPED.parse_many(reply, format="airoboros-yaml")] == [arguments, arguments]


def test_a_plain_yaml_value_that_is_a_closing_reasoning_tag_is_a_value() -> None:
    """PyYAML writes ``keyword: </thinking>`` unquoted; it is a value, not the end of a thought."""
    from funcroute.formats.reasoning import strip_reasoning

    reply = "function: file_analytics\nparams:\n  action: ''\n  filters:\n    keyword: </thinking>\n"
    assert strip_reasoning(reply) == reply
    # A thought that ends a line of prose still ends there.
    assert strip_reasoning("I will call it.</thinking>\nfunction: f\nparams: {}") == "function: f\nparams: {}"
