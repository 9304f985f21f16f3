"""Every tool-call format on quirky, real-style replies: parallel calls, reasoning, prose, mistakes.

Replies are written the way the models (and the servers in front of them) actually emit them,
including the failure modes reported on the vLLM / llama.cpp / LM Studio trackers: calls left in
``content``, ``<think>`` blocks quoting a call, unclosed blocks cut by a stop token, single quotes.
"""

from __future__ import annotations

from typing import Any, Literal

import pytest
from pydantic import BaseModel

from funcroute import ToolSet
from funcroute.errors import (
    CallValidationError,
    OutputParseError,
    PartialCallsError,
    UnknownFunctionError,
    UsageError,
)
from funcroute.formats import format_from_template, format_names, get_format, sniff, strip_reasoning


class Window(BaseModel):
    start: str
    end: str


@pytest.fixture(scope="module")
def tools() -> ToolSet:
    tools = ToolSet()

    @tools.tool
    def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> str:
        """Get the weather."""
        return city

    @tools.tool
    def get_time(tz: str) -> str:
        """Get the time."""
        return tz

    @tools.tool
    def book(guests: int, window: Window, vegan: bool = False, tags: list[str] | None = None) -> str:
        """Book a table."""
        return str(guests)

    @tools.tool(name="math.factorial")
    def factorial(n: int) -> int:
        """Factorial."""
        return n

    return tools


PARIS = ("get_weather", {"city": "Paris"})
ROME = ("get_weather", {"city": "Rome"})
CET = ("get_time", {"tz": "CET"})
BOOK = (
    "book",
    {"guests": 4, "window": {"start": "19:00", "end": "21:00"}, "vegan": True, "tags": ["a", "b"]},
)

# (format, reply, expected calls): each reply is read with format="auto" and with the format named.
CASES: list[tuple[str, str, list[tuple[str, dict[str, Any]]]]] = [
    # --- Mistral
    (
        "mistral",
        '[TOOL_CALLS] [{"name": "get_weather", "arguments": {"city": "Paris"}}, '
        '{"name": "get_weather", "arguments": {"city": "Rome"}}]',
        [PARIS, ROME],
    ),
    (
        "mistral",
        '[TOOL_CALLS]get_weather[ARGS]{"city": "Paris"}[TOOL_CALLS]get_time[ARGS]{"tz": "CET"}',
        [PARIS, CET],
    ),
    ("mistral", '[TOOL_CALLS]get_weather[CALL_ID]a1b2c3d4e[ARGS]{"city": "Paris"}</s>', [PARIS]),
    ("mistral", "[TOOL_CALLS] [{'name': 'get_weather', 'arguments': {'city': 'Paris'},}]", [PARIS]),
    ("mistral", '[TOOL_CALLS][{"name":"get_weather","arguments":"{\\"city\\": \\"Paris\\"}"}]', [PARIS]),
    # --- Hermes / Qwen
    (
        "hermes",
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>\n'
        '<tool_call>\n{"name": "get_time", "arguments": {"tz": "CET"}}\n</tool_call>',
        [PARIS, CET],
    ),
    (
        "hermes",
        '<think>I should call get_weather with {"city": "Rome"}</think>\n\n'
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>',
        [PARIS],
    ),
    (
        "hermes",  # Qwen3 with the template's <think> in the prompt: only the closing tag is generated
        'The user wants Paris. {"name": "get_weather", "arguments": {"city": "Rome"}} is wrong.\n</think>\n\n'
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>',
        [PARIS],
    ),
    (
        "hermes",
        'Sure, let me check.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}',
        [PARIS],
    ),
    (
        "hermes",
        "<tool_call>\n```json\n{'name': 'get_weather', 'arguments': {'city': 'Paris'}}\n```\n</tool_call>",
        [PARIS],
    ),
    ("hermes", '<tool_call>{"name": "get_time", "arguments": {"tz": "CET"}}</tool_call><|im_end|>', [CET]),
    # --- Llama 3.x JSON
    ("llama3-json", '{"type": "function", "name": "get_weather", "parameters": {"city": "Paris"}}', [PARIS]),
    (
        "llama3-json",
        '<|python_tag|>{"name": "get_weather", "parameters": {"city": "Paris"}}<|eom_id|>',
        [PARIS],
    ),
    (
        "llama3-json",
        '{"name": "get_weather", "parameters": {"city": "Paris"}}; '
        '{"name": "get_time", "parameters": {"tz": "CET"}}',
        [PARIS, CET],
    ),
    # --- pythonic
    ("pythonic", '[get_weather(city="Paris"), get_time(tz="CET")]', [PARIS, CET]),
    ("pythonic", "get_weather(city='Paris')", [PARIS]),
    ("pythonic", '<|python_tag|>[get_weather(city="Paris")]<|eom_id|>', [PARIS]),
    ("pythonic", "```python\n[get_weather(city='Paris'), get_weather(city='Rome')]\n```", [PARIS, ROME]),
    (
        "pythonic",
        "[book(guests=4, window={'start': '19:00', 'end': '21:00'}, vegan=True, tags=('a', 'b'))]",
        [BOOK],
    ),
    (
        "pythonic",
        '[book(guests=4, window={"start": "19:00", "end": "21:00"}, vegan=true, tags=["a", "b"])]',
        [BOOK],
    ),
    ("pythonic", "[math.factorial(n=5)]", [("math.factorial", {"n": 5})]),
    ("pythonic", "[get_weather('Paris')]", [PARIS]),  # positional, matched by schema order
    (
        "pythonic",
        "Sure! I'll check both.\n[get_weather(city='Paris'), get_weather(city='Rome')]",
        [PARIS, ROME],
    ),
    # --- Qwen3-Coder XML
    (
        "qwen3-xml",
        "<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n</function>\n</tool_call>",
        [PARIS],
    ),
    (
        "qwen3-xml",
        "<tool_call><function=get_weather><parameter=city>Paris</parameter></function></tool_call>",
        [PARIS],
    ),
    (
        "qwen3-xml",
        "<tool_call>\n<function=book>\n<parameter=guests>\n4\n</parameter>\n<parameter=window>\n"
        '{"start": "19:00", "end": "21:00"}\n</parameter>\n<parameter=vegan>\ntrue\n</parameter>\n'
        '<parameter=tags>\n["a", "b"]\n</parameter>\n</function>\n</tool_call>\n'
        "<tool_call>\n<function=get_time>\n<parameter=tz>\nCET\n</parameter>\n</function>\n</tool_call>",
        [BOOK, CET],
    ),
    ("qwen3-xml", "<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n</function>", [PARIS]),
    # --- FunctionGemma
    (
        "functiongemma",
        "<start_function_call>call:get_weather{city:<escape>Paris<escape>}<end_function_call>",
        [PARIS],
    ),
    (
        "functiongemma",
        "<start_function_call>call:book{guests:4,window:{start:<escape>19:00<escape>,end:<escape>21:00<escape>},"
        "vegan:true,tags:[<escape>a<escape>,<escape>b<escape>]}<end_function_call>"
        "<start_function_call>call:get_time{tz:<escape>CET<escape>}<end_function_call>",
        [BOOK, CET],
    ),
    ("functiongemma", '<start_function_call>call:get_weather{"city": "Paris"}<end_function_call>', [PARIS]),
    # --- Harmony (gpt-oss)
    (
        "harmony",
        '<|channel|>analysis<|message|>Need get_weather {"city": "Rome"}? No, Paris.<|end|>'
        "<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>"
        '{"city":"Paris"}<|call|>',
        [PARIS],
    ),
    (
        "harmony",
        '<|start|>assistant to=functions.get_time<|channel|>commentary json<|message|>{"tz": "CET"}<|call|>',
        [CET],
    ),
    # --- DeepSeek
    (
        "deepseek",
        "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n"
        '{"city": "Paris"}\n```<｜tool▁call▁end｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_time\n'
        '```json\n{"tz": "CET"}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>',
        [PARIS, CET],
    ),
    (
        "deepseek",
        "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>"
        '{"city": "Paris"}<｜tool▁call▁end｜>',
        [PARIS],
    ),
    # --- OpenAI tool_calls (a message, or a whole response body left in content)
    (
        "openai",
        '{"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function", '
        '"function": {"name": "get_weather", "arguments": "{\\"city\\": \\"Paris\\"}"}}, {"id": "call_2", '
        '"type": "function", "function": {"name": "get_time", "arguments": "{\\"tz\\": \\"CET\\"}"}}]}',
        [PARIS, CET],
    ),
    (
        "openai",
        '{"choices": [{"message": {"tool_calls": [{"type": "function", "function": {"name": "get_weather", '
        '"arguments": {"city": "Paris"}}}]}}]}',
        [PARIS],
    ),
    # --- Airoboros (the home format still comes first)
    ("airoboros-json", '```json\n{"function": "get_weather", "params": {"city": "Paris"}}\n```', [PARIS]),
    ("airoboros-yaml", "function: get_weather\nparams:\n  city: Paris\n", [PARIS]),
    (
        "airoboros-json",
        '<think>Maybe {"function": "get_weather", "params": {"city": "Rome"}}</think>\n'
        '{"function": "get_weather", "params": {"city": "Paris"}}',
        [PARIS],
    ),
]


@pytest.mark.parametrize(
    ("fmt", "reply", "expected"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
@pytest.mark.parametrize("mode", ["auto", "named"])
def test_quirky_replies(tools: ToolSet, fmt: str, reply: str, expected: list[Any], mode: str) -> None:
    format_arg = "auto" if mode == "auto" else fmt
    calls = tools.parse_many(reply, format=format_arg)
    assert [(c.function, c.arguments) for c in calls] == expected
    first = tools.parse(reply, format=format_arg)
    assert (first.function, first.arguments) == expected[0]
    assert first.reply == reply
    tools.dispatch(first)


@pytest.mark.parametrize("fmt", format_names())
def test_writer_reader_round_trip(tools: ToolSet, fmt: str) -> None:
    calls = [PARIS, BOOK, CET, ("math.factorial", {"n": -3})]
    reply = get_format(fmt).write(calls)
    for mode in ("auto", fmt):
        if mode == "auto" and fmt.startswith("airoboros"):
            continue
        got = tools.parse_many(reply, format=mode)
        assert [(c.function, c.arguments) for c in got] == calls, (mode, reply)


@pytest.mark.parametrize(
    "fmt", ["hermes", "mistral", "pythonic", "qwen3-xml", "functiongemma", "harmony", "llama3-json"]
)
def test_parse_many_reports_every_failure_with_its_index(tools: ToolSet, fmt: str) -> None:
    calls = [PARIS, ("get_wether", {"city": "Rome"}), CET, ("book", {"guests": "many"})]
    reply = get_format(fmt).write(calls)
    with pytest.raises(PartialCallsError) as info:
        tools.parse_many(reply, format=fmt)
    error = info.value
    assert [index for index, _ in error.errors] == [1, 3]
    assert (
        isinstance(error.errors[0][1], UnknownFunctionError) and error.errors[0][1].closest == "get_weather"
    )
    assert isinstance(error.errors[1][1], CallValidationError)
    assert [c.function if c else None for c in error.calls] == ["get_weather", None, "get_time", None]
    assert [c.function for c in error.valid_calls] == ["get_weather", "get_time"]
    assert "call 2 of 4" in str(error) and "call 4 of 4" in str(error)
    # parse() still returns the first valid call
    assert tools.parse(reply, format=fmt).arguments == {"city": "Paris"}


def test_parse_many_single_bad_call_raises_its_own_error(tools: ToolSet) -> None:
    with pytest.raises(UnknownFunctionError):
        tools.parse_many('<tool_call>{"name": "nope", "arguments": {}}</tool_call>')


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        ("<think>I will call get_weather for Paris.</think>", "only reasoning"),
        ("<think>get_weather(city='Paris') is what I would call but", "only reasoning"),
        ("[get_weather(city=__import__('os').getcwd())]", "not plain data"),
        ("[get_weather(city='a' * 10**9)]", "not plain data"),
        ("[get_weather(**{'city': 'Paris'})]", "not plain data"),
        ("<tool_call>not json at all</tool_call>", "no JSON or YAML"),
        ("<start_function_call>call:get_weather{city:<escape>Paris}<end_function_call>", "not closed"),
        ("[get_weather(city=float('nan'))]", "not plain data"),
        ("[get_weather(city=1e999)]", "non-finite"),
    ],
)
def test_unusable_replies_are_clear_errors(tools: ToolSet, reply: str, message: str) -> None:
    with pytest.raises(OutputParseError, match=message) as info:
        tools.parse(reply)
    assert info.value.reply == reply


def test_named_format_reads_only_that_format(tools: ToolSet) -> None:
    reply = '{"function": "get_weather", "params": {"city": "Paris"}}'
    with pytest.raises(OutputParseError, match="'hermes' format"):
        tools.parse(reply, format="hermes")
    assert tools.parse(reply, format="airoboros-json").arguments == {"city": "Paris"}
    assert tools.parse(reply, format="json").arguments == {"city": "Paris"}  # alias
    with pytest.raises(UsageError, match="unknown tool-call format"):
        tools.parse(reply, format="klingon")


def test_xml_values_follow_the_schema(tools: ToolSet) -> None:
    # "4" is a number for an integer parameter, but "0042" stays text for a string one.
    call = tools.parse("<function=get_time><parameter=tz>\n0042\n</parameter></function>")
    assert call.arguments == {"tz": "0042"}
    call = tools.parse_many(
        '<function=book><parameter=guests>4</parameter><parameter=window>{"start": "a", "end": "b"}'
        "</parameter></function>"
    )[0]
    assert call.arguments == {"guests": 4, "window": {"start": "a", "end": "b"}}


def test_strip_reasoning() -> None:
    assert strip_reasoning("<think>a</think>b\n<think>c</think>d") == "b\nd"
    # Tags inside values are not reasoning: only a line-opening tag or a call-closing one counts.
    quoted = '{"function": "f", "params": {"keyword": "</thinking>", "other": "<think>"}}'
    assert strip_reasoning(quoted) == quoted
    assert strip_reasoning("Sure: " + quoted) == "Sure: " + quoted
    assert strip_reasoning("thought</think>\nanswer") == "answer"
    assert strip_reasoning('thought</think><tool_call>{"name": "f"}') == '<tool_call>{"name": "f"}'
    assert strip_reasoning("answer\n<think>unfinished") == "answer"
    assert strip_reasoning("<thinking>x</thinking>[/THINK]\ny") == "y"
    assert strip_reasoning("plain") == "plain"


def test_sniff_keeps_airoboros_replies_on_the_home_path() -> None:
    for reply in (
        '```json\n{"function": "f", "params": {}}\n```',
        "function: f\nparams: {}",
        "Sure! Here it is.",
    ):
        assert sniff(reply)[0] is None
    assert sniff("[f(a=1)]")[0] is get_format("pythonic")
    assert sniff("<think>x</think><tool_call>{}</tool_call>") == (
        get_format("hermes"),
        "<tool_call>{}</tool_call>",
    )


# Fragments of the chat templates each family ships (tokenizer_config.json / GGUF metadata).
TEMPLATES = {
    "hermes": "{%- if tools %}\n{{- '<tools>' }}...For each function call, return a json object with "
    "function "
    'name and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{"name": ...',
    "qwen3-xml": "<tool_call>\\n<function=example_function_name>\\n<parameter=example_parameter_1>\\nvalue_1",
    "mistral": "{%- if message['role'] == 'user' %}[AVAILABLE_TOOLS] {{ tools|tojson }}[/AVAILABLE_TOOLS]"
    "{%- elif message.tool_calls %}[TOOL_CALLS] [",
    "llama3-json": "<|start_header_id|>ipython<|end_header_id|>... {{- '<|python_tag|>' + tool_call.name }}",
    "pythonic": "[func_name1(params_name1=params_value1, params_name2=params_value2...), func_name2(params)]",
    "functiongemma": "{{- '<start_function_declaration>' -}}...<start_function_call>call:",
    "harmony": "<|start|>assistant<|channel|>commentary to=functions.{{ name }} <|constrain|>json<|message|>",
    "deepseek": "{{'<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>' + tool['type'] "
    "+ '<｜tool▁sep｜>'}}",
}


@pytest.mark.parametrize("fmt", sorted(TEMPLATES))
def test_format_from_template(fmt: str) -> None:
    found = format_from_template(TEMPLATES[fmt])
    assert found is not None and found.name == fmt


def test_format_from_template_unknown() -> None:
    assert format_from_template("{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}") is None
    assert format_from_template(None) is None


FAST_CASES = [
    "[get_weather(city='Paris', unit=\"fahrenheit\"), get_time(tz='CET')]",
    "[book(guests=4, window={'start': '19:00', 'end': '21:00'}, vegan=True, tags=['a', 'b'])]",
    "[book(guests=-4, window={}, vegan=False, tags=[1.5, 2e3, -0.25, None])]",
    "[math.factorial(n=5)]",
    "[get_weather()]",
    "[ get_weather( city = 'Paris' , ) , ]",
]
SLOW_ONLY = [
    "[get_weather(city='Par\\'is')]",  # an escape
    "[get_weather('Paris')]",  # positional
    "[book(tags=('a', 'b'))]",  # a tuple
    "[get_weather(city='a', city='b')]",  # repeated keyword: ast refuses it
    "[get_weather(city=007)]",  # not a Python number
    "[get_weather(city=x)]",  # a bare name
]


@pytest.mark.parametrize("reply", FAST_CASES + SLOW_ONLY)
def test_pythonic_fast_path_agrees_with_ast(reply: str) -> None:
    import ast

    from funcroute.formats._pyfast import fast_calls

    fast = fast_calls(reply, 32)
    if reply in SLOW_ONLY:
        assert fast is None
        return
    tree = ast.parse(reply, mode="eval").body
    assert isinstance(tree, ast.List)
    expected = []
    for node in tree.elts:
        assert isinstance(node, ast.Call)
        values = {
            k.arg: ast.literal_eval(k.value) if not isinstance(k.value, ast.Name) else None
            for k in node.keywords
        }
        for k in node.keywords:
            if isinstance(k.value, ast.Name):
                values[k.arg] = {"True": True, "False": False, "None": None}[k.value.id]
        expected.append((ast.unparse(node.func), values))

    def lists(value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            return [lists(v) for v in value]
        if isinstance(value, dict):
            return {k: lists(v) for k, v in value.items()}
        return value

    assert fast == [(n, lists(v)) for n, v in expected]


def test_cli_validate_reads_every_format_and_every_call(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from funcroute.cli.main import main

    spec = tmp_path / "tools.yaml"
    spec.write_text(
        "tools:\n  - name: get_weather\n    description: Weather.\n    params:\n      city:\n"
        "        type: string\n        description: The city.\n        required: true\n",
        encoding="utf-8",
    )
    reply = tmp_path / "reply.txt"
    reply.write_text(
        '[TOOL_CALLS] [{"name": "get_weather", "arguments": {"city": "Paris"}}, '
        '{"name": "get_weather", "arguments": {"city": "Rome"}}]',
        encoding="utf-8",
    )
    assert main(["validate", "--tools", str(spec), str(reply), "--all"]) == 0
    assert json.loads(capsys.readouterr().out) == [
        {"function": "get_weather", "params": {"city": "Paris"}},
        {"function": "get_weather", "params": {"city": "Rome"}},
    ]
    assert main(["validate", "--tools", str(spec), str(reply), "--tool-format", "hermes"]) == 1
    assert "'hermes' format" in capsys.readouterr().err


@pytest.mark.parametrize(
    "reply",
    [
        'Sure, here is the call:\n{"function": "book", "params": {"guests": 2, '
        '"window": {"start": "</thinking>", "end": "<think>"}}}\nLet me know.',
        '```json\n{"function": "book", "params": {"guests": 2, '
        '"window": {"start": "<tool_call>", "end": "[TOOL_CALLS]"}}}\n```',
        'Here: {"function": "book", "params": {"guests": 2, '
        '"window": {"start": "<function=x>", "end": "b"}}}',
    ],
)
def test_delimiters_inside_airoboros_values_are_only_text(tools: ToolSet, reply: str) -> None:
    assert tools.parse(reply).function == "book"
    assert [c.function for c in tools.parse_many(reply)] == ["book"]
