"""Tools from data: tool files, OpenAI specs, BFCL docs (funcroute.tools.loaders) and the shipped schemas."""

from __future__ import annotations

import json
import logging
import sys
import tempfile
import textwrap
import uuid
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field

from _tools import seed_tools  # tests/ is on sys.path (rootdir conftest)
from funcroute import ToolSet
from funcroute.errors import (
    CallValidationError,
    HandlerNotBoundError,
    ToolSpecError,
    UnknownFunctionError,
)
from funcroute.tools.loaders import MAX_FILE_BYTES
from funcroute.tools.specs import bfcl_schema, tool_to_openai, tools_from_bfcl

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


SEED_YAML = """\
file_analytics:
  description: This tool performs various operations on a text file.
  params:
    action: The operation we want to perform on the data, such as "count_occurrences", "find_line", etc.
    filters:
      keyword: The word or phrase we want to search for.
"""

SEED_SCHEMA = {
    "type": "object",
    "properties": {
        "action": {
            "type": "string",
            "description": 'The operation we want to perform on the data, such as "count_occurrences", '
            '"find_line", etc.',
        },
        "filters": {
            "type": "object",
            "properties": {
                "keyword": {"type": "string", "description": "The word or phrase we want to search for."}
            },
            "required": ["keyword"],
        },
    },
    "required": ["action", "filters"],
}


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def spec_error(path: Path, **options: Any) -> ToolSpecError:
    with pytest.raises(ToolSpecError) as caught:
        ToolSet.from_file(path, **options)
    assert caught.value.source == str(path)
    assert caught.value.problems
    return caught.value


# ------------------------------------------------------------------------------- tool files


def test_yaml_tool_file_in_the_airoboros_shape(tmp_path: Path) -> None:
    tools = ToolSet.from_file(write(tmp_path, "tools.yaml", SEED_YAML), bind_handlers=False)
    assert tools.names == ["file_analytics"]
    tool = tools["file_analytics"]
    assert tool.schema == SEED_SCHEMA
    assert tool.description == "This tool performs various operations on a text file."
    assert tool.handler is None
    assert tool.source.endswith("tools.yaml#file_analytics")
    call = tools.parse(SEED_REPLY)
    assert call.arguments == {"action": "count_occurrences", "filters": {"keyword": "Python"}}
    assert tools.prompt("How many?").endswith(
        "Available functions:\n"
        "file_analytics:\n"
        "  description: This tool performs various operations on a text file.\n"
        "  params:\n"
        '    action: The operation we want to perform on the data, such as "count_occurrences", '
        '"find_line", etc.\n'
        "    filters:\n"
        "      keyword: The word or phrase we want to search for."
    )


def test_json_tool_file_gives_the_same_tools(tmp_path: Path) -> None:
    import yaml

    data = yaml.safe_load(SEED_YAML)
    tools = ToolSet.from_file(write(tmp_path, "tools.json", json.dumps(data)), bind_handlers=False)
    assert tools["file_analytics"].schema == SEED_SCHEMA


def test_nested_params_validate_with_dotted_paths(tmp_path: Path) -> None:
    tools = ToolSet.from_file(write(tmp_path, "tools.yml", SEED_YAML), bind_handlers=False)
    with pytest.raises(CallValidationError) as caught:
        tools.validate("file_analytics", {"action": "x", "filters": {"keyword": 3}})
    assert [(p.path, p.kind) for p in caught.value.problems] == [("filters.keyword", "type")]
    with pytest.raises(CallValidationError) as caught:
        tools.validate("file_analytics", {"action": "x", "filters": {}})
    assert [(p.path, p.kind) for p in caught.value.problems] == [("filters.keyword", "missing")]


def test_json_schema_params_and_requiredness(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "tools.yaml",
        """\
        search:
          description: Search the catalogue.
          parameters:
            query: What to look for.
            limit: {type: integer, description: How many results., default: 10, minimum: 1}
            tags: {type: array, items: {type: string}, required: false}
            mode: {enum: [fast, thorough], description: Search mode.}
            near: {type: [string, "null"], description: A place, or null.}
            anything: {description: Any JSON value.}
            point:
              type: object
              properties: {x: {type: number}, y: {type: number}}
              required: [x, y]
            must: {type: string, default: "", required: true}
            filters:
              required: false
              keyword: The word to find.
              exact: {type: boolean, default: false}
        """,
    )
    tool = ToolSet.from_file(path, bind_handlers=False)["search"]
    props = tool.schema["properties"]
    assert tool.schema["required"] == ["query", "mode", "near", "anything", "point", "must"]
    assert props["limit"] == {
        "type": "integer",
        "description": "How many results.",
        "default": 10,
        "minimum": 1,
    }
    assert props["tags"] == {"type": "array", "items": {"type": "string"}}
    assert props["point"]["required"] == ["x", "y"]
    assert props["anything"] == {"description": "Any JSON value."}
    assert props["filters"] == {
        "type": "object",
        "properties": {
            "keyword": {"type": "string", "description": "The word to find."},
            "exact": {"type": "boolean", "default": False},
        },
        "required": ["keyword"],
    }
    tools = ToolSet([tool])
    good = {
        "query": "q",
        "mode": "fast",
        "near": None,
        "anything": [1],
        "point": {"x": 1, "y": 2.5},
        "must": "",
    }
    assert tools.validate("search", good).arguments == good
    with pytest.raises(CallValidationError) as caught:
        tools.validate("search", {**good, "limit": 0, "mode": "slow", "point": {"x": 1}})
    assert sorted(p.path for p in caught.value.problems) == ["limit", "mode", "point.y"]


def test_a_full_json_schema_under_params_is_read_as_such(tmp_path: Path) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    path = write(tmp_path, "t.json", json.dumps({"count": {"description": "Count.", "parameters": schema}}))
    assert ToolSet.from_file(path, bind_handlers=False)["count"].schema == schema


def test_tool_without_params(tmp_path: Path) -> None:
    tools = ToolSet.from_file(write(tmp_path, "t.yaml", "ping:\n  description: Ping.\n"), bind_handlers=False)
    assert tools["ping"].schema == {"type": "object", "properties": {}}
    assert tools.parse('{"function": "ping"}').arguments == {}


def test_list_and_tools_wrapper_shapes(tmp_path: Path) -> None:
    openai = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
    bare = {"name": "add", "description": "Add.", "parameters": {"type": "object", "properties": {}}}
    bfcl = {
        "name": "math.factorial",
        "description": "Factorial.",
        "parameters": {"type": "dict", "properties": {"n": {"type": "integer"}}, "required": ["n"]},
    }
    airoboros = {"name": "say", "description": "Say it.", "params": {"text": "What to say."}}
    as_list = ToolSet.from_file(write(tmp_path, "l.json", json.dumps([openai, bare, bfcl, airoboros])))
    assert as_list.names == ["get_weather", "add", "math.factorial", "say"]
    assert as_list["math.factorial"].schema["properties"]["n"] == {"type": "integer"}
    assert as_list["say"].schema["required"] == ["text"]
    wrapped = ToolSet.from_file(write(tmp_path, "w.json", json.dumps({"tools": [openai, bfcl]})))
    assert wrapped.names == ["get_weather", "math.factorial"]
    assert wrapped["get_weather"].schema == openai["function"]["parameters"]  # type: ignore[index]


# ----------------------------------------------------------------------------------- handlers


@pytest.fixture
def handler_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh importable module (unique name) with a few handlers; removed from sys.modules after."""
    name = f"fr_handlers_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(
        textwrap.dedent(
            """\
            from pathlib import Path
            from types import SimpleNamespace

            Path(__file__).with_suffix(".imported").touch()

            def count(action, filters):
                return f"{action}:{filters['keyword']}"

            def strict(a):
                return a

            ns = SimpleNamespace(nested=lambda **kw: sorted(kw))
            NOT_CALLABLE = 42
            """
        ),
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def test_handlers_are_bound_and_dispatched(tmp_path: Path, handler_module: str) -> None:
    text = SEED_YAML + f"  handler: {handler_module}:count\n"
    text += f"echo:\n  description: Echo.\n  params:\n    x: X.\n  handler: {handler_module}:ns.nested\n"
    tools = ToolSet.from_file(write(tmp_path, "t.yaml", text))
    assert tools.dispatch(tools.parse(SEED_REPLY)) == "count_occurrences:Python"
    assert tools.dispatch(tools.parse('{"function": "echo", "params": {"x": "1"}}')) == ["x"]


def test_unbound_tools_do_not_import_handlers(tmp_path: Path, handler_module: str) -> None:
    text = SEED_YAML + f"  handler: {handler_module}:count\n"
    text += "other:\n  description: Other.\n  handler: no_such_module_xyz:f\n"
    tools = ToolSet.from_file(write(tmp_path, "t.yaml", text), bind_handlers=False)
    assert not (tmp_path / f"{handler_module}.imported").exists()
    assert handler_module not in sys.modules
    with pytest.raises(HandlerNotBoundError):
        tools.dispatch(tools.parse(SEED_REPLY))


def test_handler_problems_are_all_listed(tmp_path: Path, handler_module: str) -> None:
    text = f"""\
    a: {{description: A., handler: "no_such_module_xyz:f"}}
    b: {{description: B., handler: "{handler_module}:missing"}}
    c: {{description: C., handler: "{handler_module}:NOT_CALLABLE"}}
    d: {{description: D., params: {{a: A.}}, handler: "{handler_module}:strict"}}
    e: {{description: E., handler: "not a handler"}}
    """
    problems = sorted(spec_error(write(tmp_path, "t.yaml", text)).problems)
    assert len(problems) == 4
    assert problems[0].startswith(
        "a.handler: cannot bind 'no_such_module_xyz:f': ModuleNotFoundError: No module"
    )
    assert problems[1] == (
        f"b.handler: cannot bind '{handler_module}:missing': AttributeError: "
        f"module '{handler_module}' has no attribute 'missing'"
    )
    assert problems[2].endswith("TypeError: 'NOT_CALLABLE' is a int, not a function")
    assert problems[3].startswith(
        "e.handler: 'not a handler' does not match the expected form: A Python callable"
    )


# ------------------------------------------------------------------------------ hostile files

BILLION_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: [*d,*d,*d,*d,*d,*d,*d,*d,*d]
"""


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("bomb.yaml", BILLION_LAUGHS, "line 2, column 8: invalid YAML: aliases are not allowed"),
        ("tag.yaml", 'x: !!python/object/apply:os.system ["echo hi"]\n', "line 1, column 4: invalid YAML"),
        ("syntax.yaml", "a:\n  description: [unclosed\n", "invalid YAML"),
        ("syntax.json", '{\n  "a": {\n    "description": "x",\n  }\n}', "line 4, column 3: invalid JSON"),
        (
            "nan.json",
            '{"a": {"description": "x", "params": {"n": {"type": "number", "default": NaN}}}}',
            "nan is not a finite number",
        ),
        ("empty.yaml", "  \n", "the file is empty"),
        ("scalar.yaml", "just text\n", "'just text' is not of type 'object', 'array'"),
        ("keys.yaml", "1: {description: x}\n", "key 1 is not a string"),
        ("set.yaml", "a: !!set {x: null}\n", "type set is not JSON data"),
        ("binary.yaml", "a: !!binary aGVsbG8=\n", "type bytes is not JSON data"),
        ("deep.yaml", "a:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 60)), "nested deeper than"),
        ("deeper.json", "[" * 100_000 + "]" * 100_000, "nested deeper than"),
        (
            "nul.yaml",
            "a: ok\nb:\x00 {description: x}\n",
            "line 2: invalid YAML: unacceptable character #x0000",
        ),
        ("nul.json", '{"a":\x00 {}}', "line 1, column 6: invalid JSON"),
    ],
)
def test_hostile_or_broken_files(tmp_path: Path, name: str, text: str, expected: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    assert expected in str(spec_error(path))


def test_invalid_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "garbage.yaml"
    path.write_bytes(b"a:\n  description: ok\n\xff\xfe\x00garbage")
    assert "line 3: not valid UTF-8" in str(spec_error(path))


def test_oversized_file_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"# " + b"x" * (10 * 1024 * 1024) + b"\n")
    assert path.stat().st_size > MAX_FILE_BYTES
    assert "larger than" in str(spec_error(path))


def test_missing_file(tmp_path: Path) -> None:
    assert "cannot read the file" in str(spec_error(tmp_path / "nope.yaml"))


def test_structure_problems_are_all_listed_with_paths(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "t.yaml",
        """\
        good:
          description: Fine.
        typo:
          descripton: Misspelt key.
        wrong_types:
          description: 3
          params: a string
        listed: [1, 2]
        "bad name!":
          description: x
        """,
    )
    problems = spec_error(path).problems
    text = "\n".join(problems)
    assert "typo: Additional properties are not allowed ('descripton' was unexpected)" in text
    assert "wrong_types.description: 3 is not of type 'string'" in text
    assert "wrong_types.params: 'a string' is not of type 'object', 'null'" in text
    assert "listed: [1, 2] is not of type 'object'" in text
    assert "'bad name!' does not match" in text
    assert len(problems) >= 5


def test_parameter_problems_are_all_listed(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "t.yaml",
        """\
        tool:
          description: x
          params:
            a: {type: flaot}
            b: {type: string, minLength: -1}
            c: {type: object, properties: {x: {$ref: "#/$defs/X"}}}
            d: {type: string, required: maybe}
            e:
              inner: [not, a, param]
        "1tool": {description: y}
        """,
    )
    text = str(spec_error(path))
    assert "tool.params.a.type: unknown type 'flaot'" in text
    assert "$ref is not supported" in text
    assert "tool.params.d.required: must be true/false" in text
    assert "tool.params.e.inner: a parameter is a description or a mapping" in text
    assert "'1tool' does not match" in text


def test_invalid_json_schema_fragment(tmp_path: Path) -> None:
    path = write(tmp_path, "t.yaml", "t:\n  params:\n    b: {type: string, minLength: -1}\n")
    assert "t: invalid JSON Schema at properties.b.minLength" in str(spec_error(path))


def test_duplicate_names_across_a_list(tmp_path: Path) -> None:
    spec = {"name": "same", "parameters": {"type": "object", "properties": {}}}
    path = write(tmp_path, "t.json", json.dumps([spec, spec]))
    assert "same: more than one tool has this name" in str(spec_error(path))


def test_both_params_and_parameters(tmp_path: Path) -> None:
    path = write(tmp_path, "t.yaml", "t:\n  params: {a: A.}\n  parameters: {b: B.}\n")
    assert "give 'params' or 'parameters', not both" in str(spec_error(path))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode)), json_suffix=st.booleans()
)
def test_junk_never_escapes_as_anything_but_tool_spec_error(data: bytes, json_suffix: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("junk.json" if json_suffix else "junk.yaml")
        path.write_bytes(data)
        try:
            ToolSet.from_file(path, bind_handlers=False)
        except ToolSpecError as exc:
            assert exc.problems


# ------------------------------------------------------------------------------------- OpenAI


class Address(BaseModel):
    street: str
    zip_code: str = Field(description="Postal code.")


def make_python_tools() -> ToolSet:
    tools = seed_tools()

    @tools.tool
    def ship(
        to: Address, items: list[str], express: bool = False, mode: Literal["air", "sea"] = "air"
    ) -> str:
        """Ship items.

        Args:
            to: Where to.
            items: What.
        """
        return "ok"

    return tools


def test_openai_round_trip_keeps_schemas() -> None:
    original = make_python_tools()
    exported = original.openai_tools()
    assert all(spec["type"] == "function" for spec in exported)
    imported = ToolSet.from_openai(exported)
    assert imported.names == original.names
    for name in original.names:
        assert imported[name].schema == original[name].schema
        assert imported[name].description == original[name].description
        assert imported[name].handler is None
    assert imported.openai_tools() == exported
    assert imported.render_tools() == original.render_tools()
    reply = '{"function": "ship", "params": {"to": {"street": "Main", "zip_code": "1"}, "items": ["a"]}}'
    assert imported.parse(reply) == original.parse(reply)


def test_openai_round_trip_of_data_tools(tmp_path: Path) -> None:
    tools = ToolSet.from_file(write(tmp_path, "t.yaml", SEED_YAML), bind_handlers=False)
    again = ToolSet.from_openai(tools.openai_tools())
    assert again["file_analytics"].schema == tools["file_analytics"].schema


def test_tool_to_openai_shape() -> None:
    tool = make_python_tools()["file_analytics"]
    spec = tool_to_openai(tool)
    assert set(spec) == {"type", "function"}
    assert set(spec["function"]) == {"name", "description", "parameters"}
    assert spec["function"]["parameters"]["type"] == "object"
    spec["function"]["parameters"]["properties"].clear()  # a copy: the tool's schema is untouched
    assert tool.schema["properties"]


def test_openai_bare_specs_refs_and_validation() -> None:
    bare = {
        "name": "locate",
        "description": "Find a place.",
        "parameters": {
            "type": "object",
            "$defs": {"Point": {"type": "object", "properties": {"lat": {"type": "number"}}}},
            "properties": {"at": {"$ref": "#/$defs/Point"}},
            "required": ["at"],
        },
    }
    tools = ToolSet.from_openai([bare, {"name": "noop"}])
    assert tools["locate"].schema["properties"]["at"]["properties"] == {"lat": {"type": "number"}}
    assert tools["noop"].schema == {"type": "object", "properties": {}}
    with pytest.raises(CallValidationError) as caught:
        tools.validate("locate", {"at": {"lat": "north"}, "zoom": 3})
    assert sorted(p.path for p in caught.value.problems) == ["at.lat", "zoom"]


def test_openai_problems_are_all_listed() -> None:
    recursive = {"type": "object", "$defs": {"N": {"properties": {"n": {"$ref": "#/$defs/N"}}}}}
    recursive["properties"] = {"n": {"$ref": "#/$defs/N"}}
    specs: list[Any] = [
        "not a mapping",
        {"name": "bad name"},
        {"name": "arr", "parameters": {"type": "array"}},
        {"name": "rec", "parameters": recursive},
        {"name": "bad_schema", "parameters": {"type": "object", "properties": {"x": {"type": "strin"}}}},
    ]
    with pytest.raises(ToolSpecError) as caught:
        ToolSet.from_openai(specs)
    text = str(caught.value)
    assert len(caught.value.problems) == 5
    for expected in [
        "[0]: not a mapping",
        "[1]: tool name 'bad name' is not a valid name",
        "[2].parameters: must be an object schema",
        "[3].parameters: recursive type",
        "[4]: invalid JSON Schema at properties.x.type",
    ]:
        assert expected in text


# --------------------------------------------------------------------------------------- BFCL


def bfcl(properties: dict[str, Any], required: list[str] | None = None, **extra: Any) -> ToolSet:
    params = {"type": "dict", "properties": properties, "required": required or [], **extra}
    return ToolSet.from_bfcl([{"name": "f", "description": "F.", "parameters": params}])


def problems_of(tools: ToolSet, arguments: dict[str, Any]) -> list[str]:
    try:
        tools.validate("f", arguments)
    except CallValidationError as exc:
        return sorted({p.path for p in exc.problems})
    return []


def test_bfcl_python_types() -> None:
    tools = bfcl(
        {
            "d": {"type": "dict", "properties": {"k": {"type": "string"}}},
            "x": {"type": "float"},
            "t": {"type": "tuple", "items": {"type": "integer"}},
            "a": {"type": "any"},
            "i": {"type": "integer"},
            "b": {"type": "boolean"},
        }
    )
    props = tools["f"].schema["properties"]
    assert [props[k].get("type") for k in "dxtaib"] == [
        "object",
        "number",
        "array",
        None,
        "integer",
        "boolean",
    ]
    assert problems_of(tools, {"d": {"k": "v"}, "x": 3, "t": [1, 2], "a": {"any": ["thing"]}, "i": 4}) == []
    assert problems_of(tools, {"x": 3.5, "a": None, "b": True}) == []
    assert problems_of(tools, {"d": {"k": 1}, "x": "3", "t": [1, "2"], "i": 4.5, "b": "true"}) == [
        "b",
        "d.k",
        "i",
        "t.1",
        "x",
    ]


def test_bfcl_capitalised_and_unknown_types() -> None:
    tools = bfcl({"s": {"type": "String"}, "n": {"type": "Integer"}, "w": {"type": "widget"}})
    props = tools["f"].schema["properties"]
    assert props == {"s": {"type": "string"}, "n": {"type": "integer"}, "w": {}}
    assert problems_of(tools, {"s": "x", "n": 1, "w": ["anything"]}) == []
    assert problems_of(tools, {"s": 1, "n": "1"}) == ["n", "s"]


def test_bfcl_string_enums_on_booleans_and_integers() -> None:
    tools = bfcl(
        {
            "unisex": {"type": "boolean", "enum": ["True", "False", "dontcare"], "default": "dontcare"},
            "flag": {"type": "boolean", "enum": ["true", "false"]},
            "rooms": {"type": "integer", "enum": ["1", "2", "dontcare"]},
        }
    )
    props = tools["f"].schema["properties"]
    assert props["unisex"]["type"] == ["boolean", "string"]
    assert props["unisex"]["enum"] == [True, False, "dontcare"]
    assert props["flag"] == {"type": "boolean", "enum": [True, False]}
    assert props["rooms"] == {"type": ["integer", "string"], "enum": [1, 2, "dontcare"]}
    assert problems_of(tools, {"unisex": True, "flag": False, "rooms": 2}) == []
    assert problems_of(tools, {"unisex": "dontcare", "rooms": "dontcare"}) == []
    assert problems_of(tools, {"unisex": "maybe", "flag": "true", "rooms": 3}) == ["flag", "rooms", "unisex"]
    assert 'One of true, false, "dontcare".' in tools.render_tools()


def test_bfcl_enum_on_an_array_constrains_items() -> None:
    tools = bfcl({"metrics": {"type": "array", "items": {"type": "string"}, "enum": ["temp", "co2"]}})
    assert tools["f"].schema["properties"]["metrics"] == {
        "type": "array",
        "items": {"type": "string", "enum": ["temp", "co2"]},
    }
    assert problems_of(tools, {"metrics": ["co2", "temp"]}) == []
    assert problems_of(tools, {"metrics": ["co2", "noise"]}) == ["metrics.1"]


def test_bfcl_defaults_are_annotations_only() -> None:
    tools = bfcl(
        {
            "n": {"type": "integer", "default": "None"},
            "flag": {"type": "boolean", "default": "false"},
            "items": {"type": "array", "default": "[]"},
            "city": {"type": "string", "default": None},
        }
    )
    props = tools["f"].schema["properties"]
    assert props["n"] == {"type": "integer", "default": "None"}
    assert props["city"] == {"type": ["string", "null"], "default": None}
    jsonschema.Draft202012Validator.check_schema(tools["f"].schema)
    assert problems_of(tools, {}) == []
    assert problems_of(tools, {"n": 3, "flag": False, "items": [], "city": None}) == []
    assert problems_of(tools, {"n": "None"}) == ["n"]


def test_bfcl_optional_flags_and_bad_required(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="funcroute")
    tools = bfcl(
        {
            "a": {"type": "string"},
            "b": {"type": "string", "optional": True},
            "c": {"type": "string", "optional": "yes"},
            "d": {"type": "string"},
        },
        required=["a", "b", "c", "d", "ghost"],
        optional=["d"],
    )
    schema = tools["f"].schema
    assert schema["required"] == ["a"]
    assert "optional" not in json.dumps(schema)
    assert "dropped from required: ['b', 'c', 'd', 'ghost']" in caplog.text
    assert problems_of(tools, {"a": "x"}) == []


def test_bfcl_nested_properties_and_items() -> None:
    tools = bfcl(
        {
            "population": {
                "type": "dict",
                "properties": {"adults": {"type": "integer"}, "kids": {"type": "integer"}},
                "required": ["adults"],
            },
            "points": {"type": "array", "items": {"type": "dict", "properties": {"x": {"type": "float"}}}},
            "loose": {"type": "dict", "required": ["a", "b"]},
        },
        required=["population"],
    )
    assert problems_of(tools, {"population": {"adults": 2}, "points": [{"x": 1}], "loose": {"z": 1}}) == []
    assert problems_of(tools, {"population": {"kids": "2"}, "points": [{"x": 1}, {"x": "y"}]}) == [
        "points.1.x",
        "population.adults",
        "population.kids",
    ]


def test_bfcl_dotted_names_are_kept() -> None:
    tools = ToolSet.from_bfcl(
        [
            {
                "name": "math.factorial",
                "description": "Factorial of n.",
                "parameters": {"type": "dict", "properties": {"n": {"type": "integer"}}, "required": ["n"]},
            }
        ]
    )
    assert tools.names == ["math.factorial"]
    assert tools.parse('{"function": "math.factorial", "params": {"n": 5}}').arguments == {"n": 5}
    assert "math.factorial:\n  description: Factorial of n." in tools.prompt("5!")
    with pytest.raises(UnknownFunctionError) as caught:
        tools.parse('{"function": "math_factorial", "params": {"n": 5}}')
    assert caught.value.closest == "math.factorial"


def test_bfcl_problems_are_all_listed() -> None:
    docs: list[Any] = [
        "not a doc",
        {"description": "no name", "parameters": {"type": "dict", "properties": {}}},
        {"name": "scalar", "parameters": {"type": "string"}},
        {"name": "ok", "parameters": {"type": "dict", "properties": {}}},
        {"name": "ok", "parameters": {"type": "dict", "properties": {}}},
    ]
    with pytest.raises(ToolSpecError) as caught:
        tools_from_bfcl(docs)
    assert len(caught.value.problems) == 4
    text = str(caught.value)
    assert "[0]: not a mapping" in text
    assert "[1]: tool name None is not a valid name" in text
    assert "[2].parameters: must be a 'dict' schema" in text
    assert "ok: more than one tool has this name" in text


def test_bfcl_schema_notes_every_change() -> None:
    notes: list[str] = []
    schema = bfcl_schema(
        {"type": "dict", "properties": {"w": {"type": "widget", "foo": 1}}, "required": ["w", "ghost"]},
        "p",
        notes,
    )
    assert schema == {"type": "object", "properties": {"w": {}}, "required": ["w"]}
    assert notes == [
        "p.w: unknown type 'widget'; no type constraint",
        "p.w: dropped non-standard keys ['foo']",
        "p: dropped from required: ['ghost']",
    ]


# ------------------------------------------------------------------------------------ schemas


def load_schema(name: str) -> dict[str, Any]:
    text = (resources.files("funcroute") / "schemas" / name).read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


def test_the_seed_reply_matches_the_call_schema() -> None:
    validator = jsonschema.Draft202012Validator(load_schema("call.schema.json"))
    body = SEED_REPLY.strip().removeprefix("```json").removesuffix("```")
    seed = json.loads(body)
    validator.validate(seed)
    validator.validate([seed, {"function": "ping"}])
    validator.validate({"function": "f", "arguments": {"x": 1}})
    for bad in [{"params": {}}, {"function": "f", "params": {}, "arguments": {}}, {"function": 3}, []]:
        assert not validator.is_valid(bad)


def test_the_toolset_schema_accepts_every_shape() -> None:
    validator = jsonschema.Draft202012Validator(load_schema("toolset.schema.json"))
    import yaml

    validator.validate(yaml.safe_load(SEED_YAML))
    validator.validate([{"type": "function", "function": {"name": "a"}}, {"name": "b", "params": {"x": "X"}}])
    validator.validate({"tools": [{"name": "a", "parameters": {"type": "dict", "properties": {}}}]})
    assert not validator.is_valid({"tools": []})
    assert not validator.is_valid({"a": {"description": "x", "handler": "no colon"}})


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("tools.yaml", "ping:\n  description: one\nping:\n  description: two\n"),
        ("tools.json", '{"ping": {"description": "one"}, "ping": {"description": "two"}}'),
        ("tools.yaml", "ping:\n  description: Ping.\n  params:\n    host: a\n    host: b\n"),
    ],
)
def test_a_repeated_tool_or_parameter_name_is_an_error_not_a_lost_tool(
    tmp_path: Path, name: str, text: str
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ToolSpecError, match="duplicate"):
        ToolSet.from_file(path)


# ------------------------------------------------------------------------- confirm and timeout

POLICY_HANDLERS = """\
import threading

ran = []
release = threading.Event()

def wipe(disk):
    ran.append(disk)
    return f"wiped {disk}"

def slow(disk):
    release.wait(10)  # held until the test lets it go: no sleeping, no timing luck
    return "late"
"""

POLICY_SHAPES = {
    "airoboros": "{tool}:\n  description: Go.\n  handler: {module}:{fn}\n  {key}: {value}\n"
    "  params:\n    disk: The disk.\n",
    "list": "- name: {tool}\n  description: Go.\n  handler: {module}:{fn}\n  {key}: {value}\n"
    "  params:\n    disk: The disk.\n",
    "wrapper": "tools:\n  - name: {tool}\n    description: Go.\n    handler: {module}:{fn}\n"
    "    {key}: {value}\n    params:\n      disk: The disk.\n",
    "openai": "- type: function\n  handler: {module}:{fn}\n  {key}: {value}\n  function:\n"
    "    name: {tool}\n    parameters: {{type: object, properties: {{disk: {{type: string}}}}}}\n",
}
WIPE_REPLY = '{"function": "wipe_disk", "params": {"disk": "sda"}}'


@pytest.fixture
def policy_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    name = f"policy_{uuid.uuid4().hex}"
    (tmp_path / f"{name}.py").write_text(POLICY_HANDLERS, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = __import__(name)
    yield module
    module.release.set()
    sys.modules.pop(name, None)


def policy_file(tmp_path: Path, shape: str, module: Any, key: str, value: str, fn: str = "wipe") -> Path:
    text = POLICY_SHAPES[shape].format(tool="wipe_disk", module=module.__name__, fn=fn, key=key, value=value)
    return write(tmp_path, f"{shape}.yaml", text)


@pytest.mark.parametrize("shape", POLICY_SHAPES)
def test_a_file_declared_confirm_tool_never_runs_unapproved(
    tmp_path: Path, policy_module: Any, shape: str
) -> None:
    from funcroute.backends.scripted import ScriptedBackend
    from funcroute.errors import CallRefusedError
    from funcroute.routing.router import Router

    tools = ToolSet.from_file(policy_file(tmp_path, shape, policy_module, "confirm", "true"))
    assert tools["wipe_disk"].confirm is True and tools["wipe_disk"].handler is not None
    call = tools.parse(WIPE_REPLY)
    with pytest.raises(CallRefusedError):
        tools.dispatch(call)
    with pytest.raises(CallRefusedError):
        tools.dispatch(call, approve=lambda c: False)
    with pytest.raises(CallRefusedError):
        Router(tools, ScriptedBackend([WIPE_REPLY])).route("wipe sda")
    with pytest.raises(CallRefusedError):
        Router(tools, ScriptedBackend([WIPE_REPLY]), approve=lambda c: False).route("wipe sda")
    assert policy_module.ran == []  # the handler never ran
    result = Router(
        tools, ScriptedBackend([WIPE_REPLY]), approve=lambda c: c.arguments == {"disk": "sda"}
    ).route("wipe sda")
    assert result.value == "wiped sda" and policy_module.ran == ["sda"]


@pytest.mark.parametrize("shape", POLICY_SHAPES)
def test_a_file_declared_timeout_stops_waiting_for_a_slow_handler(
    tmp_path: Path, policy_module: Any, shape: str
) -> None:
    from funcroute.errors import HandlerTimeoutError

    tools = ToolSet.from_file(policy_file(tmp_path, shape, policy_module, "timeout", "0.2", fn="slow"))
    assert tools["wipe_disk"].timeout == 0.2
    with pytest.raises(HandlerTimeoutError):
        tools.dispatch(tools.parse(WIPE_REPLY))


@pytest.mark.parametrize("shape", POLICY_SHAPES)
@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("timeout", "-1"),
        ("timeout", "0"),
        ("timeout", '"5"'),
        ("timeout", "true"),
        ("timeout", ".inf"),
        ("confirm", "yes please"),
        ("confirm", "1"),
    ],
)
def test_bad_confirm_or_timeout_names_file_and_tool(
    tmp_path: Path, policy_module: Any, shape: str, key: str, value: str
) -> None:
    path = policy_file(tmp_path, shape, policy_module, key, value)
    error = spec_error(path)
    assert len(error.problems) == 1
    assert "wipe_disk" in error.problems[0] and key in error.problems[0], error.problems
    assert str(path) in str(error)
    assert policy_module.ran == []
