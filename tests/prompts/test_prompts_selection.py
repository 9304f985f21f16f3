"""The function-selection prompt, byte for byte, and the rendering rules of the tool block."""

import dataclasses
import enum
import re
from typing import Annotated, Any, Literal

import pytest
import yaml
from pydantic import BaseModel, Field

from _tools import Filters, seed_tools  # tests/ is on sys.path (rootdir conftest)
from funcroute import ToolSet, UsageError
from funcroute.prompts import render_tool, selection_prompt

SEED_INPUT = "I want to know how many times 'Python' is mentioned in my text file."

SEED_PROMPT = """\
As an AI assistant, please select the most suitable function and parameters from the list of available \
functions below, based on the user's input. Provide your response in JSON format.

Input: I want to know how many times 'Python' is mentioned in my text file.

Available functions:
file_analytics:
  description: This tool performs various operations on a text file.
  params:
    action: The operation we want to perform on the data, such as "count_occurrences", "find_line", etc.
    filters:
      keyword: The word or phrase we want to search for."""


@pytest.fixture
def seed() -> ToolSet:
    return seed_tools()


def block_of(fn: Any, **options: Any) -> str:
    tools = ToolSet()
    tools.add_function(fn, **options)
    return tools.render_tools()


# ------------------------------------------------------------------------------------- exact prompt


def test_seed_prompt_is_exact(seed: ToolSet) -> None:
    prompt = seed.prompt(SEED_INPUT)
    assert prompt == SEED_PROMPT
    assert not prompt.endswith("\n")


def test_seed_prompt_json_is_the_default_and_explicit(seed: ToolSet) -> None:
    assert seed.prompt(SEED_INPUT, format="json") == seed.prompt(SEED_INPUT) == SEED_PROMPT
    assert seed.prompt(SEED_INPUT, "json") == SEED_PROMPT


def test_seed_prompt_yaml(seed: ToolSet) -> None:
    prompt = seed.prompt(SEED_INPUT, format="yaml")
    assert prompt == SEED_PROMPT.replace(
        "Provide your response in JSON format.", "Provide your response in YAML format."
    )
    assert "Provide your response in YAML format." in prompt.splitlines()[0]
    assert "JSON" not in prompt


def test_seed_prompt_from_the_bare_builders() -> None:
    schema = seed_tools()["file_analytics"].schema
    block = render_tool("file_analytics", "This tool performs various operations on a text file.", schema)
    assert selection_prompt(SEED_INPUT, [block]) == SEED_PROMPT


def test_seed_prompt_lines(seed: ToolSet) -> None:
    lines = seed.prompt(SEED_INPUT).split("\n")
    assert lines[1] == ""
    assert lines[2] == f"Input: {SEED_INPUT}"
    assert lines[3] == ""
    assert lines[4] == "Available functions:"
    assert lines[5] == "file_analytics:"
    assert all(line == line.rstrip() for line in lines)


@pytest.mark.parametrize("fmt", ["xml", "JSON", "", "yml"])
def test_unknown_format_is_a_usage_error(seed: ToolSet, fmt: str) -> None:
    with pytest.raises(UsageError, match="format must be 'json' or 'yaml'"):
        seed.prompt("x", format=fmt)  # type: ignore[arg-type]


def test_empty_toolset_cannot_render_a_prompt() -> None:
    with pytest.raises(UsageError, match="empty"):
        ToolSet().prompt("hello")


@pytest.mark.parametrize(
    "user_input",
    ["", "multi\nline\ninput", "braces {like} {{this}} and {prompt}", "unicode: café 🚀", "  spaced  "],
)
def test_user_input_is_inserted_verbatim(seed: ToolSet, user_input: str) -> None:
    prompt = seed.prompt(user_input)
    assert f"\n\nInput: {user_input}\n\nAvailable functions:\n" in prompt


def test_prompt_lists_tools_in_registration_order() -> None:
    tools = ToolSet()

    @tools.tool
    def zeta(a: int) -> None:
        """Last alphabetically."""

    @tools.tool
    def alpha(b: int) -> None:
        """First alphabetically."""

    prompt = tools.prompt("x")
    assert prompt.index("zeta:") < prompt.index("alpha:")
    assert prompt.endswith("alpha:\n  description: First alphabetically.\n  params:\n    b: b")


def test_prompt_with_chosen_tools_in_chosen_order() -> None:
    tools = ToolSet()

    @tools.tool
    def one(x: int) -> None:
        """Tool one."""

    @tools.tool
    def two(x: int) -> None:
        """Tool two."""

    @tools.tool
    def three(x: int) -> None:
        """Tool three."""

    prompt = tools.prompt("x", tools=["three", "one"])
    body = prompt.split("Available functions:\n", 1)[1]
    assert body == (
        "three:\n  description: Tool three.\n  params:\n    x: x\n"
        "one:\n  description: Tool one.\n  params:\n    x: x"
    )
    with pytest.raises(KeyError, match="no tool named 'four'"):
        tools.prompt("x", tools=["four"])


def test_prompt_reflects_tools_added_later(seed: ToolSet) -> None:
    first = seed.prompt("x")

    @seed.tool
    def extra(n: int) -> None:
        """Added later."""

    second = seed.prompt("x")
    assert second.startswith(first)
    assert second.endswith("\nextra:\n  description: Added later.\n  params:\n    n: n")


# ---------------------------------------------------------------------------------- rendering rules


def test_tool_without_description_shows_its_name_in_words() -> None:
    def get_file_path(file_path: str) -> None:
        pass

    assert block_of(get_file_path) == (
        "get_file_path:\n  description: get file path\n  params:\n    file_path: file path"
    )


def test_dotted_names_in_words() -> None:
    tools = ToolSet()

    def fn(x: int) -> None:
        pass

    tools.add_function(fn, name="files.read_text")
    assert tools.render_tools().splitlines()[:2] == ["files.read_text:", "  description: files read text"]


def test_tool_without_params_has_no_params_key() -> None:
    def ping() -> str:
        """Check the service is up."""
        return "pong"

    assert block_of(ping) == "ping:\n  description: Check the service is up."


def test_literal_choices_are_listed() -> None:
    def sort(order: Annotated[Literal["asc", "desc"], Field(description="Sort order.")]) -> None:
        """Sort."""

    line = block_of(sort).splitlines()[-1]
    assert re.fullmatch(r'    order: "?Sort order\. One of:? \\?"asc\\?", \\?"desc\\?"\."?', line), line


class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


@pytest.mark.parametrize(
    "annotation,choices",
    [
        (Literal["fast", "slow"], ['"fast"', '"slow"']),
        (Colour, ['"red"', '"green"']),
        (Level, ["1", "2"]),
        (Literal[1, 2, 3], ["1", "2", "3"]),
        (Literal["fast", "slow"] | None, ['"fast"', '"slow"']),
        (Colour | None, ['"red"', '"green"']),
    ],
)
def test_choices_for_literal_and_enum(annotation: Any, choices: list[str]) -> None:
    def pick(mode: annotation = None) -> None:  # type: ignore[valid-type,assignment]
        """Pick."""

    block = block_of(pick)
    value = yaml.safe_load(block)["pick"]["params"]["mode"]
    assert re.search(r"One of:? " + re.escape(", ".join(choices)) + r"\.$", value), value
    assert "null" not in value.split("One of")[1]


def test_choices_follow_the_description() -> None:
    def sort(order: Annotated[Literal["asc", "desc"], Field(description="Sort order.")] = "asc") -> None:
        """Sort."""

    value = yaml.safe_load(block_of(sort))["sort"]["params"]["order"]
    assert value.startswith("Sort order. One of")


def test_choices_without_description_follow_the_name_in_words() -> None:
    def sort(sort_order: Literal["asc", "desc"]) -> None:
        """Sort."""

    value = yaml.safe_load(block_of(sort))["sort"]["params"]["sort_order"]
    assert value.startswith("sort order One of")


class Address(BaseModel):
    street: str = Field(description="Street and number.")
    city: str


@dataclasses.dataclass
class Window:
    start: str
    end: str = "now"


class Query(BaseModel):
    """A query. (Its own description is not shown.)"""

    text: str = Field(description="What to look for.")
    where: Address
    window: Window | None = None


def test_nested_objects_render_as_nested_mappings() -> None:
    def search(query: Query, limit: int = 10) -> None:
        """Search things."""

    assert block_of(search) == (
        "search:\n"
        "  description: Search things.\n"
        "  params:\n"
        "    query:\n"
        "      text: What to look for.\n"
        "      where:\n"
        "        street: Street and number.\n"
        "        city: city\n"
        "      window:\n"
        "        start: start\n"
        "        end: end\n"
        "    limit: limit"
    )


class Item(BaseModel):
    name: str = Field(description="Product name.")
    qty: int = Field(1, description="How many.")
    note: str | None = None


def test_lists_of_objects_render_under_a_dash_entry() -> None:
    def order(items: list[Item], rush: bool = False) -> None:
        """Place an order."""

    assert block_of(order) == (
        "order:\n"
        "  description: Place an order.\n"
        "  params:\n"
        "    items:\n"
        "      - name: Product name.\n"
        "        qty: How many.\n"
        "        note: note\n"
        "    rush: rush"
    )


def test_optional_list_of_dataclasses() -> None:
    def plan(windows: list[Window] | None = None) -> None:
        """Plan."""

    block = block_of(plan)
    assert block.endswith("    windows:\n      - start: start\n        end: end")
    assert yaml.safe_load(block)["plan"]["params"]["windows"] == [{"start": "start", "end": "end"}]


def test_list_of_scalars_is_a_plain_line() -> None:
    def tag(labels: Annotated[list[str], Field(description="Labels to add.")]) -> None:
        """Tag."""

    assert block_of(tag).splitlines()[-1] == "    labels: Labels to add."


def test_multi_line_descriptions_collapse_to_one_line() -> None:
    def send(
        to: Annotated[str, Field(description="The person\n   to send to,\n\tby name.")],
    ) -> None:
        """Send a message
        to someone.

        It is delivered
        at once.
        """

    assert block_of(send) == (
        "send:\n  description: Send a message to someone. It is delivered at once.\n"
        "  params:\n    to: The person to send to, by name."
    )


def test_description_override_collapses_too() -> None:
    def send(to: str) -> None:
        """Ignored."""

    assert block_of(send, description="  Line one.\n\n  Line two.  ").splitlines()[1] == (
        "  description: Line one. Line two."
    )


# ------------------------------------------------------------------------------------------- types


def test_no_types_by_default(seed: ToolSet) -> None:
    assert "(string" not in seed.render_tools()


def same_words(text: str) -> str:
    """Rendered text with the optional colons of "One of:" and "default:" notes dropped."""
    return text.replace("One of: ", "One of ").replace("default: ", "default ")


def test_show_types_notes() -> None:
    def search(
        query: Annotated[str, Field(description="Text.")],
        limit: int = 3,
        ratio: float | None = None,
        tags: list[str] = [],  # noqa: B006
        mode: Literal["a", "b"] = "a",
        exact: bool = False,
        labels: dict[str, int] | None = None,
        names: list[str] | None = None,
    ) -> None:
        """Search."""

    tools = ToolSet([search])
    block = tools.render_tools(show_types=True)
    assert block.splitlines()[3] == "    query: Text. (string)"
    values = {k: same_words(v) for k, v in yaml.safe_load(block)["search"]["params"].items()}
    assert values == {
        "query": "Text. (string)",
        "limit": "limit (integer, optional, default 3)",
        "ratio": "ratio (number, optional, default null)",
        "tags": "tags (list of string, optional, default [])",
        "mode": 'mode One of "a", "b". (string, optional, default "a")',
        "exact": "exact (boolean, optional, default false)",
        "labels": "labels (object, optional, default null)",
        "names": "names (list of string, optional, default null)",
    }


def test_show_types_in_nested_objects(seed: ToolSet) -> None:
    block = seed.render_tools(show_types=True)
    assert block.splitlines()[-1] == "      keyword: The word or phrase we want to search for. (string)"
    prompt = seed.prompt(SEED_INPUT, show_types=True)
    assert prompt.endswith(block)


def test_show_types_does_not_leak_into_the_plain_prompt(seed: ToolSet) -> None:
    seed.render_tools(show_types=True)
    assert seed.prompt(SEED_INPUT) == SEED_PROMPT


# ----------------------------------------------------------------------------------- YAML validity


class Deep(BaseModel):
    inner: Query
    items: list[Item] = []


def variety() -> list[Any]:
    def seed_like(action: str, filters: Filters) -> None:
        """This tool performs various operations on a text file."""

    def no_params() -> None:
        """Nothing to fill."""

    def undocumented(file_path: str, max_lines: int = 10) -> None:
        pass

    def with_choices(
        mode: Literal["fast", "slow"], level: Level = Level.LOW, colour: Colour | None = None
    ) -> None:
        """Pick options."""

    def nested(query: Query, deep: Deep | None = None) -> None:
        """Deeply nested."""

    def lists(items: list[Item], windows: list[Window] = [], names: list[str] = []) -> None:  # noqa: B006
        """Lists everywhere."""

    def mapping(labels: dict[str, str], counts: dict[str, list[int]] | None = None) -> None:
        """Mappings."""

    def documented(city: str, days: int = 3) -> None:
        """Get the weather forecast.

        Args:
            city: The city name, e.g. "Paris" or 'Berlin'.
            days: Days ahead (1-7), default 3.
        """

    return [seed_like, no_params, undocumented, with_choices, nested, lists, mapping, documented]


def expected_shape(schema: dict[str, Any]) -> Any:
    """What YAML should read back from a rendered schema: mappings for objects, strings for leaves."""

    def node(sub: dict[str, Any]) -> Any:
        for key in ("anyOf", "oneOf"):
            for option in sub.get(key, []):
                if option.get("properties") or (
                    option.get("type") == "array" and "properties" in option.get("items", {})
                ):
                    return node(option)
        if sub.get("properties"):
            return {k: node(v) for k, v in sub["properties"].items()}
        if sub.get("type") == "array" and sub.get("items", {}).get("properties"):
            return [{k: node(v) for k, v in sub["items"]["properties"].items()}]
        return str

    return {k: node(v) for k, v in schema.get("properties", {}).items()}


def same_shape(value: Any, shape: Any) -> bool:
    if shape is str:
        return isinstance(value, str) and value != ""
    if isinstance(shape, list):
        return isinstance(value, list) and len(value) == 1 and same_shape(value[0], shape[0])
    return (
        isinstance(value, dict)
        and value.keys() == shape.keys()
        and all(same_shape(value[k], shape[k]) for k in shape)
    )


@pytest.mark.parametrize("show_types", [False, True])
@pytest.mark.parametrize("fn", variety(), ids=lambda fn: fn.__name__)
def test_rendered_block_is_yaml_with_the_schema_shape(fn: Any, show_types: bool) -> None:
    tools = ToolSet([fn])
    tool = tools[fn.__name__]
    block = tools.render_tools(show_types=show_types)
    data = yaml.safe_load(block)
    assert list(data) == [tool.name]
    entry = data[tool.name]
    assert isinstance(entry["description"], str) and entry["description"]
    if tool.schema.get("properties"):
        assert same_shape(entry["params"], expected_shape(tool.schema)), entry["params"]
    else:
        assert set(entry) == {"description"}


def test_whole_available_functions_list_is_yaml() -> None:
    tools = ToolSet(variety())
    data = yaml.safe_load(tools.render_tools())
    assert list(data) == tools.names


def test_seed_block_reads_back_exactly(seed: ToolSet) -> None:
    assert yaml.safe_load(seed.render_tools()) == {
        "file_analytics": {
            "description": "This tool performs various operations on a text file.",
            "params": {
                "action": 'The operation we want to perform on the data, such as "count_occurrences", '
                '"find_line", etc.',
                "filters": {"keyword": "The word or phrase we want to search for."},
            },
        }
    }


TRICKY_TEXTS = [
    "Note: times are UTC.",
    "Format: YYYY-MM-DD",
    "Ends with a colon:",
    "Use a # to start a channel name",
    "*Required* field",
    "&amp; entity",
    "!important flag",
    "%d placeholder",
    "@mention of a user",
    "`code` span",
    "[optional] suffix",
    "{braces} template",
    "- dash first",
    "? question first",
    "| pipe first",
    "> quote first",
    "'single' quoted start",
    '"double" quoted start',
    "yes",
    "No",
    "null",
    "123",
    "3.14",
    "2024-01-01",
    "key: value: more",
    "Path like C:\\Users\\me",
    "Unicode — café, naïve, 日本語",
    "Mixed \"quotes\" and 'apostrophes'",
]


@pytest.mark.parametrize("text", TRICKY_TEXTS)
def test_descriptions_read_back_unchanged_as_yaml(text: str) -> None:
    def tool(value: Annotated[str, Field(description=text)]) -> None:
        pass

    tools = ToolSet()
    tools.add_function(tool, description=text)
    data = yaml.safe_load(tools.render_tools())
    assert data == {"tool": {"description": text, "params": {"value": text}}}


def test_plain_descriptions_are_not_quoted(seed: ToolSet) -> None:
    """Quoting is only for text YAML would misread: the training format had none."""
    block = seed.render_tools()
    assert '"The operation' not in block
    assert "description: This tool performs various operations on a text file." in block


# --------------------------------------------------------------------- schemas from data (render_tool)


@pytest.mark.parametrize(
    "schema,expected",
    [
        ({"type": "object", "properties": {}}, "t:\n  description: Desc."),
        ({}, "t:\n  description: Desc."),
        (
            {"type": "object", "properties": {"q": {"type": "string", "description": "Query."}}},
            "t:\n  description: Desc.\n  params:\n    q: Query.",
        ),
        (
            {
                "properties": {
                    "opt": {"anyOf": [{"properties": {"x": {"type": "integer"}}}, {"type": "null"}]}
                }
            },
            "t:\n  description: Desc.\n  params:\n    opt:\n      x: x",
        ),
        (
            {"properties": {"e": {"enum": ["a", None, "b"]}}},
            't:\n  description: Desc.\n  params:\n    e: e One of "a", "b".',
        ),
        (
            {"properties": {"c": {"anyOf": [{"const": "x"}, {"const": "y"}]}}},
            't:\n  description: Desc.\n  params:\n    c: c One of "x", "y".',
        ),
        (
            {"properties": {"rows": {"type": "array", "items": {"properties": {"a": {}, "b": {}}}}}},
            "t:\n  description: Desc.\n  params:\n    rows:\n      - a: a\n        b: b",
        ),
        (
            {"properties": {"empty_obj": {"type": "object", "properties": {}}}},
            "t:\n  description: Desc.\n  params:\n    empty_obj: empty obj",
        ),
    ],
)
def test_render_tool_from_schemas(schema: dict[str, Any], expected: str) -> None:
    rendered = render_tool("t", "Desc.", schema)
    # Compared as YAML: a line may be quoted, and "One of" may carry a colon; the content is exact.
    assert words_in(yaml.safe_load(rendered)) == yaml.safe_load(expected)
    assert rendered.count("\n") == expected.count("\n")


def words_in(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: words_in(v) for k, v in value.items()}
    if isinstance(value, list):
        return [words_in(v) for v in value]
    return same_words(value) if isinstance(value, str) else value


def test_render_tool_without_description() -> None:
    assert render_tool("web_search", "", {}) == "web_search:\n  description: web search"
    assert render_tool("web_search", "   \n ", {}) == "web_search:\n  description: web search"


def test_selection_prompt_joins_blocks() -> None:
    prompt = selection_prompt("hi", ["a:\n  description: A.", "b:\n  description: B."], "yaml")
    assert prompt.endswith("Available functions:\na:\n  description: A.\nb:\n  description: B.")
    assert "YAML format." in prompt
