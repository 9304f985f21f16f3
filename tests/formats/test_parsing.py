"""Reply text -> validated Call: every reply shape the models produce, every error, every limit."""

import gc
import json
import sys
import time
import types
from collections.abc import Callable
from typing import Any, Literal

import pytest
from pydantic import BaseModel

from _tools import add_file_analytics  # tests/ is on sys.path (rootdir conftest)
from funcroute import (
    Call,
    CallValidationError,
    FuncRouteError,
    OutputParseError,
    ParseLimits,
    ToolSet,
    UnknownFunctionError,
)
from funcroute.errors import ModelOutputError, PartialCallsError

SEED_REPLY = """```json
{
  "function": "file_analytics",
  "params": {
    "action": "count_occurrences",
    "filters": {
      "keyword": "Python"
    }
  }
}
```"""

SEED_CALL = ("file_analytics", {"action": "count_occurrences", "filters": {"keyword": "Python"}})
BOB = ("send_message", {"to": "bob", "text": "hi"})


class CsvFilters(BaseModel):
    column: str
    value: str | None = None


class Item(BaseModel):
    name: str
    qty: int = 1


def build_tools(**options: Any) -> ToolSet:
    tools = add_file_analytics(ToolSet(**options), limit=True)

    @tools.tool
    def csv_analytics(action: str, filters: CsvFilters | None = None) -> str:
        """Performs various aggregations, counts, etc. from CSV data."""
        return action

    @tools.tool
    def send_message(to: str, text: str, urgent: bool = False) -> str:
        """Send a chat message."""
        return f"to {to}: {text}"

    @tools.tool
    def scale(factor: float, label: str = "x") -> float:
        """Scale a value."""
        return factor

    @tools.tool
    def order(items: list[Item], mode: Literal["fast", "slow"] = "fast") -> int:
        """Order items."""
        return len(items)

    @tools.tool
    def tag(labels: dict[str, str], note: str = "") -> int:
        """Tag something."""
        return len(labels)

    @tools.tool
    def store(data: Any = None) -> Any:
        """Store arbitrary JSON data."""
        return data

    @tools.tool
    def ping() -> str:
        """Check the service."""
        return "pong"

    return tools


@pytest.fixture
def tools() -> ToolSet:
    return build_tools()


def parsed(tools: ToolSet, reply: str) -> tuple[str, dict[str, Any]]:
    call = tools.parse(reply)
    assert isinstance(call, Call)
    assert call.reply == reply
    return call.function, call.arguments


def timed(fn: Callable[[], Any], limit: float = 1.0) -> Any:
    """Run ``fn``; assert it took under ``limit`` seconds of CPU; return its value or its error.

    CPU time of this thread is what a slow path burns and what a busy machine does not inflate;
    wall-clock time only has to stay within ten times the limit. A slow run is repeated before
    failing, in case of a stall.
    """
    cpu = wall = float("inf")
    outcome: Any = None
    for _ in range(3):
        gc.disable()  # a collection of the test runner's heap is not the parser's time
        cpu_start, wall_start = time.thread_time(), time.perf_counter()
        try:
            outcome = fn()
        except Exception as exc:
            outcome = exc
        finally:
            gc.enable()
        cpu = min(cpu, time.thread_time() - cpu_start)
        wall = min(wall, time.perf_counter() - wall_start)
        if cpu < limit and wall < 10 * limit:
            return outcome
        if cpu > 5 * limit:
            break  # far too slow to be a stall
    raise AssertionError(
        f"took {cpu:.2f} s of CPU ({wall:.2f} s wall, fastest of up to 3 runs; limit {limit} s)"
    )


# ------------------------------------------------------------------------------------ reply shapes


def test_model_card_reply_in_json_fence(tools: ToolSet) -> None:
    assert parsed(tools, SEED_REPLY) == SEED_CALL


def test_model_card_reply_dispatches_with_typed_model(tools: ToolSet) -> None:
    call = tools.parse(SEED_REPLY)
    assert tools.dispatch(call) == "count_occurrences:Python"


CSV_CALL = ("csv_analytics", {"action": "grouped_count", "filters": {"column": "email_address"}})
YAML_CSV = (
    'function: csv_analytics\nparams:\n  action: "grouped_count"\n  filters:\n    column: "email_address"\n'
)

SHAPES: dict[str, tuple[str, tuple[str, dict[str, Any]]]] = {
    "yaml bare": (YAML_CSV, CSV_CALL),
    "yaml unquoted values": (
        "function: csv_analytics\nparams:\n  action: grouped_count\n  filters:\n    column: email_address",
        CSV_CALL,
    ),
    "yaml in yaml fence": ("```yaml\n" + YAML_CSV + "```", CSV_CALL),
    "yaml in unlabelled fence": ("```\n" + YAML_CSV + "```", CSV_CALL),
    "yaml with prose around": (
        "Sure! Here is the call:\n" + YAML_CSV + "Let me know if you need more.",
        CSV_CALL,
    ),
    "yaml fenced with prose": ("Here you go:\n```yaml\n" + YAML_CSV + "```\nAnything else?", CSV_CALL),
    "yaml parameters key": (YAML_CSV.replace("params:", "parameters:"), CSV_CALL),
    "json parameters key": ('{"function": "send_message", "parameters": {"to": "bob", "text": "hi"}}', BOB),
    "json arguments key": ('{"function": "send_message", "arguments": {"to": "bob", "text": "hi"}}', BOB),
    "json args key": ('{"function": "send_message", "args": {"to": "bob", "text": "hi"}}', BOB),
    "json name key": ('{"name": "send_message", "params": {"to": "bob", "text": "hi"}}', BOB),
    "json name + arguments": ('{"name": "send_message", "arguments": {"to": "bob", "text": "hi"}}', BOB),
    "yaml name key": ("name: send_message\nparams:\n  to: bob\n  text: hi\n", BOB),
    "json unfenced": ('{"function": "send_message", "params": {"to": "bob", "text": "hi"}}', BOB),
    "json pretty unfenced": (
        '{\n  "function": "send_message",\n  "params": {\n    "to": "bob",\n    "text": "hi"\n  }\n}',
        BOB,
    ),
    "json unlabelled fence": (
        '```\n{"function": "send_message", "params": {"to": "bob", "text": "hi"}}\n```',
        BOB,
    ),
    "json fence without closing": (
        '```json\n{"function": "send_message", "params": {"to": "bob", "text": "hi"}}',
        BOB,
    ),
    "json with prose before": (
        'Sure, I can help with that. {"function": "send_message", "params": {"to": "bob", "text": "hi"}}',
        BOB,
    ),
    "json with prose after": (
        '{"function": "send_message", "params": {"to": "bob", "text": "hi"}}\nThis sends "hi" to Bob.',
        BOB,
    ),
    "json fenced with prose both sides": (
        "Based on the input, the best function is send_message:\n\n```json\n"
        '{"function": "send_message", "params": {"to": "bob", "text": "hi"}}\n```\n\n'
        "This will deliver the message.",
        BOB,
    ),
    "prose with braces before": (
        'I filled in {to} and {text}: {"function": "send_message", "params": {"to": "bob", "text": "hi"}}',
        BOB,
    ),
    "single quotes": ("{'function': 'send_message', 'params': {'to': 'bob', 'text': 'hi'}}", BOB),
    "single quotes fenced": (
        "```json\n{'function': 'send_message', 'params': {'to': 'bob', 'text': 'hi'}}\n```",
        BOB,
    ),
    "python True": (
        '{"function": "send_message", "params": {"to": "bob", "text": "hi", "urgent": True}}',
        ("send_message", {"to": "bob", "text": "hi", "urgent": True}),
    ),
    "python False": (
        "{'function': 'send_message', 'params': {'to': 'bob', 'text': 'hi', 'urgent': False}}",
        ("send_message", {"to": "bob", "text": "hi", "urgent": False}),
    ),
    "python None": (
        '{"function": "csv_analytics", "params": {"action": "count", "filters": None}}',
        ("csv_analytics", {"action": "count", "filters": None}),
    ),
    "trailing commas": ('{"function": "send_message", "params": {"to": "bob", "text": "hi",},}', BOB),
    "trailing commas fenced": (
        '```json\n{"function": "send_message", "params": {"to": "bob", "text": "hi",}}\n```',
        BOB,
    ),
    "missing closing braces": ('{"function": "send_message", "params": {"to": "bob", "text": "hi"', BOB),
    "missing one closing brace": ('{"function": "send_message", "params": {"to": "bob", "text": "hi"}', BOB),
    "missing closing brace fenced": (
        '```json\n{"function": "send_message", "params": {"to": "bob", "text": "hi"}\n```',
        BOB,
    ),
    "escaped underscores": ('{"function": "send\\_message", "params": {"to": "bob", "text": "hi"}}', BOB),
    "escaped underscores fenced": (
        '```json\n{"function": "send\\_message", "params": {"to": "bob", "text": "hi"}}\n```',
        BOB,
    ),
    "escaped underscores yaml": ("function: send\\_message\nparams:\n  to: bob\n  text: hi\n", BOB),
    "raw newline in string": (
        '{"function": "send_message", "params": {"to": "bob", "text": "line one\nline two"}}',
        ("send_message", {"to": "bob", "text": "line one\nline two"}),
    ),
    "raw newline in string with prose": (
        'Here:\n{"function": "send_message", "params": {"to": "bob", "text": "a\nb"}}\nDone.',
        ("send_message", {"to": "bob", "text": "a\nb"}),
    ),
    "raw tab in string": (
        '{"function": "send_message", "params": {"to": "bob", "text": "a\tb"}}',
        ("send_message", {"to": "bob", "text": "a\tb"}),
    ),
    "nested in extra function object": (
        '{"function": {"function": "send_message", "params": {"to": "bob", "text": "hi"}}}',
        BOB,
    ),
    "nested function object with name/arguments": (
        '{"function": {"name": "send_message", "arguments": {"to": "bob", "text": "hi"}}}',
        BOB,
    ),
    "openai shape with arguments as JSON string": (
        '{"type": "function", "function": {"name": "send_message", '
        '"arguments": "{\\"to\\": \\"bob\\", \\"text\\": \\"hi\\"}"}}',
        BOB,
    ),
    "openai tool_calls list": (
        '{"tool_calls": [{"id": "c1", "type": "function", "function": {"name": "send_message", '
        '"arguments": "{\\"to\\": \\"bob\\", \\"text\\": \\"hi\\"}"}}]}',
        BOB,
    ),
    "two objects back to back": (
        '{"function": "send_message", "params": {"to": "bob", "text": "hi"}}'
        '{"function": "send_message", "params": {"to": "eve", "text": "no"}}',
        BOB,
    ),
    "two objects on separate lines": (
        '{"function": "send_message", "params": {"to": "bob", "text": "hi"}}\n'
        '{"function": "send_message", "params": {"to": "eve", "text": "no"}}',
        BOB,
    ),
    "invented second example after the first": (
        '```json\n{"function": "send_message", "params": {"to": "bob", "text": "hi"}}\n```\n\n'
        "Input: tell eve no\n\n"
        '```json\n{"function": "send_message", "params": {"to": "eve", "text": "no"}}\n```',
        BOB,
    ),
    "invented second yaml example": (
        "function: send_message\nparams:\n  to: bob\n  text: hi\n\nInput: tell eve no\n"
        "function: send_message\nparams:\n  to: eve\n  text: no\n",
        BOB,
    ),
    "yaml list of calls: the first": (
        "- function: send_message\n  params:\n    to: bob\n    text: hi\n"
        "- function: scale\n  params:\n    factor: 2\n",
        BOB,
    ),
    "call as a one-element list": (
        '[{"function": "send_message", "params": {"to": "bob", "text": "hi"}}]',
        BOB,
    ),
    "name with call parentheses": (
        '{"function": "send_message()", "params": {"to": "bob", "text": "hi"}}',
        BOB,
    ),
    "null params for a no-argument tool": ('{"function": "ping", "params": null}', ("ping", {})),
    "missing params for a no-argument tool": ('{"function": "ping"}', ("ping", {})),
    "empty params": ('{"function": "ping", "params": {}}', ("ping", {})),
    "leading whitespace and BOM-free indentation": (
        '   \n\n  {"function": "send_message", "params": {"to": "bob", "text": "hi"}}  \n',
        BOB,
    ),
    "unicode values": (
        '{"function": "send_message", "params": {"to": "Zoë", "text": "こんにちは 👋"}}',
        ("send_message", {"to": "Zoë", "text": "こんにちは 👋"}),
    ),
    "unicode escapes": (
        '{"function": "send_message", "params": {"to": "\\u00e9", "text": "\\ud83d\\udc4b"}}',
        ("send_message", {"to": "é", "text": "👋"}),
    ),
    "list of nested models": (
        '{"function": "order", "params": {"items": [{"name": "tea"}, {"name": "cake", "qty": 2}], '
        '"mode": "slow"}}',
        ("order", {"items": [{"name": "tea"}, {"name": "cake", "qty": 2}], "mode": "slow"}),
    ),
    "model card shape with csv tool": (
        '{"function": "csv_analytics", "params": {"action": "grouped_count", '
        '"filters": {"column": "email_address"}}}',
        CSV_CALL,
    ),
}


@pytest.mark.parametrize("reply,expected", list(SHAPES.values()), ids=list(SHAPES))
def test_reply_shapes(tools: ToolSet, reply: str, expected: tuple[str, dict[str, Any]]) -> None:
    assert parsed(tools, reply) == expected


CODE_TEXT = "Run ```pip install funcroute``` first"


@pytest.mark.parametrize("indent", [None, 2])
def test_code_fence_inside_a_json_string_in_a_fenced_reply(tools: ToolSet, indent: int | None) -> None:
    calls = [
        {"function": "send_message", "params": {"to": "bob", "text": CODE_TEXT}},
        {"function": "send_message", "params": {"to": "eve", "text": "```"}},
    ]
    single = "```json\n" + json.dumps(calls[0], indent=indent) + "\n```"
    assert parsed(tools, single) == ("send_message", {"to": "bob", "text": CODE_TEXT})
    many = tools.parse_many("```json\n" + json.dumps(calls, indent=indent) + "\n```")
    assert [(c.function, c.arguments) for c in many] == [(c["function"], c["params"]) for c in calls]


def test_code_fence_inside_a_yaml_block_scalar(tools: ToolSet) -> None:
    reply = (
        "```yaml\nfunction: send_message\nparams:\n  to: bob\n  text: |\n"
        "    ```python\n    print(1)\n    ```\n```"
    )
    function, arguments = parsed(tools, reply)
    assert (function, arguments["to"]) == ("send_message", "bob")
    assert arguments["text"].rstrip("\n") == "```python\nprint(1)\n```"


@pytest.mark.parametrize(
    "reply",
    [
        '```json\n{"function": "send_message", "params": {"to": "bob", "text": "hi"}}```',
        "```yaml\nfunction: send_message\nparams:\n  to: bob\n  text: hi```",
        'Here: ```json\n{"function": "send_message", "params": {"to": "bob", "text": "hi"}}\n```',
    ],
    ids=["json-same-line-close", "yaml-same-line-close", "fence-opened-mid-line"],
)
def test_loosely_written_fences(tools: ToolSet, reply: str) -> None:
    assert parsed(tools, reply) == BOB


@pytest.mark.parametrize(
    "reply",
    [
        '{"function": "send_message", "params": {"to": "bob", "text": "hi"}}',
        YAML_CSV,
        SEED_REPLY,
        "{'function': 'send_message', 'params': {'to': 'bob', 'text': 'hi',}}",
    ],
)
def test_call_reply_is_the_raw_text(tools: ToolSet, reply: str) -> None:
    assert tools.parse(reply).reply == reply


def test_arguments_are_only_what_the_model_gave(tools: ToolSet) -> None:
    call = tools.parse('{"function": "send_message", "params": {"to": "bob", "text": "hi"}}')
    assert call.arguments == {"to": "bob", "text": "hi"}  # no "urgent": defaults apply at dispatch


def test_arguments_are_coerced_to_json_values(tools: ToolSet) -> None:
    call = tools.parse('{"function": "scale", "params": {"factor": "2.5", "label": 7}}')
    assert call.arguments == {"factor": 2.5, "label": "7"}


# ------------------------------------------------------------------------------------ YAML scalars


@pytest.mark.parametrize(
    "value",
    [
        "no",
        "yes",
        "on",
        "off",
        "No",
        "YES",
        "Off",
        "y",
        "n",
        "2024-01-02",
        "2001-12-14t21:59:43.10-05:00",
        "2001-12-14 21:59:43.10 -5",
    ],
)
def test_yaml_scalars_stay_strings(tools: ToolSet, value: str) -> None:
    reply = f"function: tag\nparams:\n  labels:\n    a: {value}\n  note: {value}\n"
    assert parsed(tools, reply) == ("tag", {"labels": {"a": value}, "note": value})
    # An Any-typed parameter shows what YAML itself produced: no coercion can hide a bool or a date.
    raw = tools.parse(f"function: store\nparams:\n  data: {value}\n")
    assert raw.arguments == {"data": value}


@pytest.mark.parametrize("value", ['"quoted: text"', "'single'", "plain words here"])
def test_yaml_quoted_and_plain_strings(tools: ToolSet, value: str) -> None:
    call = tools.parse(f"function: store\nparams:\n  data: {value}\n")
    assert call.arguments == {"data": value.strip("'\"")}


@pytest.mark.parametrize("value", ["~", "null", ""])
def test_yaml_null_for_a_string_param_is_a_validation_error(tools: ToolSet, value: str) -> None:
    with pytest.raises(CallValidationError) as info:
        tools.parse(f"function: send_message\nparams:\n  to: {value}\n  text: hi\n")
    assert [p.path for p in info.value.problems] == ["to"]


@pytest.mark.parametrize(
    "value,expected", [("true", True), ("false", False), ("True", True), ("FALSE", False)]
)
def test_yaml_true_false_are_booleans(tools: ToolSet, value: str, expected: bool) -> None:
    reply = f"function: send_message\nparams:\n  to: bob\n  text: hi\n  urgent: {value}\n"
    assert tools.parse(reply).arguments["urgent"] is expected


def test_yaml_date_stays_a_string_for_any_typed_param(tools: ToolSet) -> None:
    call = tools.parse("function: store\nparams:\n  data:\n    when: 2024-05-06\n    flag: no\n")
    assert call.arguments == {"data": {"when": "2024-05-06", "flag": "no"}}


def test_yaml_non_string_keys_become_strings(tools: ToolSet) -> None:
    call = tools.parse("function: tag\nparams:\n  labels:\n    200: ok\n    null: none\n    true: yes\n")
    assert call.arguments == {"labels": {"200": "ok", "null": "none", "true": "yes"}}


# ------------------------------------------------------------------------------------------- errors


def test_unknown_function_lists_available_and_closest(tools: ToolSet) -> None:
    reply = '{"function": "file_analytic", "params": {}}'
    with pytest.raises(UnknownFunctionError) as info:
        tools.parse(reply)
    error = info.value
    assert error.name == "file_analytic"
    assert error.closest == "file_analytics"
    assert error.available == tools.names
    assert error.reply == reply
    message = str(error)
    assert "unknown function 'file_analytic'" in message
    assert "Did you mean 'file_analytics'?" in message
    for name in tools.names:
        assert name in message


@pytest.mark.parametrize(
    "name,closest",
    [
        ("sendmessage", "send_message"),
        ("send_mesage", "send_message"),
        ("Send_Message", "send_message"),
        ("SEND_MESSAGE", "send_message"),
        ("send.message", "send_message"),
        ("csv_analytic", "csv_analytics"),
        ("order_items", "order"),
        ("totally_unrelated_thing", None),
        ("zzz", None),
    ],
)
def test_unknown_function_closest_match(tools: ToolSet, name: str, closest: str | None) -> None:
    with pytest.raises(UnknownFunctionError) as info:
        tools.parse(f'{{"function": "{name}", "params": {{}}}}')
    assert info.value.closest == closest
    assert ("Did you mean" in str(info.value)) is (closest is not None)


def test_unknown_function_in_yaml(tools: ToolSet) -> None:
    reply = "function: web_search\nparams:\n  query: cats\n"
    with pytest.raises(UnknownFunctionError, match="web_search") as info:
        tools.parse(reply)
    assert info.value.reply == reply


def test_invalid_arguments_report_every_problem_with_dotted_paths(tools: ToolSet) -> None:
    reply = '{"function": "file_analytics", "params": {"filters": {"keyword": ["x"], "limit": "many"}}}'
    with pytest.raises(CallValidationError) as info:
        tools.parse(reply)
    error = info.value
    assert error.function == "file_analytics"
    assert error.reply == reply
    assert error.arguments == {"filters": {"keyword": ["x"], "limit": "many"}}
    by_path = {p.path: p for p in error.problems}
    assert set(by_path) == {"action", "filters.keyword", "filters.limit"}
    assert by_path["action"].kind == "missing"
    assert by_path["filters.keyword"].kind == "string_type"
    assert by_path["filters.limit"].kind == "int_parsing"
    message = str(error)
    assert message.startswith("invalid arguments for 'file_analytics' (3 problems): ")
    assert "action: Field required" in message
    assert "filters.keyword: " in message
    assert "filters.limit: " in message


def test_missing_nested_field_has_dotted_path(tools: ToolSet) -> None:
    with pytest.raises(CallValidationError) as info:
        tools.parse('{"function": "file_analytics", "params": {"action": "count", "filters": {}}}')
    assert [(p.path, p.kind) for p in info.value.problems] == [("filters.keyword", "missing")]
    assert "(1 problem)" in str(info.value)


def test_list_item_problems_have_index_paths(tools: ToolSet) -> None:
    reply = '{"function": "order", "params": {"items": [{"name": "a"}, {"qty": "x"}], "mode": "medium"}}'
    with pytest.raises(CallValidationError) as info:
        tools.parse(reply)
    paths = {p.path for p in info.value.problems}
    assert paths == {"items.1.name", "items.1.qty", "mode"}
    assert "'fast' or 'slow'" in str(info.value)


def test_dict_value_problem_has_key_path(tools: ToolSet) -> None:
    with pytest.raises(CallValidationError) as info:
        tools.parse('{"function": "tag", "params": {"labels": {"colour": ["red"]}}}')
    assert [p.path for p in info.value.problems] == ["labels.colour"]


def test_unknown_extra_params_rejected_by_default(tools: ToolSet) -> None:
    reply = '{"function": "send_message", "params": {"to": "bob", "text": "hi", "cc": "eve", "bcc": "x"}}'
    with pytest.raises(CallValidationError) as info:
        tools.parse(reply)
    problems = [(p.path, p.kind, p.message) for p in info.value.problems]
    assert problems == [
        ("bcc", "extra_forbidden", "unexpected parameter"),
        ("cc", "extra_forbidden", "unexpected parameter"),
    ]
    assert info.value.reply == reply


def test_extra_params_and_invalid_values_reported_together(tools: ToolSet) -> None:
    with pytest.raises(CallValidationError) as info:
        tools.parse('{"function": "send_message", "params": {"to": "bob", "txt": "hi"}}')
    assert {(p.path, p.kind) for p in info.value.problems} == {
        ("txt", "extra_forbidden"),
        ("text", "missing"),
    }


def test_unknown_extra_params_dropped_with_extra_ignore() -> None:
    tools = build_tools(extra="ignore")
    call = tools.parse('{"function": "send_message", "params": {"to": "bob", "text": "hi", "cc": "eve"}}')
    assert call.arguments == {"to": "bob", "text": "hi"}
    assert tools.dispatch(call) == "to bob: hi"


def test_extra_ignore_still_reports_real_problems() -> None:
    tools = build_tools(extra="ignore")
    with pytest.raises(CallValidationError) as info:
        tools.parse('{"function": "send_message", "params": {"to": "bob", "cc": "eve"}}')
    assert [p.path for p in info.value.problems] == ["text"]


@pytest.mark.parametrize(
    "params,kind",
    [('"to bob"', "str"), ('["bob", "hi"]', "list"), ("42", "int"), ("true", "bool")],
)
def test_arguments_that_are_not_a_mapping(tools: ToolSet, params: str, kind: str) -> None:
    reply = f'{{"function": "send_message", "params": {params}}}'
    with pytest.raises(CallValidationError) as info:
        tools.parse(reply)
    assert f"arguments must be a mapping, got {kind}" in str(info.value)
    assert info.value.problems[0].path == ""
    assert info.value.reply == reply


def test_openai_arguments_string_that_is_not_json(tools: ToolSet) -> None:
    reply = '{"function": {"name": "send_message", "arguments": "{to: bob"}}'
    with pytest.raises(CallValidationError, match="arguments must be a mapping"):
        tools.parse(reply)


NOT_A_CALL = [
    "",
    "   \n\t ",
    "I'm sorry, I can't help with that.",
    "The answer is 42.",
    '{"answer": 42}',
    '{"result": {"value": "x"}}',
    "[1, 2, 3]",
    "[]",
    "{}",
    "null",
    '"send_message"',
    "```json\n```",
    "```\n\n```",
    "function:",
    "function: \nparams:\n",
    '{"function": 5, "params": {}}',
    '{"function": null, "params": {}}',
    '{"function": "", "params": {}}',
    '{"function": ["send_message"], "params": {}}',
    "- a\n- b\n",
    "key: value\nother: 3\n",
]


@pytest.mark.parametrize("reply", NOT_A_CALL)
def test_not_a_call(tools: ToolSet, reply: str) -> None:
    with pytest.raises(OutputParseError) as info:
        tools.parse(reply)
    assert info.value.reply == reply
    assert "function" in str(info.value) or "call" in str(info.value)


def test_other_formats_are_calls_now(tools: ToolSet) -> None:
    # Pythonic calls and <function=...> blocks were "not a call" before the format layer.
    assert tools.parse("send_message(to='bob', text='hi')").arguments == {"to": "bob", "text": "hi"}
    with pytest.raises(CallValidationError):
        tools.parse("<function=send_message>{}</function>")


def test_no_json_message(tools: ToolSet) -> None:
    with pytest.raises(OutputParseError, match="holds no JSON or YAML function call"):
        tools.parse("Sorry, no.")


def test_json_without_call_message(tools: ToolSet) -> None:
    with pytest.raises(OutputParseError, match=r'expected \{"function": \.\.\., "params": \{\.\.\.\}\}'):
        tools.parse('{"answer": 42}')


@pytest.mark.parametrize("reply", [None, b'{"function": "ping"}', 42, ["x"]])
def test_non_text_reply(tools: ToolSet, reply: Any) -> None:
    with pytest.raises(OutputParseError, match="must be text"):
        tools.parse(reply)


def test_errors_are_model_output_errors_with_feedback(tools: ToolSet) -> None:
    for reply in ("nothing", '{"function": "nope"}', '{"function": "send_message", "params": {}}'):
        with pytest.raises(ModelOutputError) as info:
            tools.parse(reply)
        assert isinstance(info.value, FuncRouteError)
        assert info.value.reply == reply
        assert info.value.feedback == str(info.value)


def test_validation_error_preferred_over_earlier_unknown_function(tools: ToolSet) -> None:
    reply = '{"function": "nope", "params": {}}\n{"function": "send_message", "params": {"to": "bob"}}'
    with pytest.raises(CallValidationError) as info:
        tools.parse(reply)
    assert info.value.function == "send_message"


def test_valid_call_after_invalid_candidates_wins(tools: ToolSet) -> None:
    reply = (
        '{"function": "nope", "params": {}}\n'
        '{"function": "send_message", "params": {"to": "bob"}}\n'
        '{"function": "send_message", "params": {"to": "bob", "text": "hi"}}'
    )
    assert parsed(tools, reply) == BOB


# ---------------------------------------------------------------------------- non-finite numbers


@pytest.mark.parametrize(
    "reply",
    [
        '{"function": "scale", "params": {"factor": NaN}}',
        '{"function": "scale", "params": {"factor": Infinity}}',
        '{"function": "scale", "params": {"factor": -Infinity}}',
        '{"function": "scale", "params": {"factor": 1e999}}',
        '{"function": "scale", "params": {"factor": -1e400}}',
        '```json\n{"function": "scale", "params": {"factor": NaN}}\n```',
        'Result: {"function": "scale", "params": {"factor": Infinity}} ok',
        "function: scale\nparams:\n  factor: .nan\n",
        "function: scale\nparams:\n  factor: .inf\n",
        "function: scale\nparams:\n  factor: -.Inf\n",
        "function: scale\nparams:\n  factor: 1e999\n",
        '{"function": "scale", "params": {"factor": 2, "label": NaN}}',
        '{"function": "store", "params": {"data": [1, NaN]}}',
        '{"function": "store", "params": {"data": {"x": Infinity}}}',
        '[{"function": "scale", "params": {"factor": NaN}}]',
    ],
)
def test_non_finite_numbers_refused(tools: ToolSet, reply: str) -> None:
    # Refused either while reading (a bare NaN token) or while validating (YAML 1.1 reads 1e999 as text,
    # which a float parameter would turn into infinity): never accepted.
    with pytest.raises((OutputParseError, CallValidationError)) as info:
        tools.parse(reply)
    assert "finite" in str(info.value)
    assert info.value.reply == reply


@pytest.mark.parametrize(
    "reply",
    [
        '{"function": "store", "params": {"data": "\\ud800"}}',
        '{"function": "store", "params": {"data": {"\\udc00": 1}}}',
        '{"function": "send_message", "params": {"to": "a\\ud83d", "text": "hi"}}',
        '```json\n{"function": "store", "params": {"data": ["\\udfff"]}}\n```',
        'function: store\nparams:\n  data: "\\ud800"\n',
        '{"function": "store", "params": {"data": "\ud800"}}',
    ],
)
def test_lone_surrogates_refused(tools: ToolSet, reply: str) -> None:
    """Half a surrogate pair is not text: it cannot be encoded, printed or sent on."""
    outcome = timed(lambda: tools.parse(reply))
    assert isinstance(outcome, (OutputParseError, CallValidationError)), outcome
    assert outcome.reply == reply


def test_surrogate_pairs_are_fine(tools: ToolSet) -> None:
    call = tools.parse('{"function": "store", "params": {"data": "\\ud83d\\ude00"}}')
    assert call.arguments == {"data": "\U0001f600"}


@pytest.mark.parametrize("text", ['"nan"', '"NaN"', '"inf"', '"-inf"', '"Infinity"', '"1e999"'])
def test_non_finite_strings_refused_for_float_params(tools: ToolSet, text: str) -> None:
    """Strings pydantic would read as NaN/inf must not smuggle non-JSON floats into arguments."""
    with pytest.raises(CallValidationError) as info:
        tools.parse(f'{{"function": "scale", "params": {{"factor": {text}}}}}')
    assert [p.path for p in info.value.problems] == ["factor"]


def test_huge_integer_for_float_param_never_becomes_infinity(tools: ToolSet) -> None:
    reply = '{"function": "scale", "params": {"factor": 1' + "0" * 5000 + "}}"
    outcome = timed(lambda: tools.parse(reply))
    assert isinstance(outcome, (OutputParseError, CallValidationError)), outcome


def test_huge_integer_for_int_param(tools: ToolSet) -> None:
    reply = '{"function": "order", "params": {"items": [{"name": "a", "qty": 1' + "0" * 5000 + "}]}}"
    outcome = timed(lambda: tools.parse(reply))
    assert isinstance(outcome, (OutputParseError, CallValidationError)), outcome


def test_large_but_parseable_integer_is_kept(tools: ToolSet) -> None:
    big = 10**300
    call = tools.parse(f'{{"function": "store", "params": {{"data": {big}}}}}')
    assert call.arguments == {"data": big}


# ------------------------------------------------------------------------------------------ hostile


@pytest.fixture
def canary(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A module whose functions record being called: YAML python tags must never reach them."""
    fired: list[str] = []
    module = types.ModuleType("funcroute_test_canary")

    class Boom:
        def __init__(self, *args: Any) -> None:
            fired.append("Boom")

    module.fire = lambda *args: fired.append("fire")  # type: ignore[attr-defined]
    module.Boom = Boom  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "funcroute_test_canary", module)
    return fired


@pytest.mark.parametrize(
    "payload",
    [
        "!!python/object/apply:funcroute_test_canary.fire []",
        "!!python/object/apply:funcroute_test_canary.fire\n    args: [1]",
        "!!python/object/new:funcroute_test_canary.Boom []",
        "!!python/object:funcroute_test_canary.Boom {}",
        "!!python/name:funcroute_test_canary.fire",
        "!!python/module:funcroute_test_canary",
        "!!python/tuple [1, 2]",
        "!!binary aGVsbG8=",
        "!!set {a, b}",
        "!custom 3",
    ],
)
def test_yaml_tags_never_construct_objects(tools: ToolSet, canary: list[str], payload: str) -> None:
    for reply in (
        f"function: store\nparams:\n  data: {payload}\n",
        f"```yaml\nfunction: store\nparams:\n  data: {payload}\n```",
        f"function: store\nparams: {payload}\n",
    ):
        outcome = timed(lambda reply=reply: tools.parse(reply))
        if isinstance(outcome, Call):
            # A tag read as plain data is acceptable; a constructed object is not.
            assert type(outcome.arguments.get("data")) in (str, int, list, dict, type(None)), outcome
        else:
            assert isinstance(outcome, FuncRouteError), repr(outcome)
            assert outcome.reply == reply  # type: ignore[attr-defined]
    assert canary == []


BILLION_LAUGHS = """function: store
params:
  data: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
  b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
  c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
  d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
  e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
  f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
  g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
  h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
  i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
  j: [*i, *i, *i, *i, *i, *i, *i, *i, *i]
"""


@pytest.mark.parametrize("wrap", ["{}", "```yaml\n{}```", "Here you go:\n{}\nThanks"])
def test_yaml_alias_bomb_refused_fast(tools: ToolSet, wrap: str) -> None:
    reply = wrap.replace("{}", BILLION_LAUGHS)
    outcome = timed(lambda: tools.parse(reply), limit=0.5)
    assert isinstance(outcome, OutputParseError), outcome
    assert outcome.reply == reply


def test_yaml_aliases_are_refused_even_when_small(tools: ToolSet) -> None:
    reply = "```yaml\nfunction: tag\nparams:\n  labels: &x {a: b}\n  note: *x\n```"
    with pytest.raises(OutputParseError):
        tools.parse(reply)


def test_size_limit_default_is_64_kib(tools: ToolSet) -> None:
    assert ParseLimits().max_chars == 65536
    head = '{"function": "send_message", "params": {"to": "bob", "text": "'
    tail = '"}}'
    fits = head + "a" * (65536 - len(head) - len(tail)) + tail
    assert len(fits) == 65536
    assert tools.parse(fits).arguments["text"] == "a" * (65536 - len(head) - len(tail))
    over = head + "a" * (65537 - len(head) - len(tail)) + tail
    with pytest.raises(OutputParseError, match="larger than the 65536-byte limit") as info:
        tools.parse(over)
    assert info.value.reply == over


def test_size_limit_counts_utf8_bytes(tools: ToolSet) -> None:
    reply = '{"function": "send_message", "params": {"to": "bob", "text": "' + "é" * 40000 + '"}}'
    assert len(reply) < 65536 < len(reply.encode())
    with pytest.raises(OutputParseError, match="larger than"):
        tools.parse(reply)


@pytest.mark.parametrize(
    "reply",
    ["x" * 70000, "{" * 70000, "```json\n" + "[" * 70000, "function: ping\n" + "#" * 70000],
)
def test_oversized_reply_refused_before_parsing(tools: ToolSet, reply: str) -> None:
    outcome = timed(lambda: tools.parse(reply), limit=0.2)
    assert isinstance(outcome, OutputParseError)
    assert "larger than the 65536-byte limit" in str(outcome)
    assert outcome.reply == reply


LONG_TEXT = " ".join(f"word{i}" for i in range(2500))  # about 22 KB: well under the limit, over 16 KiB


@pytest.mark.parametrize(
    "reply",
    [
        f"function: send_message\nparams:\n  to: bob\n  text: {LONG_TEXT}\n",
        f'```yaml\nfunction: send_message\nparams:\n  to: bob\n  text: "{LONG_TEXT}"\n```',
        f"Here it is:\nfunction: send_message\nparams:\n  to: bob\n  text: {LONG_TEXT}\nDone.",
        "function: send_message\nparams:\n  to: bob\n  text: |\n"
        + "".join(f"    {chunk}\n" for chunk in LONG_TEXT.split(" word4")),
    ],
    ids=["yaml", "yaml-fenced", "yaml-prose", "yaml-block-scalar"],
)
def test_long_yaml_replies_under_the_limit_are_read(tools: ToolSet, reply: str) -> None:
    """Any well-formed reply under the size limit is read, whatever its format."""
    assert 16384 < len(reply.encode()) < 65536
    call = timed(lambda: tools.parse(reply))
    assert isinstance(call, Call), call
    assert call.arguments["to"] == "bob"
    assert call.arguments["text"].replace("\n", " word4").strip() == LONG_TEXT


@pytest.mark.parametrize(
    "reply",
    [
        '{"function": "send_message", "params": {"to": "bob", "text": "' + LONG_TEXT + '",}}',
        '{"function": "send_message", "params": {"to": "bob", "text": "' + LONG_TEXT + '"}',
        "{'function': 'send_message', 'params': {'to': 'bob', 'text': '" + LONG_TEXT + "'}}",
    ],
    ids=["trailing-comma", "missing-brace", "single-quotes"],
)
def test_long_json_replies_needing_repair_are_read(tools: ToolSet, reply: str) -> None:
    """Repair is bounded by work, not by length: a long string value costs json_repair little."""
    assert 16384 < len(reply.encode()) < 65536
    call = timed(lambda: tools.parse(reply))
    assert isinstance(call, Call), call
    assert call.arguments == {"to": "bob", "text": LONG_TEXT}


def test_size_limit_configurable() -> None:
    tools = build_tools(limits=ParseLimits(max_chars=100))
    small = '{"function": "send_message", "params": {"to": "bob", "text": "hi"}}'
    assert tools.parse(small).function == "send_message"
    big = '{"function": "send_message", "params": {"to": "bob", "text": "' + "a" * 100 + '"}}'
    with pytest.raises(OutputParseError, match="larger than the 100-byte limit"):
        tools.parse(big)
    with pytest.raises(OutputParseError, match="larger than the 100-byte limit"):
        tools.parse_many(big)


def test_size_limit_can_be_raised() -> None:
    tools = build_tools(limits=ParseLimits(max_chars=200_000))
    text = "a" * 100_000
    call = tools.parse('{"function": "send_message", "params": {"to": "bob", "text": "' + text + '"}}')
    assert call.arguments["text"] == text


def nested_list(levels: int) -> str:
    return "[" * levels + "1" + "]" * levels


def test_nesting_at_the_limit_accepted(tools: ToolSet) -> None:
    # call object (1) -> params (2) -> 30 lists (3..32): exactly max_depth=32
    call = tools.parse('{"function": "store", "params": {"data": ' + nested_list(30) + "}}")
    data = call.arguments["data"]
    for _ in range(29):
        data = data[0]
    assert data == [1]


@pytest.mark.parametrize(
    "reply",
    [
        '{"function": "store", "params": {"data": ' + nested_list(31) + "}}",
        '```json\n{"function": "store", "params": {"data": ' + nested_list(31) + "}}\n```",
        'Call: {"function": "store", "params": {"data": ' + nested_list(200) + "}} done",
        '{"function": "store", "params": {"data": ' + nested_list(5000) + "}}",
        '{"function": "store", "params": {"data": ' + '{"a": ' * 3000 + "1" + "}" * 3000 + "}}",
        '{"function": "store", "params": {"data": ' + '[{"a": ' * 2000 + "1" + "}]" * 2000 + "}}",
        "function: store\nparams:\n  data: " + nested_list(100) + "\n",
        "function: store\nparams:\n  data:\n"
        + "".join("  " * (i + 2) + f"k{i}:\n" for i in range(60))
        + "\n",
    ],
    ids=[
        "31",
        "31-fenced",
        "200-prose",
        "5000",
        "objects-3000",
        "mixed-2000",
        "yaml-flow-100",
        "yaml-block-60",
    ],
)
def test_nesting_beyond_the_limit_refused(tools: ToolSet, reply: str) -> None:
    outcome = timed(lambda: tools.parse(reply))
    assert isinstance(outcome, OutputParseError), outcome
    assert outcome.reply == reply


def test_nesting_refusal_names_the_limit(tools: ToolSet) -> None:
    with pytest.raises(OutputParseError, match="nesting deeper than 32 levels"):
        tools.parse('{"function": "store", "params": {"data": ' + nested_list(40) + "}}")


def test_depth_limit_configurable() -> None:
    tools = build_tools(limits=ParseLimits(max_depth=3))
    assert tools.parse(SEED_REPLY).function == "file_analytics"  # call -> params -> filters = 3
    with pytest.raises(OutputParseError, match="nesting deeper than 3 levels"):
        tools.parse('{"function": "store", "params": {"data": {"a": [1]}}}')


def _openai_string_arguments(levels: int) -> str:
    arguments = json.dumps({"data": json.loads(nested_list(levels))})
    return json.dumps({"tool_calls": [{"function": {"name": "store", "arguments": arguments}}]})


# Each reply takes a path that once checked the class default ParseLimits.max_depth (32) instead of
# the ToolSet's own limits: json_repair's depth gate, PyYAML's depth gate, OpenAI string arguments.
DEEP_REPLIES = {
    "needs-repair": '{"function": "store", "params": {"data": ' + nested_list(38) + ",}}",
    "yaml": "function: store\nparams:\n  data: " + nested_list(38) + "\n",
    "yaml-fenced": "```yaml\nfunction: store\nparams:\n  data: " + nested_list(38) + "\n```",
    "openai-string-arguments": _openai_string_arguments(38),
}


@pytest.mark.parametrize("reply", DEEP_REPLIES.values(), ids=DEEP_REPLIES.keys())
def test_a_raised_depth_limit_applies_on_every_path(reply: str) -> None:
    with pytest.raises((OutputParseError, CallValidationError)):
        build_tools().parse(reply)  # 40 levels: beyond the default of 32
    call = build_tools(limits=ParseLimits(max_depth=64)).parse(reply)
    data = call.arguments["data"]
    for _ in range(37):
        data = data[0]
    assert data == [1]


HOSTILE_SHAPES = {
    "unclosed braces": "{" * 60000,
    "unclosed brackets": "[" * 60000,
    "braces then text": "{" * 50 + "x" * 60000,
    "a few braces then text": "{" * 5 + "word " * 12000,
    "alternating": "{[" * 30000,
    "braces then an open quote": "{" * 32 + '"' + "x" * 60000,
    "few braces then an open quote": "{" * 10 + '"' + "x" * 60000,
    "braces then an open single quote": "{" * 20 + "'" + "word " * 12000,
    "quoted key then braces": '{"' + "{" * 30 + "x" * 60000,
    "fenced flow list of numbers": "```json\n[{" + "1," * 32700,
    "yaml flow list of numbers": "function: store\nparams:\n  data: " + "{" * 31 + "1," * 32000,
    "yaml closed flow list": "function: store\nparams:\n  data: [" + "1, " * 21000 + "1]\n",
    "fenced brackets then a quote": "```json\n" + "{[" * 16 + "'" + "}" * 14000,
    "object chain": '{"a":' * 12000,
    "unclosed call then junk": '{"function": "store", "params": {"data": ' + "{" * 2000 + "x" * 50000,
    "fenced unclosed braces": "```json\n" + "{" * 60000,
    "yaml flow brackets": "function: store\nparams:\n  data: " + "[" * 60000,
    "yaml flow braces": "function: store\nparams:\n  data: " + "{" * 60000,
    "yaml flow 2000": "function: store\nparams:\n  data: " + "[" * 2000,
    "yaml brace 2000": "function: store\nparams:\n  data: " + "{" * 2000,
    "yaml deep indent": "function: store\nparams:\n" + "".join(" " * i + "a:\n" for i in range(2, 340)),
    "yaml dashes": "function: store\nparams:\n  data: " + "- " * 30000,
    "many fences": "```\n{}\n```\n" * 5000,
    "unclosed string": '{"function": "store", "params": {"data": "' + "x" * 60000,
    "backslashes": '{"function": "store", "params": {"data": "' + "\\" * 60000,
    "quotes": '"' * 60000,
    "single quotes": "'" * 60000,
    "commas": "{" + "," * 60000,
    "colons": "{" + ":" * 60000,
    "many numbers": "[" + "1," * 30000,
    "many keys": "{" + '"a":1,' * 10000,
    "function lines": "function: store\n" * 4000,
    "name lines": "  name: x\n" * 6000,
    "nul bytes": "{" + "\x00" * 60000,
    "line separators": '{"a":"' + "\u2028" * 20000,
    "comment spam": "{" + "/*" * 30000,
    "True spam": "{" + "True," * 12000,
}


@pytest.mark.parametrize("reply", list(HOSTILE_SHAPES.values()), ids=list(HOSTILE_SHAPES))
def test_hostile_replies_fail_cleanly_and_fast(tools: ToolSet, reply: str) -> None:
    assert len(reply.encode()) <= 65536
    for method in (tools.parse, tools.parse_many):
        outcome = timed(lambda method=method: method(reply))
        if isinstance(outcome, Exception):
            assert isinstance(outcome, FuncRouteError), repr(outcome)
            assert outcome.reply == reply  # type: ignore[attr-defined]


def test_recursion_limit_is_not_hit_with_low_stack(tools: ToolSet) -> None:
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(200)
    try:
        for reply in ('{"function": "store", "params": {"data": ' + nested_list(150) + "}}", "[" * 5000):
            with pytest.raises(OutputParseError):
                tools.parse(reply)
    finally:
        sys.setrecursionlimit(old)


# --------------------------------------------------------------------------------------- parse_many


def test_parse_many_json_list(tools: ToolSet) -> None:
    reply = (
        '[{"function": "send_message", "params": {"to": "bob", "text": "hi"}},'
        ' {"function": "scale", "params": {"factor": 2}}]'
    )
    calls = tools.parse_many(reply)
    assert [(c.function, c.arguments) for c in calls] == [BOB, ("scale", {"factor": 2.0})]
    assert all(c.reply == reply for c in calls)
    assert [tools.dispatch(c) for c in calls] == ["to bob: hi", 2.0]


@pytest.mark.parametrize(
    "reply",
    [
        "```yaml\n- function: send_message\n  params:\n    to: bob\n    text: hi\n"
        "- function: scale\n  params:\n    factor: 2\n```",
        "- function: send_message\n  params:\n    to: bob\n    text: hi\n"
        "- function: scale\n  params:\n    factor: 2\n",
        "Here are the calls:\n- function: send_message\n  params:\n    to: bob\n    text: hi\n"
        "- function: scale\n  params:\n    factor: 2\n",
        '```json\n[\n  {"function": "send_message", "params": {"to": "bob", "text": "hi"}},\n'
        '  {"function": "scale", "params": {"factor": 2}}\n]\n```',
        '[{"function": "send_message", "params": {"to": "bob", "text": "hi"}},'
        ' {"function": "scale", "params": {"factor": 2}},]',
        "[{'function': 'send_message', 'params': {'to': 'bob', 'text': 'hi'}},"
        " {'function': 'scale', 'params': {'factor': 2}}]",
        '{"tool_calls": [{"function": {"name": "send_message", "arguments": "{\\"to\\": \\"bob\\", '
        '\\"text\\": \\"hi\\"}"}}, {"function": {"name": "scale", "arguments": {"factor": 2}}}]}',
    ],
    ids=[
        "yaml-fenced",
        "yaml-bare",
        "yaml-prose",
        "json-fenced",
        "json-trailing-comma",
        "single-quotes",
        "openai",
    ],
)
def test_parse_many_shapes(tools: ToolSet, reply: str) -> None:
    calls = tools.parse_many(reply)
    assert [(c.function, c.arguments) for c in calls] == [BOB, ("scale", {"factor": 2.0})]


def test_parse_many_single_call(tools: ToolSet) -> None:
    assert [(c.function, c.arguments) for c in tools.parse_many(SEED_REPLY)] == [SEED_CALL]


def test_parse_many_all_calls_must_validate(tools: ToolSet) -> None:
    reply = '[{"function": "send_message", "params": {"to": "bob", "text": "hi"}}, {"function": "scale"}]'
    with pytest.raises(PartialCallsError) as info:
        tools.parse_many(reply)
    # The failing call is reported with its index; the valid one is kept in place.
    [(index, error)] = info.value.errors
    assert index == 1 and isinstance(error, CallValidationError) and error.function == "scale"
    assert [c.function if c else None for c in info.value.calls] == ["send_message", None]
    assert info.value.reply == reply


def test_parse_many_unknown_function(tools: ToolSet) -> None:
    reply = '[{"function": "send_message", "params": {"to": "bob", "text": "hi"}}, {"function": "sacle"}]'
    with pytest.raises(PartialCallsError) as info:
        tools.parse_many(reply)
    [(index, error)] = info.value.errors
    assert index == 1 and isinstance(error, UnknownFunctionError) and error.closest == "scale"
    assert "call 2 of 2" in str(info.value)
    assert info.value.reply == reply


@pytest.mark.parametrize("reply", ["[]", "nothing here", "[1, 2]", '{"a": 1}', ""])
def test_parse_many_without_calls(tools: ToolSet, reply: str) -> None:
    with pytest.raises(OutputParseError) as info:
        tools.parse_many(reply)
    assert info.value.reply == reply


def test_parse_many_refuses_non_finite(tools: ToolSet) -> None:
    reply = (
        '[{"function": "scale", "params": {"factor": 1}}, {"function": "scale", "params": {"factor": NaN}}]'
    )
    with pytest.raises(OutputParseError, match="non-finite"):
        tools.parse_many(reply)


def test_parse_many_refuses_deep_nesting(tools: ToolSet) -> None:
    reply = '[{"function": "store", "params": {"data": ' + nested_list(100) + "}}]"
    with pytest.raises(OutputParseError, match="nesting deeper"):
        tools.parse_many(reply)


def test_parse_many_yaml_tags_never_construct(tools: ToolSet, canary: list[str]) -> None:
    reply = "- function: store\n  params:\n    data: !!python/object/apply:funcroute_test_canary.fire []\n"
    outcome = timed(lambda: tools.parse_many(reply))
    assert isinstance(outcome, (FuncRouteError, list))
    assert canary == []
