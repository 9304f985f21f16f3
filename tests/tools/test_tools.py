"""ToolSet: registration, container behaviour, dispatch (sync and async), json_schema, forged calls."""

import asyncio
import dataclasses
import enum
import json
import threading
from typing import Any, Literal

import jsonschema
import pytest
from pydantic import BaseModel

import funcroute
from _tools import Action
from _tools import LimitFilters as Filters
from funcroute import (
    Call,
    CallValidationError,
    FuncRouteError,
    OutputParseError,
    ToolSet,
    UnknownFunctionError,
)
from funcroute.errors import (
    DispatchError,
    HandlerError,
    HandlerNotBoundError,
    ModelOutputError,
    ToolDefinitionError,
    UsageError,
)
from funcroute.tools import Tool
from funcroute.tools.validators import JsonSchemaValidator

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


@dataclasses.dataclass
class Point:
    x: float
    y: float = 0.0


class Shape(enum.Enum):
    CIRCLE = "circle"
    SQUARE = "square"


class Line(BaseModel):
    start: Point
    end: Point


def build_tools(**options: Any) -> ToolSet:
    tools = ToolSet(**options)

    @tools.tool
    def file_analytics(action: Action, filters: Filters) -> dict[str, Any]:
        """This tool performs various operations on a text file."""
        return {"action": action, "filters": filters}

    @tools.tool
    def draw(shape: Shape, at: Point, lines: list[Line] = [], labels: dict[str, Point] | None = None) -> Any:  # noqa: B006
        """Draw a shape."""
        return {"shape": shape, "at": at, "lines": lines, "labels": labels}

    @tools.tool
    async def fetch(url: str, retries: int = 2) -> str:
        """Fetch a URL."""
        await asyncio.sleep(0)
        return f"fetched {url} x{retries}"

    @tools.tool
    def add(a: int, b: int = 1) -> int:
        """Add two numbers."""
        return a + b

    return tools


@pytest.fixture
def tools() -> ToolSet:
    return build_tools()


# ----------------------------------------------------------------------------------------- public API


def test_public_api_names() -> None:
    for name in (
        "ToolSet",
        "Call",
        "FuncRouteError",
        "OutputParseError",
        "CallValidationError",
        "UnknownFunctionError",
        "ParseLimits",
        "ToolDefinitionError",
        "HandlerError",
    ):
        assert hasattr(funcroute, name), name
        assert name in funcroute.__all__


@pytest.mark.parametrize(
    "error,parent",
    [
        (OutputParseError, ModelOutputError),
        (CallValidationError, ModelOutputError),
        (UnknownFunctionError, ModelOutputError),
        (ModelOutputError, FuncRouteError),
        (ToolDefinitionError, UsageError),
        (UsageError, FuncRouteError),
        (HandlerError, DispatchError),
        (HandlerNotBoundError, DispatchError),
        (DispatchError, FuncRouteError),
    ],
)
def test_error_hierarchy(error: type, parent: type) -> None:
    assert issubclass(error, parent)
    assert issubclass(error, Exception)


def test_every_error_is_in_the_tree_and_exported_from_the_root() -> None:
    import inspect

    from funcroute import errors

    own = errors.__name__
    classes = {n: c for n, c in vars(errors).items() if inspect.isclass(c) and c.__module__ == own}
    exceptions = {n for n, c in classes.items() if issubclass(c, BaseException)}
    assert {"PlanParseError", "PlanValidationError", "PlanExecutionError", "CallRefusedError"} <= exceptions
    for name, cls in classes.items():
        assert getattr(funcroute, name, None) is cls, f"funcroute.{name} is not exported"
        assert name in funcroute.__all__ and name in errors.__all__, name
        if name in exceptions:
            assert issubclass(cls, funcroute.FuncRouteError), name
            assert name in (errors.__doc__ or ""), f"{name} is missing from the tree in errors.py's docstring"
    assert funcroute.__all__ == sorted(funcroute.__all__)
    assert issubclass(funcroute.PlanParseError, funcroute.ModelOutputError)
    assert issubclass(funcroute.PlanValidationError, funcroute.ModelOutputError)
    assert issubclass(funcroute.PlanExecutionError, funcroute.DispatchError)
    assert issubclass(funcroute.HandlerTimeoutError, funcroute.HandlerError)


def test_router_and_plan_errors_keep_their_old_homes() -> None:
    from funcroute.plans import plan
    from funcroute.routing.router import Router

    assert funcroute.Router is Router
    assert plan.PlanParseError is funcroute.PlanParseError
    assert plan.PlanValidationError is funcroute.PlanValidationError
    assert plan.PlanExecutionError is funcroute.PlanExecutionError
    assert plan.PlanProblem is funcroute.PlanProblem


# --------------------------------------------------------------------------------------- registration


def test_decorator_returns_the_function_unchanged() -> None:
    tools = ToolSet()

    def original(a: int) -> int:
        """Double."""
        return a * 2

    decorated = tools.tool(original)
    assert decorated is original
    assert decorated(4) == 8
    assert tools["original"].handler is original


def test_decorator_with_arguments_returns_the_function_unchanged() -> None:
    tools = ToolSet()

    def original(a: int) -> int:
        """Double."""
        return a * 2

    decorated = tools.tool(name="double", description="Double a number.")(original)
    assert decorated is original
    assert tools.names == ["double"]
    assert tools["double"].description == "Double a number."
    assert "double:\n  description: Double a number." in tools.prompt("x")


def test_decorator_syntax_both_forms() -> None:
    tools = ToolSet()

    @tools.tool
    def one(a: int) -> int:
        """One."""
        return a

    @tools.tool(name="two_renamed")
    def two(a: int) -> int:
        """Two."""
        return a

    assert one(1) == 1 and two(2) == 2
    assert tools.names == ["one", "two_renamed"]
    assert tools.dispatch(tools.parse('{"function": "two_renamed", "params": {"a": 5}}')) == 5
    with pytest.raises(UnknownFunctionError):
        tools.parse('{"function": "two", "params": {"a": 5}}')


def test_toolset_from_a_list_of_functions_and_tools() -> None:
    def a(x: int) -> int:
        """A."""
        return x

    def b(x: int) -> int:
        """B."""
        return -x

    tools = ToolSet([a, Tool.from_function(b, name="bee")])
    assert tools.names == ["a", "bee"]
    assert tools.dispatch(tools.parse('{"function": "bee", "params": {"x": 3}}')) == -3


def test_duplicate_names_are_an_error(tools: ToolSet) -> None:
    def add(a: int) -> int:
        """Another add."""
        return a

    with pytest.raises(ToolDefinitionError) as info:
        tools.tool(add)
    assert "a tool named 'add' is already registered" in str(info.value)
    assert "build_tools.<locals>.add" in str(info.value)  # names the existing tool's source
    assert tools.names.count("add") == 1


def test_duplicate_names_by_override_are_an_error(tools: ToolSet) -> None:
    def something(a: int) -> int:
        """Else."""
        return a

    with pytest.raises(ToolDefinitionError, match="already registered"):
        tools.tool(name="add")(something)


def test_duplicate_names_in_the_constructor() -> None:
    def f(a: int) -> None:
        """F."""

    with pytest.raises(ToolDefinitionError, match="already registered"):
        ToolSet([f, f])


def test_methods_and_static_methods() -> None:
    class Counter:
        def __init__(self) -> None:
            self.total = 0

        def bump(self, by: int = 1) -> int:
            """Bump the counter."""
            self.total += by
            return self.total

        @staticmethod
        def twice(x: int) -> int:
            """Twice."""
            return 2 * x

    counter = Counter()
    tools = ToolSet([counter.bump, Counter.twice])
    assert list(tools["bump"].schema["properties"]) == ["by"]
    assert tools.dispatch(tools.parse('{"function": "bump", "params": {"by": 5}}')) == 5
    assert counter.total == 5
    assert tools.dispatch(tools.parse('{"function": "twice", "params": {"x": 4}}')) == 8


def test_extra_option_must_be_forbid_or_ignore() -> None:
    with pytest.raises(UsageError, match="extra must be 'forbid' or 'ignore', got 'allow'"):
        ToolSet(extra="allow")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------ container


def test_container_behaviour(tools: ToolSet) -> None:
    assert len(tools) == 4
    assert tools.names == ["file_analytics", "draw", "fetch", "add"]
    assert [t.name for t in tools] == tools.names
    assert "add" in tools and "nope" not in tools
    assert tools["add"].name == "add"
    assert repr(tools) == "ToolSet(file_analytics, draw, fetch, add)"
    with pytest.raises(KeyError, match="no tool named 'nope'"):
        tools["nope"]


def test_tool_attributes(tools: ToolSet) -> None:
    tool = tools["fetch"]
    assert tool.description == "Fetch a URL."
    assert tool.parameters == frozenset({"url", "retries"})
    assert tool.is_async
    assert not tools["add"].is_async
    assert tool.source.endswith("build_tools.<locals>.fetch")


def test_subset_keeps_order_and_settings() -> None:
    tools = build_tools(extra="ignore")
    chosen = tools.subset(["add", "draw"])
    assert chosen.names == ["add", "draw"]
    assert chosen.extra == "ignore"
    assert chosen.limits is tools.limits
    assert chosen.parse('{"function": "add", "params": {"a": 1, "junk": 2}}').arguments == {"a": 1}
    with pytest.raises(UnknownFunctionError):
        chosen.parse('{"function": "fetch", "params": {"url": "x"}}')


# ------------------------------------------------------------------------------------------- dispatch


def test_seed_call_dispatches_with_model_instance(tools: ToolSet) -> None:
    call = tools.parse(SEED_REPLY)
    assert call.function == "file_analytics"
    assert call.arguments == {"action": "count_occurrences", "filters": {"keyword": "Python"}}
    result = tools.dispatch(call)
    assert result["action"] == "count_occurrences"
    assert isinstance(result["filters"], Filters)
    assert result["filters"] == Filters(keyword="Python", limit=10)


def test_dispatch_typed_values(tools: ToolSet) -> None:
    call = tools.parse(
        json.dumps(
            {
                "function": "draw",
                "params": {
                    "shape": "circle",
                    "at": {"x": 1, "y": "2.5"},
                    "lines": [{"start": {"x": 0}, "end": {"x": 3, "y": 4}}],
                    "labels": {"origin": {"x": 0, "y": 0}},
                },
            }
        )
    )
    result = tools.dispatch(call)
    assert result["shape"] is Shape.CIRCLE
    assert result["at"] == Point(1.0, 2.5)
    assert isinstance(result["at"], Point)
    assert isinstance(result["lines"][0], Line)
    assert isinstance(result["lines"][0].start, Point)
    assert result["lines"][0].end == Point(3.0, 4.0)
    assert result["labels"] == {"origin": Point(0.0, 0.0)}
    # The arguments stay JSON: enum values, dicts for models and dataclasses.
    assert json.loads(json.dumps(call.arguments)) == call.arguments
    assert call.arguments["shape"] == "circle"
    assert call.arguments["at"]["y"] == 2.5


def test_defaults_apply_at_dispatch(tools: ToolSet) -> None:
    call = tools.parse('{"function": "draw", "params": {"shape": "square", "at": {"x": 1}}}')
    assert call.arguments == {"shape": "square", "at": {"x": 1.0, "y": 0.0}}
    result = tools.dispatch(call)
    assert result["lines"] == [] and result["labels"] is None


def test_mutable_defaults_are_not_shared_between_calls(tools: ToolSet) -> None:
    first = tools.dispatch(tools.parse('{"function": "draw", "params": {"shape": "square", "at": {"x": 1}}}'))
    first["lines"].append("mutated")
    second = tools.dispatch(
        tools.parse('{"function": "draw", "params": {"shape": "square", "at": {"x": 1}}}')
    )
    assert second["lines"] == []


def test_async_handler_via_sync_dispatch_outside_a_loop(tools: ToolSet) -> None:
    call = tools.parse('{"function": "fetch", "params": {"url": "https://example.com"}}')
    assert tools.dispatch(call) == "fetched https://example.com x2"


def test_async_handler_via_sync_dispatch_inside_a_loop_is_a_usage_error(tools: ToolSet) -> None:
    call = tools.parse('{"function": "fetch", "params": {"url": "u"}}')

    async def inside() -> None:
        with pytest.raises(UsageError, match=r"use 'await tools\.adispatch\(call\)'"):
            tools.dispatch(call)

    asyncio.run(inside())


def test_adispatch_sync_and_async_handlers(tools: ToolSet) -> None:
    async def main() -> tuple[Any, Any, Any]:
        fetched = await tools.adispatch(
            tools.parse('{"function": "fetch", "params": {"url": "u", "retries": 5}}')
        )
        added = await tools.adispatch(tools.parse('{"function": "add", "params": {"a": 2, "b": 3}}'))
        seeded = await tools.adispatch(tools.parse(SEED_REPLY))
        return fetched, added, seeded

    fetched, added, seeded = asyncio.run(main())
    assert fetched == "fetched u x5"
    assert added == 5
    assert isinstance(seeded["filters"], Filters)


def test_adispatch_runs_sync_handlers_off_the_event_loop_thread() -> None:
    tools = ToolSet()
    seen: list[str] = []

    @tools.tool
    def where() -> str:
        """Report the thread."""
        seen.append(threading.current_thread().name)
        return "ok"

    async def main() -> str:
        loop_thread = threading.current_thread().name
        await tools.adispatch(tools.parse('{"function": "where"}'))
        return loop_thread

    loop_thread = asyncio.run(main())
    assert seen and seen[0] != loop_thread


def test_adispatch_runs_calls_concurrently() -> None:
    tools = ToolSet()

    @tools.tool
    async def slow(n: int) -> int:
        """Sleep a little."""
        await asyncio.sleep(0.05)
        return n

    async def main() -> list[int]:
        calls = [tools.parse(f'{{"function": "slow", "params": {{"n": {i}}}}}') for i in range(20)]
        return list(await asyncio.gather(*(tools.adispatch(c) for c in calls)))

    assert asyncio.run(main()) == list(range(20))


def test_positional_only_params_dispatch() -> None:
    tools = ToolSet()

    @tools.tool
    def power(base: float, exponent: int = 2, /, *, label: str = "") -> str:
        """Raise base to a power."""
        return f"{label}{base**exponent}"

    assert tools.dispatch(tools.parse('{"function": "power", "params": {"base": 3}}')) == "9.0"
    assert tools.dispatch(
        tools.parse('{"function": "power", "params": {"base": 2, "exponent": 3, "label": "="}}')
    ) == ("=8.0")

    async def main() -> str:
        return str(
            await tools.adispatch(tools.parse('{"function": "power", "params": {"exponent": 1, "base": 5}}'))
        )

    assert asyncio.run(main()) == "5.0"


# ------------------------------------------------------------------------------------- handler errors


def failing_tools() -> ToolSet:
    tools = ToolSet()

    @tools.tool
    def explode(n: int) -> int:
        """Always fails."""
        raise ValueError(f"bad value {n}")

    @tools.tool
    async def aexplode(n: int) -> int:
        """Always fails, asynchronously."""
        await asyncio.sleep(0)
        raise KeyError(n)

    return tools


@pytest.mark.parametrize("name,cause", [("explode", ValueError), ("aexplode", KeyError)])
def test_handler_error_wraps_the_exception(name: str, cause: type) -> None:
    tools = failing_tools()
    call = tools.parse(f'{{"function": "{name}", "params": {{"n": 7}}}}')
    with pytest.raises(HandlerError) as info:
        tools.dispatch(call)
    error = info.value
    assert isinstance(error.__cause__, cause)
    assert error.call == call
    assert error.call.arguments == {"n": 7}
    assert str(error).startswith(f"tool {name!r} raised {cause.__name__}: ")
    assert "7" in str(error)


@pytest.mark.parametrize("name,cause", [("explode", ValueError), ("aexplode", KeyError)])
def test_handler_error_from_adispatch(name: str, cause: type) -> None:
    tools = failing_tools()
    call = tools.parse(f'{{"function": "{name}", "params": {{"n": 1}}}}')

    async def main() -> HandlerError:
        with pytest.raises(HandlerError) as info:
            await tools.adispatch(call)
        return info.value

    error = asyncio.run(main())
    assert isinstance(error.__cause__, cause)
    assert error.call is call or error.call == call


def test_handler_base_exceptions_are_not_swallowed() -> None:
    tools = ToolSet()

    @tools.tool
    def interrupt() -> None:
        """Simulates Ctrl-C inside a handler."""
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        tools.dispatch(tools.parse('{"function": "interrupt"}'))


def test_unbound_tool_validates_but_cannot_dispatch() -> None:
    schema = {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}
    tool = Tool(name="search", description="Search.", schema=schema, validator=JsonSchemaValidator(schema))
    tools = ToolSet([tool])
    call = tools.parse('{"function": "search", "params": {"q": "cats"}}')
    assert call.arguments == {"q": "cats"}
    with pytest.raises(HandlerNotBoundError, match="has no handler") as info:
        tools.dispatch(call)
    assert info.value.call == call
    with pytest.raises(CallValidationError) as problems:
        tools.parse('{"function": "search", "params": {"q": 3}}')
    assert [p.path for p in problems.value.problems] == ["q"]
    tools.bind("search", lambda q: f"found {q}")
    assert tools.dispatch(call) == "found cats"


# -------------------------------------------------------------------------------------- forged calls


def test_forged_call_is_validated_and_coerced_at_dispatch(tools: ToolSet) -> None:
    assert tools.dispatch(Call("add", {"a": "40", "b": 2})) == 42


@pytest.mark.parametrize(
    "call,error,fragment",
    [
        (Call("add", {"a": "forty"}), CallValidationError, "a: "),
        (Call("add", {}), CallValidationError, "a: Field required"),
        (Call("add", {"a": 1, "evil": "x"}), CallValidationError, "evil: unexpected parameter"),
        (Call("add", ["a"]), CallValidationError, "arguments must be a mapping"),  # type: ignore[arg-type]
        (Call("os.system", {"command": "rm -rf /"}), UnknownFunctionError, "unknown function 'os.system'"),
        (Call("ad", {"a": 1}), UnknownFunctionError, "Did you mean 'add'?"),
        (Call("file_analytics", {"action": "x", "filters": {}}), CallValidationError, "filters.keyword"),
    ],
)
def test_forged_calls_are_rejected_at_dispatch(
    tools: ToolSet, call: Call, error: type[Exception], fragment: str
) -> None:
    with pytest.raises(error) as info:
        tools.dispatch(call)
    assert fragment in str(info.value)


def test_forged_calls_are_rejected_at_adispatch(tools: ToolSet) -> None:
    async def main() -> None:
        with pytest.raises(CallValidationError):
            await tools.adispatch(Call("add", {"a": "forty"}))
        with pytest.raises(UnknownFunctionError):
            await tools.adispatch(Call("nope", {}))

    asyncio.run(main())


def test_call_validated_by_another_toolset_is_revalidated() -> None:
    lenient = ToolSet()

    @lenient.tool
    def add(a: str) -> str:
        """Add, but for text."""
        return a

    call = lenient.parse('{"function": "add", "params": {"a": "not a number"}}')
    strict = build_tools()
    with pytest.raises(CallValidationError):
        strict.dispatch(call)


def test_call_arguments_mutated_after_parse_do_not_reach_the_handler(tools: ToolSet) -> None:
    call = tools.parse('{"function": "add", "params": {"a": 1, "b": 2}}')
    call.arguments["a"] = "not a number"
    assert tools.dispatch(call) == 3


@pytest.mark.parametrize(
    "value",
    [object(), {1, 2}, b"\xff", float("nan"), float("inf"), {(1, 2): "tuple key"}, [1, object()]],
    ids=["object", "set", "bytes", "nan", "inf", "tuple-key", "nested-object"],
)
def test_forged_calls_with_non_json_values_are_rejected(value: Any) -> None:
    tools = ToolSet()

    @tools.tool
    def store(data: Any = None) -> Any:
        """Store JSON data."""
        return data

    with pytest.raises(CallValidationError) as info:
        tools.dispatch(Call("store", {"data": value}))
    assert info.value.function == "store"

    async def main() -> None:
        with pytest.raises(CallValidationError):
            await tools.adispatch(Call("store", {"data": value}))

    asyncio.run(main())


@pytest.mark.parametrize(
    "arguments",
    [{"data": object()}, {"data": {"\ud800": 1}}, {"data": b"\xff"}],
    ids=["object", "surrogate-key", "bytes"],
)
def test_validate_with_non_json_values_is_a_validation_error(arguments: dict[str, Any]) -> None:
    tools = ToolSet()

    @tools.tool
    def store(data: Any = None) -> Any:
        """Store JSON data."""
        return data

    with pytest.raises(CallValidationError):
        tools.validate("store", arguments)


def test_call_value_semantics() -> None:
    assert Call("add", {"a": 1}) == Call("add", {"a": 1}, reply="different reply")
    assert Call("add", {"a": 1}) != Call("add", {"a": 2})
    assert hash(Call("add", {"a": 1, "b": 2})) == hash(Call("add", {"b": 2, "a": 1}))
    assert Call("add", {"a": 1}).to_dict() == {"function": "add", "params": {"a": 1}}
    assert repr(Call("add", {"a": 1})) == "Call(function='add', arguments={'a': 1})"
    assert Call("add", {}) != "add"


def test_validate_directly(tools: ToolSet) -> None:
    call = tools.validate("add", {"a": "5"})
    assert (call.function, call.arguments, call.reply) == ("add", {"a": 5}, "")
    with pytest.raises(UnknownFunctionError):
        tools.validate("nope", {})


# ---------------------------------------------------------------------------------------- json_schema


def test_json_schema_is_a_union_over_tools(tools: ToolSet) -> None:
    schema = tools.json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    variants = schema["anyOf"]
    assert [v["properties"]["function"] for v in variants] == [{"const": name} for name in tools.names]
    for variant, tool in zip(variants, tools, strict=True):
        assert variant["type"] == "object"
        assert variant["required"] == ["function", "params"]
        assert variant["additionalProperties"] is False
        params = variant["properties"]["params"]
        assert params["properties"] == tool.schema["properties"]
        assert params["additionalProperties"] is False
    jsonschema.Draft202012Validator.check_schema(schema)


def test_seed_reply_validates_against_the_json_schema(tools: ToolSet) -> None:
    body = SEED_REPLY.removeprefix("```json\n").removesuffix("\n```")
    jsonschema.validate(json.loads(body), tools.json_schema())


@pytest.mark.parametrize(
    "reply",
    [
        {"function": "file_analytics", "params": {"action": "count"}},
        {"function": "file_analytics", "params": {"action": "count", "filters": {"keyword": 3}}},
        {"function": "file_analytics", "params": {"action": "x", "filters": {"keyword": "k"}, "extra": 1}},
        {"function": "nope", "params": {}},
        {"function": "add", "params": {"a": 1}, "comment": "extra top-level key"},
        {"function": "add"},
        {"params": {"a": 1}},
        {"function": "draw", "params": {"shape": "triangle", "at": {"x": 1}}},
    ],
)
def test_invalid_replies_fail_the_json_schema(tools: ToolSet, reply: dict[str, Any]) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(reply, tools.json_schema())


@pytest.mark.parametrize(
    "reply",
    [
        SEED_REPLY,
        '{"function": "draw", "params": {"shape": "circle", "at": {"x": 1, "y": 2}, "lines": '
        '[{"start": {"x": 0}, "end": {"x": 1}}], "labels": {"a": {"x": 1}}}}',
        '{"function": "fetch", "params": {"url": "u", "retries": 3}}',
        '{"function": "add", "params": {"a": 1}}',
    ],
)
def test_parsed_calls_validate_against_the_json_schema(tools: ToolSet, reply: str) -> None:
    jsonschema.validate(tools.parse(reply).to_dict(), tools.json_schema())


def test_json_schema_with_extra_ignore_allows_unknown_params() -> None:
    tools = build_tools(extra="ignore")
    schema = tools.json_schema()
    assert all("additionalProperties" not in v["properties"]["params"] for v in schema["anyOf"])
    jsonschema.validate({"function": "add", "params": {"a": 1, "unknown": 2}}, schema)


def test_json_schema_copies_are_independent(tools: ToolSet) -> None:
    first = tools.json_schema()
    first["anyOf"].clear()
    assert len(tools.json_schema()["anyOf"]) == 4
    shared = tools.json_schema(copy=False)
    assert shared is tools.json_schema(copy=False)


SHARED_SCHEMA_MUTATIONS = {
    "set-top": lambda s: s.__setitem__("anyOf", []),
    "del-top": lambda s: s.__delitem__("$schema"),
    "update": lambda s: s.update(x=1),
    "setdefault": lambda s: s.setdefault("x", 1),
    "pop": lambda s: s.pop("anyOf"),
    "popitem": lambda s: s.popitem(),
    "clear": lambda s: s.clear(),
    "ior": lambda s: s.__ior__({"x": 1}),
    "list-append": lambda s: s["anyOf"].append({}),
    "list-clear": lambda s: s["anyOf"].clear(),
    "list-set": lambda s: s["anyOf"].__setitem__(0, {}),
    "list-sort": lambda s: s["anyOf"].sort(key=str),
    "list-iadd": lambda s: s["anyOf"].__iadd__([{}]),
    "nested-params": lambda s: s["anyOf"][0]["properties"]["params"].__setitem__("x", 1),
    "nested-required": lambda s: s["anyOf"][0]["properties"]["params"]["required"].append("x"),
    "deep-property": lambda s: s["anyOf"][0]["properties"]["params"]["properties"]["action"].pop("type"),
}


@pytest.mark.parametrize("mutate", SHARED_SCHEMA_MUTATIONS.values(), ids=SHARED_SCHEMA_MUTATIONS.keys())
def test_the_shared_json_schema_refuses_mutation(tools: ToolSet, mutate: Any) -> None:
    before = tools.json_schema()
    tool_schema = json.dumps(tools["file_analytics"].schema, sort_keys=True)
    shared = tools.json_schema(copy=False)
    with pytest.raises(TypeError, match="read-only"):
        mutate(shared)
    assert tools.json_schema(copy=False) == before  # the next Request still gets the intact schema
    assert tools.json_schema() == before
    assert json.dumps(tools["file_analytics"].schema, sort_keys=True) == tool_schema


def test_the_shared_json_schema_still_works_as_a_schema(tools: ToolSet) -> None:
    import copy
    import pickle

    from funcroute.constrain.bounds import DecodeBounds, bound_schema
    from funcroute.constrain.gbnf import schema_to_gbnf

    shared = tools.json_schema(copy=False)
    plain = tools.json_schema()
    assert type(plain) is dict and shared == plain
    assert json.dumps(shared) == json.dumps(plain)
    assert isinstance(shared["anyOf"], list)  # readers that test isinstance(x, list) still see lists
    jsonschema.Draft202012Validator.check_schema(shared)
    jsonschema.validate({"function": "add", "params": {"a": 1}}, shared)
    assert schema_to_gbnf(shared) == schema_to_gbnf(plain)
    assert bound_schema(shared, DecodeBounds()) == bound_schema(plain, DecodeBounds())
    thawed = copy.deepcopy(shared)  # a deep copy is the caller's own: plain and mutable
    thawed["anyOf"][0]["properties"]["params"]["x"] = 1
    assert type(thawed["anyOf"]) is list and "x" not in shared["anyOf"][0]["properties"]["params"]
    assert pickle.loads(pickle.dumps(shared)) == plain
    assert {**shared, "x": 1}["x"] == 1 and "x" not in shared


def test_json_schema_updates_when_tools_are_added(tools: ToolSet) -> None:
    before = tools.json_schema()

    @tools.tool
    def late(x: int) -> int:
        """Late."""
        return x

    after = tools.json_schema()
    assert len(after["anyOf"]) == len(before["anyOf"]) + 1
    jsonschema.validate({"function": "late", "params": {"x": 1}}, after)


def test_fingerprint_changes_with_the_tools(tools: ToolSet) -> None:
    before = tools.fingerprint
    assert before == build_tools().fingerprint

    @tools.tool
    def late(x: int) -> int:
        """Late."""
        return x

    assert tools.fingerprint != before


def test_literal_parameter_in_json_schema() -> None:
    tools = ToolSet()

    @tools.tool
    def sort(order: Literal["asc", "desc"] = "asc") -> str:
        """Sort."""
        return order

    schema = tools.json_schema()
    jsonschema.validate({"function": "sort", "params": {"order": "desc"}}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"function": "sort", "params": {"order": "random"}}, schema)


# -------------------------------------------------------------------------------------- non-finite


def test_non_finite_strings_never_reach_arguments() -> None:
    tools = ToolSet()

    @tools.tool
    def scale(factor: float, point: Point | None = None, values: list[float] | None = None) -> float:
        """Scale."""
        return factor

    for params in (
        {"factor": "nan"},
        {"factor": "inf"},
        {"factor": 1, "point": {"x": "-inf"}},
        {"factor": 1, "values": [1, "NaN"]},
    ):
        with pytest.raises(CallValidationError):
            tools.validate("scale", params)
    call = tools.validate("scale", {"factor": "1.5", "values": ["2", 3]})
    assert json.loads(json.dumps(call.arguments, allow_nan=False)) == {"factor": 1.5, "values": [2.0, 3.0]}


def test_non_finite_in_nested_model_with_default_config() -> None:
    class Box(BaseModel):
        width: float

    tools = ToolSet()

    @tools.tool
    def pack(box: Box) -> float:
        """Pack a box."""
        return box.width

    with pytest.raises(CallValidationError) as info:
        tools.validate("pack", {"box": {"width": "inf"}})
    assert [p.path for p in info.value.problems] == ["box.width"]


# ------------------------------------------------------------------------------ cache coherence


class _GatedSchema(dict[str, Any]):
    """A schema whose first read after ``arm()`` blocks until the test releases it.

    It makes a cache fill deterministic: the fill is held mid-computation while another thread
    registers a tool, then let go.
    """

    def arm(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.armed = True

    def _gate(self) -> None:
        if getattr(self, "armed", False):
            self.armed = False
            self.entered.set()
            assert self.release.wait(10), "the test never released the gate"

    def keys(self) -> Any:
        self._gate()
        return super().keys()

    def items(self) -> Any:
        self._gate()
        return super().items()

    def __iter__(self) -> Any:
        self._gate()
        return super().__iter__()

    def get(self, key: str, default: Any = None) -> Any:
        self._gate()
        return super().get(key, default)


@pytest.mark.parametrize(
    "read",
    [
        pytest.param(lambda ts: ts.render_tools(), id="render_tools"),
        pytest.param(lambda ts: ts.render_tools(show_types=True), id="render_tools-types"),
        pytest.param(lambda ts: ts.json_schema(copy=False), id="json_schema"),
        pytest.param(lambda ts: ts.fingerprint, id="fingerprint"),
    ],
)
def test_a_cache_filled_during_add_is_never_stale(read: Any) -> None:
    schema = _GatedSchema({"type": "object", "properties": {"x": {"type": "integer"}}})
    # Each test case gets a fresh name, so the per-tool block cache cannot answer before the gate.
    slow = Tool(name="slow", description="Slow to read.", schema=schema)
    tools = ToolSet([slow])
    fast = Tool(name="fast", description="Added meanwhile.", schema={"type": "object", "properties": {}})
    expected_after = read(ToolSet([Tool("slow", "Slow to read.", dict(schema)), fast]))

    schema.arm()
    reader = threading.Thread(target=read, args=(tools,))
    reader.start()
    assert schema.entered.wait(10)
    tools.add(fast)  # registered while the reader is mid-fill, before it stores anything
    schema.release.set()
    reader.join(10)
    assert not reader.is_alive()

    assert read(tools) == expected_after
