"""Function signature -> description, JSON Schema and validator (funcroute.tools.signature)."""

import dataclasses
import enum
import json
from typing import Annotated, Any, Literal, Optional

import pytest
from pydantic import BaseModel, Field

from funcroute import FuncRouteError, ToolSet, UsageError
from funcroute.errors import ToolDefinitionError
from funcroute.tools.signature import analyse_function


def schema_of(fn: Any) -> dict[str, Any]:
    return analyse_function(fn, qualname=fn.__name__).schema


def props(fn: Any) -> dict[str, Any]:
    return schema_of(fn)["properties"]


def descriptions(fn: Any) -> dict[str, str | None]:
    return {name: sub.get("description") for name, sub in props(fn).items()}


def no_refs(node: Any) -> bool:
    text = json.dumps(node)
    return "$ref" not in text and "$defs" not in text


def definition_error(fn: Any) -> ToolDefinitionError:
    with pytest.raises(ToolDefinitionError) as info:
        ToolSet().add_function(fn)
    return info.value


# --------------------------------------------------------------------------------------- descriptions


def test_annotated_field_description() -> None:
    def f(city: Annotated[str, Field(description="The city to look up.")]) -> None:
        pass

    assert descriptions(f) == {"city": "The city to look up."}


def test_annotated_bare_string_description() -> None:
    def f(city: Annotated[str, "The city to look up."]) -> None:
        pass

    assert descriptions(f) == {"city": "The city to look up."}


def test_field_default_description_and_default() -> None:
    def f(days: int = Field(3, description="Days ahead.", ge=1, le=7)) -> None:
        pass

    sub = props(f)["days"]
    assert sub["description"] == "Days ahead."
    assert sub["default"] == 3
    assert sub["minimum"] == 1 and sub["maximum"] == 7
    assert "days" not in schema_of(f).get("required", [])


def test_google_docstring() -> None:
    def f(city: str, days: int = 3, units: str = "metric") -> None:
        """Get the weather forecast.

        Looks the city up first,
        then asks the forecast service.

        Args:
            city: The city name,
                wrapped onto two lines.
            days (int): Days ahead.
            units: "metric" or "imperial".

        Returns:
            The forecast text.

        Raises:
            KeyError: unknown city.
        """

    signature = analyse_function(f, qualname="f")
    assert signature.description == (
        "Get the weather forecast. Looks the city up first, then asks the forecast service."
    )
    assert descriptions(f) == {
        "city": "The city name, wrapped onto two lines.",
        "days": "Days ahead.",
        "units": '"metric" or "imperial".',
    }


def test_numpy_docstring() -> None:
    def f(path: str, limit: int | None = None) -> None:
        """Read a file.

        Parameters
        ----------
        path : str
            Where the file is.
        limit : int, optional
            Most lines to read.

        Returns
        -------
        str
            The text.
        """

    assert analyse_function(f, qualname="f").description == "Read a file."
    assert descriptions(f) == {"path": "Where the file is.", "limit": "Most lines to read."}


def test_sphinx_docstring() -> None:
    def f(path: str, strict: bool = False) -> None:
        """Read a file.

        :param path: Where the file is.
        :param strict: Fail on bad lines.
        :returns: the text.
        """

    assert analyse_function(f, qualname="f").description == "Read a file."
    assert descriptions(f) == {"path": "Where the file is.", "strict": "Fail on bad lines."}


def test_annotated_description_wins_over_docstring() -> None:
    def f(
        a: Annotated[str, Field(description="From Annotated.")],
        b: str = Field("x", description="From Field."),
        c: str = "",
    ) -> None:
        """Summary.

        Args:
            a: From docstring a.
            b: From docstring b.
            c: From docstring c.
        """

    assert descriptions(f) == {"a": "From Annotated.", "b": "From Field.", "c": "From docstring c."}


def test_undocumented_parameter_has_no_description() -> None:
    def f(a: int, b: int) -> None:
        """Summary.

        Args:
            a: The a.
        """

    assert descriptions(f) == {"a": "The a.", "b": None}


def test_no_docstring() -> None:
    def f(a: int) -> None:
        pass

    assert analyse_function(f, qualname="f").description == ""


class Filters(BaseModel):
    """Filters (model docstring)."""

    keyword: str = Field(description="The word or phrase we want to search for.")
    case_sensitive: bool = Field(False, description="Match case exactly.")


def test_pydantic_model_field_descriptions_are_inlined() -> None:
    def f(filters: Filters) -> None:
        pass

    sub = props(f)["filters"]
    assert sub["properties"]["keyword"]["description"] == "The word or phrase we want to search for."
    assert sub["properties"]["case_sensitive"]["description"] == "Match case exactly."
    assert sub["required"] == ["keyword"]
    assert no_refs(schema_of(f))


def test_model_parameter_can_carry_its_own_description() -> None:
    def f(filters: Annotated[Filters, Field(description="What to look for.")]) -> None:
        pass

    sub = props(f)["filters"]
    assert sub["description"] == "What to look for."
    assert "keyword" in sub["properties"]


# ---------------------------------------------------------------------------------------------- types


class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


@dataclasses.dataclass
class Point:
    x: int
    y: int = 0


class Address(BaseModel):
    street: str
    city: str
    point: Point | None = None


@pytest.mark.parametrize(
    "annotation,expected",
    [
        (str, {"type": "string"}),
        (int, {"type": "integer"}),
        (float, {"type": "number"}),
        (bool, {"type": "boolean"}),
        (Literal["a", "b"], {"enum": ["a", "b"], "type": "string"}),
        (Colour, {"enum": ["red", "green"], "type": "string"}),
        (Level, {"enum": [1, 2], "type": "integer"}),
        (list[str], {"type": "array", "items": {"type": "string"}}),
        (list[int], {"type": "array", "items": {"type": "integer"}}),
        (dict[str, int], {"type": "object", "additionalProperties": {"type": "integer"}}),
        (Optional[str], {"anyOf": [{"type": "string"}, {"type": "null"}]}),  # noqa: UP045
        (int | None, {"anyOf": [{"type": "integer"}, {"type": "null"}]}),
    ],
)
def test_type_schemas(annotation: Any, expected: dict[str, Any]) -> None:
    def f(value: annotation) -> None:  # type: ignore[valid-type]
        pass

    sub = dict(props(f)["value"])
    sub.pop("description", None)
    assert sub == expected
    assert schema_of(f)["required"] == ["value"]
    assert "title" not in json.dumps(schema_of(f))


def test_defaults_are_in_the_schema_and_not_required() -> None:
    def f(a: str, b: int = 3, c: str | None = None, d: Colour = Colour.GREEN, e: list[int] = [1]) -> None:  # noqa: B006
        pass

    schema = schema_of(f)
    assert schema["required"] == ["a"]
    assert schema["type"] == "object"
    defaults = {name: sub.get("default") for name, sub in schema["properties"].items()}
    assert defaults == {"a": None, "b": 3, "c": None, "d": "green", "e": [1]}
    assert "default" in schema["properties"]["c"]


def test_nested_models_and_dataclasses_are_inlined() -> None:
    def f(address: Address, points: list[Point], lookup: dict[str, Address] | None = None) -> None:
        pass

    schema = schema_of(f)
    assert no_refs(schema)
    address = schema["properties"]["address"]
    assert address["type"] == "object"
    assert set(address["properties"]) == {"street", "city", "point"}
    point = address["properties"]["point"]["anyOf"][0]
    assert point["properties"] == {"x": {"type": "integer"}, "y": {"default": 0, "type": "integer"}}
    assert schema["properties"]["points"]["items"]["required"] == ["x"]
    lookup = schema["properties"]["lookup"]["anyOf"][0]
    assert lookup["additionalProperties"]["properties"]["city"] == {"type": "string"}


def test_parameter_order_is_signature_order() -> None:
    def f(zeta: int, alpha: int, mid: int = 0) -> None:
        pass

    assert list(props(f)) == ["zeta", "alpha", "mid"]
    assert analyse_function(f, qualname="f").fields == (("p0", "zeta"), ("p1", "alpha"), ("p2", "mid"))


@pytest.mark.parametrize(
    "name", ["json", "schema", "model_config", "copy", "dict", "validate", "fields", "p0"]
)
def test_parameter_names_that_clash_with_pydantic(name: str) -> None:
    namespace: dict[str, Any] = {}
    exec(f"def f({name}: str, other: int = 1) -> str:\n    return {name} * other", namespace)
    tools = ToolSet([namespace["f"]])
    call = tools.parse(json.dumps({"function": "f", "params": {name: "ab", "other": 2}}))
    assert call.arguments == {name: "ab", "other": 2}
    assert tools.dispatch(call) == "abab"
    assert list(tools["f"].schema["properties"]) == [name, "other"]


def test_positional_only_parameters() -> None:
    def f(a: int, b: int, /, c: int = 0, *, d: int = 0) -> tuple[int, int, int, int]:
        return a, b, c, d

    signature = analyse_function(f, qualname="f")
    assert signature.positional == frozenset({"a", "b"})
    tools = ToolSet([f])
    call = tools.parse('{"function": "f", "params": {"a": 1, "b": 2, "c": 3, "d": 4}}')
    assert tools.dispatch(call) == (1, 2, 3, 4)
    assert tools.dispatch(tools.parse('{"function": "f", "params": {"b": 2, "a": 1}}')) == (1, 2, 0, 0)


def test_coercions_the_models_need() -> None:
    def f(zip_code: str, count: int, ratio: float, flag: bool) -> None:
        pass

    tools = ToolSet([f])
    call = tools.parse(
        '{"function": "f", "params": {"zip_code": 12345, "count": "7", "ratio": 2, "flag": "true"}}'
    )
    assert call.arguments == {"zip_code": "12345", "count": 7, "ratio": 2.0, "flag": True}


def test_enum_arguments_validate_by_value() -> None:
    def f(colour: Colour, level: Level = Level.LOW) -> tuple[Colour, Level]:
        return colour, level

    tools = ToolSet([f])
    call = tools.parse('{"function": "f", "params": {"colour": "green", "level": 2}}')
    assert call.arguments == {"colour": "green", "level": 2}
    assert tools.dispatch(call) == (Colour.GREEN, Level.HIGH)
    with pytest.raises(FuncRouteError, match="colour"):
        tools.parse('{"function": "f", "params": {"colour": "GREEN"}}')


def test_forward_references_resolve() -> None:
    def f(address: "Address", colour: "Colour | None" = None) -> None:
        pass

    assert set(props(f)) == {"address", "colour"}


# ----------------------------------------------------------------------------------------- problems


def test_var_args_var_kwargs_and_unannotated_in_one_error() -> None:
    def bad(a, b: int, *args: int, c, **kwargs: str) -> None:  # type: ignore[no-untyped-def]
        """Bad."""

    error = definition_error(bad)
    assert error.qualname.endswith("test_var_args_var_kwargs_and_unannotated_in_one_error.<locals>.bad")
    assert error.problems == [
        "parameter 'a' has no type annotation",
        "*args: variable positional arguments cannot be filled by a model",
        "parameter 'c' has no type annotation",
        "**kwargs: variable keyword arguments have no schema",
    ]
    message = str(error)
    assert message.startswith("cannot make a tool of ")
    assert "bad:\n  - parameter 'a' has no type annotation\n  - *args:" in message
    assert isinstance(error, UsageError)
    assert isinstance(error, FuncRouteError)


@pytest.mark.parametrize(
    "source,problem",
    [
        (
            "def f(*items: int) -> None: ...",
            "*items: variable positional arguments cannot be filled by a model",
        ),
        ("def f(**options: str) -> None: ...", "**options: variable keyword arguments have no schema"),
        ("def f(x) -> None: ...", "parameter 'x' has no type annotation"),
        ("def f(a: int, x=3) -> None: ...", "parameter 'x' has no type annotation"),
    ],
)
def test_each_kind_of_problem(source: str, problem: str) -> None:
    namespace: dict[str, Any] = {}
    exec(source, namespace)
    error = definition_error(namespace["f"])
    assert error.problems == [problem]
    assert "f" in error.qualname


def test_decorator_raises_at_decoration_time() -> None:
    tools = ToolSet()
    with pytest.raises(ToolDefinitionError, match="has no type annotation"):

        @tools.tool
        def f(x):  # type: ignore[no-untyped-def]
            pass

    assert len(tools) == 0


def test_unsupported_types_named_with_every_other_problem() -> None:
    def f(a, b: type, c: int, d: range) -> None:  # type: ignore[no-untyped-def]
        pass

    error = definition_error(f)
    text = "\n".join(error.problems)
    assert "parameter 'a' has no type annotation" in text
    for name in ("'b'", "'d'"):
        assert name in text, f"{name} missing from: {text}"
    assert "'c'" not in text


def test_unsupported_type_names_the_parameter() -> None:
    def f(ok: int, handler: type) -> None:
        pass

    error = definition_error(f)
    assert len(error.problems) == 1
    assert "'handler'" in error.problems[0]
    assert "no JSON Schema or validator" in error.problems[0]


class Node(BaseModel):
    name: str
    children: list["Node"] = []


def test_recursive_model_refused() -> None:
    def f(tree: Node) -> None:
        pass

    error = definition_error(f)
    assert "recursive type 'Node' cannot be described to a model" in str(error)


def test_unresolvable_annotation_refused() -> None:
    def f(x: "DoesNotExist") -> None:  # type: ignore[name-defined]  # noqa: F821
        pass

    error = definition_error(f)
    assert "its type hints cannot be resolved" in str(error)
    assert "DoesNotExist" in str(error)


def test_stale_docstring_parameter_refused() -> None:
    def f(city: str) -> None:
        """Weather.

        Args:
            city: The city.
            country: Renamed away long ago.
        """

    error = definition_error(f)
    assert error.problems == ["the docstring documents parameters the function does not have: ['country']"]


@pytest.mark.parametrize("name", ["bad name", "1starts_with_digit", "has/slash", "x" * 129, "semi;colon"])
def test_invalid_tool_names(name: str) -> None:
    def f(a: int) -> None:
        pass

    with pytest.raises(ToolDefinitionError, match="is not a valid identifier"):
        ToolSet().add_function(f, name=name)


@pytest.mark.parametrize(
    "name", ["snake_case", "CamelCase", "dotted.name", "with-dash", "_private", "x" * 128]
)
def test_valid_tool_names(name: str) -> None:
    def f(a: int) -> None:
        pass

    tools = ToolSet()
    tools.add_function(f, name=name)
    assert tools.names == [name]


def test_unreadable_signature_refused() -> None:
    with pytest.raises(ToolDefinitionError):
        ToolSet().add_function(print, name="printer")
