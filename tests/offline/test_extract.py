"""Parameter extraction by type: mentions, nearest-parameter assignment, choices, never invention."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from funcroute.cli.demo_tools import build_demo_tools
from funcroute.offline.extract import fill_arguments, named_choices
from funcroute.offline.fit import described_choices
from funcroute.offline.mentions import find_mentions, unwrapped
from funcroute.offline.units import other_dimension, readings, units_of
from funcroute.tools import ToolSet

TODAY = dt.date(2024, 5, 10)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> ToolSet:
    tmp = tmp_path_factory.mktemp("demo")
    return build_demo_tools(tmp / "notes.txt", tmp / "outbox")


def object_schema(required: list[str], **types: str) -> dict[str, object]:
    """An object schema of plain typed parameters (``object_schema(["a"], a="integer", b="string")``)."""
    properties = {name: {"type": kind} for name, kind in types.items()}
    return {"type": "object", "properties": properties, "required": required}


def kinds(command: str) -> list[tuple[str, object]]:
    return [(m.kind, m.value) for m in find_mentions(command, today=TODAY)]


def test_mentions_of_every_kind_in_order() -> None:
    command = (
        "Mail bob@example.org the report.pdf from https://example.com/a?b=1 by March 3rd, 2024, "
        "tomorrow, with 'urgent' and -2.5 or 1,200 items"
    )
    assert kinds(command) == [
        ("email", "bob@example.org"),
        ("file", "report.pdf"),
        ("url", "https://example.com/a?b=1"),
        ("date", "2024-03-03"),
        ("date", "2024-05-11"),
        ("quoted", "urgent"),
        ("number", -2.5),
        ("number", 1200),
    ]


def test_names_skip_the_capital_that_opens_a_sentence() -> None:
    assert kinds("When was the signing of the Treaty of Lisbon?") == [("name", "Treaty of Lisbon")]
    assert kinds("Solve x = 3. Find Paris weather") == [("number", 3), ("name", "Paris")]
    assert kinds("What did Albert Einstein's paper say?") == [("name", "Albert Einstein")]
    # "The" with a capital inside a sentence is the name's; opening one, it is the sentence's.
    assert kinds("When is The Weeknd's concert?") == [("name", "The Weeknd")]
    assert kinds("The British Museum opens when?") == [("name", "British Museum")]
    assert kinds("Where is the British Museum?") == [("name", "British Museum")]
    # After an abbreviation, a request word opens the next sentence; the abbreviation keeps its stop.
    assert kinds("The last game of Liverpool F.C. Include its statistics.") == [("name", "Liverpool F.C.")]
    assert kinds("I work in Washington D.C. and live there") == [("name", "Washington D.C.")]


def test_apostrophes_are_not_quotes() -> None:
    assert kinds("I'd like the user's files, it's fine") == []


def test_numbers_go_to_the_nearest_parameter_by_name() -> None:
    schema = {
        "type": "object",
        "properties": {"base": {"type": "integer"}, "height": {"type": "integer"}},
        "required": ["base", "height"],
    }
    filled = fill_arguments("Find the area of a triangle with a height of 5 and base 10", schema)
    assert filled.arguments == {"base": 10, "height": 5}
    assert filled.missing == []


def test_explicit_names_and_leftover_order() -> None:
    schema = {
        "type": "object",
        "properties": {k: {"type": "number"} for k in "abc"},
        "required": ["a", "b", "c"],
    }
    filled = fill_arguments("Solve the quadratic equation with a = 1, b = -3 and c = 2", schema)
    assert filled.arguments == {"a": 1, "b": -3, "c": 2}
    unnamed = fill_arguments("Roots of the quadratic with coefficients 2, 6 and 5", schema)
    assert unnamed.arguments == {"a": 2, "b": 6, "c": 5}


def test_a_required_parameter_without_a_value_is_missing_never_invented() -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer", "default": 3}},
        "required": ["city"],
    }
    filled = fill_arguments("what's the weather like", schema)
    assert filled.arguments == {}
    assert filled.missing == ["city"]
    assert filled.fill_ratio == 0.0


def test_optional_parameters_need_evidence() -> None:
    schema = {
        "type": "object",
        "properties": {"n": {"type": "integer"}, "decimal_places": {"type": "integer"}},
        "required": ["n"],
    }
    assert fill_arguments("factorial of 5", schema).arguments == {"n": 5}
    both = fill_arguments("factorial of 5 rounded to 2 decimal places", schema).arguments
    assert both == {"n": 5, "decimal_places": 2}


def test_choices_by_position_and_fuzzily(demo: ToolSet) -> None:
    schema = demo["convert_temperature"].schema
    filled = fill_arguments("convert 451 fahrenheit to kelvin", schema)
    assert filled.arguments == {"value": 451, "from_unit": "fahrenheit", "to_unit": "kelvin"}
    typo = fill_arguments("convert 20 celsus to farenheit", schema)
    assert typo.arguments == {"value": 20, "from_unit": "celsius", "to_unit": "fahrenheit"}


def test_a_required_choice_by_meaning_only_through_the_chooser(demo: ToolSet) -> None:
    schema = demo["file_analytics"].schema
    command = "How often does 'Python' appear in my file?"
    assert fill_arguments(command, schema).missing == ["action"]
    seen: list[list[str]] = []

    def choose(text: str, options: list[str]) -> list[float]:
        seen.append(options)
        return [0.6, 0.1]

    filled = fill_arguments(command, schema, choose=choose)
    assert seen == [["count occurrences", "find line"]]
    assert filled.arguments == {"action": "count_occurrences", "filters": {"keyword": "Python"}}
    assert fill_arguments(command, schema, choose=lambda t, o: [0.05, 0.0]).missing == ["action"]
    # Close, but not clearly closer than the other option: a guess, so not taken.
    assert fill_arguments(command, schema, choose=lambda t, o: [0.45, 0.4]).missing == ["action"]


def test_typed_strings_prefer_their_kind(demo: ToolSet) -> None:
    filled = fill_arguments(
        "Send 'Lunch?' to carol@example.com, body 'Noon at the usual place'", demo["send_email"].schema
    )
    assert filled.arguments == {
        "to": "carol@example.com",
        "subject": "Lunch?",
        "body": "Noon at the usual place",
    }


def test_dates_follow_the_format_the_description_asks_for() -> None:
    schema = {
        "type": "object",
        "properties": {"when": {"type": "string", "description": "The date, in MM/DD/YYYY format."}},
        "required": ["when"],
    }
    assert fill_arguments("book it for 2024-07-04", schema).arguments == {"when": "07/04/2024"}
    assert fill_arguments("book it for tomorrow", schema, today=TODAY).arguments == {"when": "05/11/2024"}


def test_lists_booleans_and_string_ids() -> None:
    schema = {
        "type": "object",
        "properties": {
            "numbers": {"type": "array", "items": {"type": "number"}},
            "verbose": {"type": "boolean"},
            "zip_code": {"type": "string"},
        },
        "required": ["numbers"],
    }
    filled = fill_arguments("average of 3, 4.5 and 10 please, verbose", schema)
    assert filled.arguments == {"numbers": [3, 4.5, 10], "verbose": True}
    negated = fill_arguments("sum 1 and 2 but not verbose", schema).arguments
    assert negated == {"numbers": [1, 2], "verbose": False}
    zipped = fill_arguments("stores near zip code 94103", {**schema, "required": ["zip_code"]})
    assert zipped.arguments["zip_code"] == "94103"


def test_nested_objects_report_dotted_paths(tmp_path: Path) -> None:
    schema = build_demo_tools(tmp_path / "t.txt", tmp_path / "o")["file_analytics"].schema
    filled = fill_arguments("count_occurrences please", schema)
    assert filled.arguments == {"action": "count_occurrences"}
    assert filled.missing == ["filters.keyword"]
    assert filled.required == 2


# --------------------------------------------------------------- type fit, number words, doubt

PLACE = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "description": "The city."},
        "date": {"type": "string", "description": "The day, YYYY-MM-DD."},
    },
    "required": ["city"],
}


def test_a_date_never_fills_a_city_and_lowercase_places_do() -> None:
    only_city = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    assert fill_arguments("will it rain tomorrow", only_city, today=TODAY).missing == ["city"]
    assert fill_arguments("will it rain in New York tomorrow", PLACE, today=TODAY).arguments == {
        "city": "New York",
        "date": "2024-05-11",
    }
    assert fill_arguments("weather in paris", PLACE).arguments == {"city": "Paris"}
    assert fill_arguments("weather in the morning", PLACE).missing == ["city"]


@pytest.mark.parametrize(
    "text,value",
    [
        ("seventy two", 72),
        ("minus five", -5),
        ("negative 3", -3),
        ("twenty-one", 21),
        ("two hundred and five", 205),
        ("three thousand four hundred", 3400),
        ("a dozen", 12),
    ],
)
def test_number_words_are_read_whole_with_their_sign(text: str, value: int) -> None:
    schema = {
        "type": "object",
        "properties": {"temperature": {"type": "number"}},
        "required": ["temperature"],
    }
    assert fill_arguments(f"set it to {text} degrees", schema).arguments == {"temperature": value}


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("Book a room for two adults and one child", [("numword", 2), ("numword", 1)]),
        ("Book one ticket to Paris", [("numword", 1), ("name", "Paris")]),
        ("Find the one with a pool", []),
        ("Which one is cheaper?", []),
        ("Pick one of them", []),
        ("Add one more", []),
        ("Book a one-way ticket", []),
        ("a one time fee of $5", [("number", 5)]),
        ("Roll a six twice in a row", [("numword", 6), ("numword", 2)]),
    ],
)
def test_a_lone_one_is_a_count_only_before_a_noun_and_twice_is_two(
    command: str, expected: list[tuple[str, object]]
) -> None:
    assert kinds(command) == expected


def test_a_command_wholly_in_quotes_is_no_quoted_value() -> None:
    assert unwrapped("'Get the stock price of Apple.'") == " Get the stock price of Apple. "
    assert unwrapped('  "Say it\'s fine" ') == "   Say it's fine  "  # offsets unchanged
    for kept in ("Say 'hi'", "'Hi' and 'Bob'", '"a" b "c"', "'", "''", "'It's' fine'"):
        assert unwrapped(kept) == kept
    assert kinds("'Get stock price of Apple for the last 5 days in NASDAQ.'") == [
        ("name", "Apple"),
        ("number", 5),
        ("name", "NASDAQ"),
    ]
    assert kinds("'Get Apple'") == [("name", "Apple")]  # the capital that opens it is no name
    schema = object_schema(["message"], message="string")
    # The quote inside is still a value; the whole command is not.
    assert fill_arguments("\"Post 'hello world' now\"", schema).arguments == {"message": "hello world"}


def test_a_number_is_not_a_name_but_may_be_a_code() -> None:
    item = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
    assert fill_arguments("put 2 kg of apples on the list", item).missing == ["name"]
    code = {"type": "object", "properties": {"zip_code": {"type": "string"}}, "required": ["zip_code"]}
    assert fill_arguments("stores near zip code 94110", code).arguments == {"zip_code": "94110"}


def test_lists_of_choices_take_every_choice_named() -> None:
    schema = {
        "type": "object",
        "properties": {"doors": {"type": "array", "items": {"enum": ["front", "back", "garage"]}}},
        "required": ["doors"],
    }
    assert fill_arguments("lock the garage and front doors", schema).arguments == {
        "doors": ["garage", "front"]
    }
    # One choice named exactly does not stop another named fuzzily ("toll roads" for "tolls").
    avoid = {
        "type": "object",
        "properties": {"avoid": {"type": "array", "items": {"enum": ["tolls", "highways", "ferries"]}}},
        "required": ["avoid"],
    }
    assert fill_arguments("directions avoiding highways and toll roads", avoid).arguments == {
        "avoid": ["highways", "tolls"]
    }
    # ...but never on the words an exact match took: "highways" is not also fuzzily another choice.
    near = {
        "type": "object",
        "properties": {"avoid": {"type": "array", "items": {"enum": ["highways", "highway"]}}},
        "required": ["avoid"],
    }
    assert fill_arguments("avoid highways", near).arguments == {"avoid": ["highways"]}
    assert named_choices("camping with scenic views", ["Camping", "Scenic View"]) == [
        "Camping",
        "Scenic View",
    ]


def test_unplaced_quotes_and_rival_guesses_are_reported() -> None:
    lights = {
        "type": "object",
        "properties": {"room": {"enum": ["bedroom", "kitchen"]}, "state": {"enum": ["on", "off"]}},
        "required": ["room", "state"],
    }
    filled = fill_arguments("put on 'Kind of Blue' in the bedroom", lights)
    assert filled.arguments == {"room": "bedroom", "state": "on"} and filled.unplaced == ["Kind of Blue"]
    case = {
        "type": "object",
        "properties": {
            "company1": {"type": "string"},
            "company2": {"type": "string"},
            "country": {"type": "string"},
        },
        "required": ["company1", "company2", "country"],
    }
    filled = fill_arguments("the latest court case between Apple and Samsung in USA", case)
    # Which company is which is a guess; USA, a country, is the country.
    assert sorted(filled.ambiguous) == ["company1", "company2"] and filled.arguments["country"] == "USA"
    named = fill_arguments("a court case where company1 is Apple, company2 Samsung, country USA", case)
    assert named.ambiguous == [] and named.arguments == {
        "company1": "Apple",
        "company2": "Samsung",
        "country": "USA",
    }
    # "order ID is 123456789": a word of the parameter's name labels the value and is none itself.
    order = {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}
    assert fill_arguments("the status of my order, order ID is 123456789", order).arguments == {
        "order_id": "123456789"
    }


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"type": "number", "description": "The annual interest rate of the investment."}, 0.05),
        ({"type": "number", "description": "The rate, as a decimal (5% is 0.05)."}, 0.05),
        ({"type": "number", "description": "The yearly yield of the fund as a percentage."}, 5),
        ({"type": "integer", "description": "The lightness level in percent."}, 5),
        ({"type": "integer", "description": "The growth rate."}, 5),
    ],
)
def test_a_percentage_is_a_fraction_for_a_rate_and_as_written_where_a_percentage_is_asked(
    spec: dict[str, object], expected: float
) -> None:
    schema = {"type": "object", "properties": {"rate": spec}, "required": ["rate"]}
    filled = fill_arguments("Grow it at 5% a year", schema, today=TODAY)
    assert filled.arguments == {"rate": expected} and type(filled.arguments["rate"]) is type(expected)


def test_a_number_with_a_unit_power_is_a_number_and_a_polynomial_stays_a_formula() -> None:
    assert kinds("accelerated at 4 m/s^2 for 300 meters") == [
        ("number", 4),
        ("number", 300),
        ("unit", "meters"),
    ]
    assert kinds("a volume of 10 m^3") == [("number", 10)]
    assert kinds("the roots of y = 3x^2 + 2x - 1") == [("formula", "3x**2 + 2x - 1")]
    assert kinds("integrate x^2 from 1 to 3") == [("formula", "x**2"), ("number", 1), ("number", 3)]
    motion = object_schema(["acceleration", "distance"], acceleration="number", distance="number")
    filled = fill_arguments("accelerated at 4 m/s^2 for a distance of 300 meters", motion)
    assert filled.arguments == {"acceleration": 4, "distance": 300} and filled.missing == []


def test_a_number_binds_to_the_counted_word_after_it_unless_a_comma_parts_them() -> None:
    house = object_schema(["bedrooms", "bathrooms"], bedrooms="integer", bathrooms="integer")
    # "3 bedrooms, 2 bathrooms": "bedrooms" is also right before 2, but a comma parts them.
    filled = fill_arguments("a house with 3 bedrooms, 2 bathrooms", house)
    assert filled.arguments == {"bedrooms": 3, "bathrooms": 2}
    quadratic = object_schema(list("abc"), a="integer", b="integer", c="integer")
    # "a=1, b=-3": "b" right after 1 labels -3 (a comma parts it from 1).
    filled = fill_arguments("roots of a quadratic equation with a=1, b=-3, c=2", quadratic)
    assert filled.arguments == {"a": 1, "b": -3, "c": 2}


def test_scale_words_quotes_with_apostrophes_pairs_and_sentence_ends() -> None:
    assert kinds("213 million people on 8.5 million km2") == [("number", 213_000_000), ("number", 8_500_000)]
    # Money with its scale glued on; without a currency sign "0.5M" may be a molarity and stays 0.5.
    assert kinds("revenues of $1M in 2019 and $1.1M, a $5k bonus") == [
        ("number", 1_000_000),
        ("number", 2019),
        ("number", 1_100_000),
        ("number", 5_000),
    ]
    assert kinds("a 0.5M solution") == [("number", 0.5)]
    # A calendar year takes no million; the amounts go to the revenues.
    growth = object_schema(
        ["year1", "year1_revenue", "year2", "year2_revenue"],
        year1="integer",
        year1_revenue="integer",
        year2="integer",
        year2_revenue="integer",
    )
    command = "the growth for revenues of $1M in 2019 and $1.2M in 2020"
    assert fill_arguments(command, growth).arguments == {
        "year1": 2019,
        "year1_revenue": 1_000_000,
        "year2": 2020,
        "year2_revenue": 1_200_000,
    }
    history = object_schema(["start_year", "end_year"], start_year="integer", end_year="integer")
    assert fill_arguments("events between year 300 and 400", history).arguments == {
        "start_year": 300,
        "end_year": 400,
    }
    assert kinds("body 'Let's meet at 10 AM'") == [("quoted", "Let's meet at 10 AM")]
    assert kinds("from A(3,4) to B(1,2)")[0] == ("list", [3, 4])  # as written, not [3.0, 4.0]
    assert ("name", "Texas") in kinds("docket 123456 in Texas. Don't return the text")
    assert ("name", "Mr. X") in kinds("cases of Mr. X in New York")


def test_units_fill_unit_parameters_and_counts_are_not_values() -> None:
    convert = object_schema(
        ["value", "from_unit", "to_unit"], value="number", from_unit="string", to_unit="string"
    )
    filled = fill_arguments("Convert 10 miles to kilometers", convert)
    assert filled.arguments == {"value": 10, "from_unit": "miles", "to_unit": "kilometers"}
    # An optional unit is taken where the command asks for one ("in Celsius")...
    forecast = object_schema(["location", "days"], location="string", days="integer", temp_unit="string")
    filled = fill_arguments("Average temperature in Austin for the next 3 days in Celsius.", forecast)
    assert filled.arguments == {"location": "Austin", "days": 3, "temp_unit": "Celsius"}
    # ...not from a quantity: "45 kg" is the mass's unit, not the density's the tool asks about.
    density = object_schema(["mass", "volume"], mass="integer", volume="integer", unit="string")
    filled = fill_arguments("the density of a substance with a mass of 45 kg and a volume of 15 m3", density)
    assert filled.arguments == {"mass": 45, "volume": 15}
    # "two charges of 5C and 7C": "two" counts the charges that follow.
    force = object_schema(["charge1", "charge2"], charge1="integer", charge2="integer")
    filled = fill_arguments("the force between two charges of 5C and 7C", force)
    assert filled.arguments == {"charge1": 5, "charge2": 7}
    assert fill_arguments("add two apples", object_schema(["count"], count="integer")).arguments == {
        "count": 2
    }


def test_a_relative_day_followed_by_the_date_written_out_is_that_date() -> None:
    assert kinds("the UV index for Tokyo for tomorrow, June 1 2023") == [
        ("name", "UV"),
        ("name", "Tokyo"),
        ("date", "2023-06-01"),
    ]
    assert ("date", (TODAY + dt.timedelta(days=1)).isoformat()) in kinds("rain tomorrow and on June 1 2023?")


def test_more_date_forms_and_a_name_whose_role_follows_it() -> None:
    assert kinds("on April 9th of 2023") == [("date", "2023-04-09")]
    assert kinds("for 2023.10.02 and 2022/08/16") == [("date", "2023-10-02"), ("date", "2022-08-16")]
    movies = object_schema([], directed_by="string", cast="string")
    command = "a movie directed by Gavin Hood that includes Rhys Ifans in the cast"
    assert fill_arguments(command, movies).arguments == {"directed_by": "Gavin Hood", "cast": "Rhys Ifans"}


def test_currencies_are_read_as_iso_codes_for_currency_parameters() -> None:
    assert kinds("Convert 150 Euros to Canadian dollars") == [
        ("number", 150),
        ("currency", "EUR"),
        ("currency", "CAD"),
    ]
    assert kinds("rub the cad") == []  # codes count in upper case only
    convert = object_schema(
        ["amount", "from_currency", "to_currency"],
        amount="number",
        from_currency="string",
        to_currency="string",
    )
    filled = fill_arguments("How much will 20000 Japanese Yen be in United States Dollar?", convert)
    assert filled.arguments == {"amount": 20000, "from_currency": "JPY", "to_currency": "USD"}


def described(kind: str, description: str) -> dict[str, object]:
    return {"type": kind, "description": description}


def test_options_a_description_names_are_read_as_written() -> None:
    assert described_choices(described("string", "Choices are 'trapezoid' or 'simpson'.")) == (
        "trapezoid",
        "simpson",
    )
    assert described_choices(described("string", "Type, e.g., 'IPR', 'Patent', etc.")) == ("IPR", "Patent")
    listed = {"type": "array", "items": {"type": "string"}, "description": "Diets, e.g. vegan, gluten-free."}
    assert described_choices(listed) == ("vegan", "gluten-free")
    # Apostrophes, format templates, numbers and documented place forms are no options.
    assert described_choices(described("string", "The user's name and the city's code")) == ()
    assert described_choices(described("string", "formatted as 'YYYY-MM-DD' or 'mm-yyyy', e.g. '5'")) == ()
    assert described_choices(described("string", "as 'City, State', e.g. 'Austin, TX'")) == ()
    assert described_choices({"type": "integer", "description": "e.g. 'ten'"}) == ()


def test_an_optional_parameter_takes_a_described_option_the_command_names() -> None:
    integrate = {
        "type": "object",
        "properties": {
            "function": described("string", "The function, e.g. 'x^3'"),
            "method": described("string", "Choices are 'trapezoid' or 'simpson'. Default is 'trapezoid'."),
            "diets": {"type": "array", "items": {"type": "string"}, "description": "e.g. vegan, tofu."},
        },
        "required": ["function"],
    }
    filled = fill_arguments("integrate 'x^3' by the simpson method, vegan and tofu", integrate)
    assert filled.arguments == {"function": "x^3", "method": "simpson", "diets": ["vegan", "tofu"]}
    # The user's own quoted words are not cut down to an example inside them.
    shopping = {"type": "object", "properties": {"item": described("string", "What to buy, e.g. milk.")}}
    assert fill_arguments("add 'oat milk'", shopping).arguments == {"item": "oat milk"}
    assert fill_arguments("add milk", shopping).arguments == {"item": "milk"}


def test_a_unit_parameter_takes_the_unit_of_the_quantity_it_names() -> None:
    circle = {
        "type": "object",
        "properties": {
            "radius": described("integer", "The radius of the circle."),
            "unit": described("string", "The unit of measurement for the radius. Default is 'cm'."),
        },
        "required": ["radius"],
    }
    filled = fill_arguments("the circumference of a circle with a radius of 4 inches", circle)
    assert filled.arguments == {"radius": 4, "unit": "inches"}
    item = {
        "type": "object",
        "properties": {
            "name": described("string", "What to buy."),
            "quantity": described("number", "How many or how much."),
            "unit": described("string", "The unit of the quantity, e.g. kg or bottles."),
        },
        "required": ["name"],
    }
    assert fill_arguments("put 2 kg of 'apples' on my list", item).arguments == {
        "name": "apples",
        "quantity": 2,
        "unit": "kg",
    }


def test_colours_known_cities_and_counted_things_fill_optional_parameters() -> None:
    rectangle = object_schema(["width", "height"], width="integer", height="integer", color="string")
    filled = fill_arguments(
        "Draw a rectangle with a width of 20 units and height of 10 units in red.", rectangle
    )
    assert filled.arguments == {"width": 20, "height": 10, "color": "red"}
    # A colour is no value for other text, and a capitalised one inside a name stays in the name.
    assert fill_arguments("paint it red", object_schema([], finish="string")).arguments == {}
    assert fill_arguments(
        "identify the shade Sea Green", object_schema(["color_name"], color_name="string")
    ).arguments == {"color_name": "Sea Green"}
    sculptures = object_schema(["artist"], artist="string", location="string")
    filled = fill_arguments("Find sculptures of Michelangelo in Rome.", sculptures)
    assert filled.arguments == {"artist": "Michelangelo", "location": "Rome"}
    history = {
        "type": "object",
        "properties": {
            "century": described("integer", "The century."),
            "count": described("integer", "Number of events to return. Default is 5."),
        },
        "required": ["century"],
    }
    filled = fill_arguments("Find ten major historical events in the 16th century", history)
    assert filled.arguments == {"century": 16, "count": 10}


def test_a_number_in_another_unit_of_the_measured_dimension_is_converted() -> None:
    track = {
        "type": "object",
        "properties": {"track_length": described("integer", "The length of the track in seconds.")},
        "required": ["track_length"],
    }
    assert fill_arguments("a mix with a duration of 3 minutes", track).arguments == {"track_length": 180}
    assert fill_arguments("a mix of 1 hour", track).arguments == {"track_length": 3600}
    assert fill_arguments("a mix of 90 seconds", track).arguments == {"track_length": 90}
    distance = {
        "type": "object",
        "properties": {"distance": described("number", "The distance in kilometers.")},
        "required": ["distance"],
    }
    assert fill_arguments("a run of 5 miles", distance).arguments == {"distance": 8.04672}
    # Temperatures are not converted (offsets, not factors).
    heat = {
        "type": "object",
        "properties": {"temperature": described("number", "The temperature in Kelvin.")},
        "required": ["temperature"],
    }
    assert fill_arguments("water at 25 degrees Celsius", heat).arguments == {"temperature": 25}


def test_a_number_goes_where_its_unit_is_measured_and_prefixed_units_are_converted() -> None:
    entropy = {
        "type": "object",
        "properties": {
            "initial_temp": described("integer", "The initial temperature in Kelvin."),
            "final_temp": described("integer", "The final temperature in Kelvin."),
            "heat_capacity": described("integer", "The heat capacity in J/K."),
        },
        "required": ["initial_temp", "final_temp", "heat_capacity"],
    }
    command = "an initial temperature of 300K, a final temperature of 400K, and a heat capacity of 5J/K"
    assert fill_arguments(command, entropy).arguments == {
        "initial_temp": 300,
        "final_temp": 400,
        "heat_capacity": 5,
    }
    mixing = {
        "type": "object",
        "properties": {
            "mass1": described("integer", "The mass of the first body (kg)."),
            "temperature1": described("integer", "The initial temperature of the first body (Celsius)."),
            "mass2": described("integer", "The mass of the second body (kg)."),
            "temperature2": described("integer", "The initial temperature of the second body (Celsius)."),
        },
        "required": ["mass1", "temperature1", "mass2", "temperature2"],
    }
    command = "20 kg of water at 30 degree Celsius is mixed with 15 kg of water at 60 degree Celsius"
    assert fill_arguments(command, mixing).arguments == {
        "mass1": 20,
        "temperature1": 30,
        "mass2": 15,
        "temperature2": 60,
    }
    circuit = {
        "type": "object",
        "properties": {
            "inductance": described("number", "The inductance in henries."),
            "capacitance": described("number", "The capacitance in farads."),
        },
        "required": ["inductance", "capacitance"],
    }
    filled = fill_arguments("an LC circuit with capacitance of 100µF and inductance of 50mH", circuit)
    assert filled.arguments == {"inductance": 0.05, "capacitance": 0.0001}
    # "5C" is a charge here (coulombs), though "C" is also Celsius.
    force = {
        "type": "object",
        "properties": {
            "charge1": described("integer", "The first charge in coulombs."),
            "charge2": described("integer", "The second charge in coulombs."),
            "distance": described("integer", "The distance in meters."),
        },
        "required": ["charge1", "charge2", "distance"],
    }
    filled = fill_arguments("the force between two charges of 5C and 7C placed 3 meters apart", force)
    assert filled.arguments == {"charge1": 5, "charge2": 7, "distance": 3}


def test_a_number_in_another_dimension_is_no_value_of_the_parameter() -> None:
    bmi = {
        "type": "object",
        "properties": {
            "weight": described("integer", "Weight of the person in kilograms."),
            "height": described("integer", "Height of the person in meters."),
        },
        "required": ["weight", "height"],
    }
    # BFCL irrelevance_0: a triangle's base in meters is no weight in kilograms.
    command = "Calculate the area of a triangle given the base is 10 meters and height is 5 meters."
    filled = fill_arguments(command, bmi)
    assert filled.arguments == {"height": 5} and filled.missing == ["weight"]
    # Another unit of the same dimension, or a unit that is not read, is still a candidate.
    assert fill_arguments("a weight of 70000 g and a height of 2 meters", bmi).arguments == {
        "weight": 70000,
        "height": 2,
    }
    assert other_dimension("meters", units_of("Weight in kilograms"))
    assert not other_dimension("g", units_of("Weight in kilograms"))
    assert not other_dimension("C", units_of("The temperature in Celsius"))  # also a charge: one fits
    assert not other_dimension("m/s", units_of("The speed in km"))  # not read: no verdict
    assert other_dimension("meters", units_of("The area in square meters"))  # a length is no area


def test_cue_words_match_abbreviations_misspellings_and_not_across_and() -> None:
    motion = object_schema(
        ["initial_velocity", "time"], initial_velocity="integer", time="integer", acceleration="number"
    )
    command = "the displacement given the initial velocity of 10 and acceleeration of 9.8 within 5 seconds"
    assert fill_arguments(command, motion).arguments == {
        "initial_velocity": 10,
        "time": 5,
        "acceleration": 9.8,
    }
    weather = object_schema(["temp"], temp="integer")
    assert fill_arguments("a temperature of 21", weather).arguments == {"temp": 21}
    movies = object_schema([], directed_by="string", cast="string")
    command = "movies with David Leitch as the director and include Alex King in the cast"
    assert fill_arguments(command, movies).arguments == {"directed_by": "David Leitch", "cast": "Alex King"}


def test_units_are_read_with_every_meaning_they_may_have() -> None:
    assert readings("meters") == {("meter", 1.0)}
    assert readings("C") == {("celsius", 1.0), ("coulomb", 1.0)}
    assert readings("mH") == {("henry", 0.001)}
    assert readings("square feet") == {("square foot", 1.0)}
    assert readings("degree Celsius") == {("celsius", 1.0)}
    assert readings("apples") == frozenset()
    assert units_of("The area in square feet a gallon covers.") == {("square foot", 1.0)}
    assert units_of("A value in J/K.") == {("joule", 1.0), ("kelvin", 1.0)}
    assert units_of("Vitamin C content of a meal") == frozenset()  # a capital that names a thing


def test_dates_the_command_states_and_weekdays_counted_from_the_today_it_states() -> None:
    assert kinds("at closing March.11, 2022 and Jun.20,2023, from 15th October,2023") == [
        ("date", "2022-03-11"),
        ("date", "2023-06-20"),
        ("date", "2023-10-15"),
    ]
    assert kinds("next month (April 2022)") == [("date", "2022-04")]
    # The year first, and a day without a year after a date with one: of that date's year.
    assert kinds("from 2023 April 4th to April 8th") == [("date", "2023-04-04"), ("date", "2023-04-08")]
    assert kinds("from March 3, 2023 to April 8th") == [("date", "2023-03-03"), ("date", "2023-04-08")]
    assert kinds("you may 2023") == [("number", 2023)]  # "may" is no month in lower case
    # "today April 25th 2023" is one date, and it is what today means.
    assert kinds("the forecast for today April 25th 2023") == [("date", "2023-04-25")]
    # A weekday counts from the weekday the command says today is (BFCL's reading, not the calendar's).
    assert kinds("on the upcoming Wednesday, today is Monday April 25th 2023") == [
        ("date", "2023-04-27"),
        ("date", "2023-04-25"),
    ]
    assert kinds("meet on Monday") == [("date", "2024-05-13")]  # TODAY is Friday 2024-05-10
    # A weekday written beside its date is that date.
    assert [v for k, v in kinds("this coming Saturday 2023-09-30") if k == "date"] == ["2023-09-30"]


@pytest.mark.parametrize(
    ("iso", "description", "written"),
    [
        ("2021-01-01", "in the format of MM-DD-YYY.", "01-01-2021"),
        ("2022-08-16", "The date (month-day-year) you want.", "08-16-2022"),
        ("2022-04", "Date in 'mm-yyyy' format.", "04-2022"),
        ("2024-03-16", "in the format of 'dd/mm/yyyy'", "16/03/2024"),
        ("2022-04", "Format: yyyy-mm-dd", "2022-04"),  # no day to write: ISO year-month
        ("2023-01-05", "The day of the meeting.", "2023-01-05"),
    ],
)
def test_a_date_is_written_in_the_template_its_description_gives(
    iso: str, description: str, written: str
) -> None:
    command = {"2022-04": "in April 2022"}.get(iso, f"on {iso}")
    schema = {
        "type": "object",
        "properties": {"date": described("string", description)},
        "required": ["date"],
    }
    assert fill_arguments(command, schema, today=TODAY).arguments == {"date": written}


def test_a_switch_is_set_only_where_the_command_names_it_whole() -> None:
    tax = {
        "type": "object",
        "properties": {
            "purchase_amount": described("number", "The amount."),
            "state": described("string", "The U.S. state abbreviation, such as 'CA' for California."),
            "tax_exempt": described("boolean", "Whether the purchase is exempt."),
            "private_visibility": described("boolean", "Whether the payment is private."),
            "consider_terrain": described("boolean", "Whether to account for terrain."),
        },
        "required": ["purchase_amount", "state"],
    }
    filled = fill_arguments("I made a purchase for $250 in California. How much is the sales tax?", tax)
    assert filled.arguments == {"purchase_amount": 250, "state": "CA"}  # "tax" alone is no exemption
    filled = fill_arguments("a private payment of $250 in Texas accounting for terrain", tax)
    assert filled.arguments == {
        "purchase_amount": 250,
        "state": "TX",
        "private_visibility": True,
        "consider_terrain": True,
    }
    weather = {
        "type": "object",
        "properties": {
            "city": described("string", "The city."),
            "country": described("string", "The country. Use ISO 3166-1 alpha-2 country codes."),
        },
        "required": ["city", "country"],
    }
    assert fill_arguments("the weather for London in the UK", weather).arguments == {
        "city": "London",
        "country": "GB",
    }


def test_identifiers_mix_letters_and_digits_and_fill_id_parameters() -> None:
    command = "building Id B1004, SNP ID rs6034464, product SK123 or 12345XYZ"
    assert [v for k, v in kinds(command) if k == "identifier"] == ["B1004", "rs6034464", "SK123", "12345XYZ"]
    # Quantities, ordinals, counts with a hyphen, exponents, chemical formulas and clock times are not.
    command = "a 6cm side at 300K, the 16th, a 2-bedroom flat, 1e-9, C6H12O6 and 5:30pm"
    assert [v for k, v in kinds(command) if k == "identifier"] == []
    assert fill_arguments(
        "the building with building Id B1004", object_schema(["building_id"], building_id="string")
    ).arguments == {"building_id": "B1004"}
    gas = object_schema(["quantity1", "temperature1"], quantity1="integer", temperature1="integer")
    gas["properties"]["quantity1"]["description"] = "The quantity of the gas in moles."  # type: ignore[index]
    gas["properties"]["temperature1"]["description"] = "The temperature in Kelvin."  # type: ignore[index]
    assert fill_arguments("2 moles of gas at 300 K", gas).arguments == {"quantity1": 2, "temperature1": 300}


def test_days_without_a_year_journeys_and_names_with_particles() -> None:
    # A day with no year is the next such day (TODAY is 2024-05-10), or of the year the command says today is.
    assert kinds("on April 15th") == [("date", "2025-04-15")]
    assert kinds("on the 4th of July") == [("date", "2024-07-04")]
    assert kinds("on March 13th, today is 2023.3.1") == [("date", "2023-03-13"), ("date", "2023-03-01")]
    assert kinds("may 5 people come") == [("number", 5)]
    assert kinds("directed by Guillermo del Toro") == [("name", "Guillermo del Toro")]
    assert kinds("what is on Wednesday") == [("date", "2024-05-15")]  # the next Wednesday, not a name
    flight = object_schema(
        ["origin_airport", "destination_airport"], origin_airport="string", destination_airport="string"
    )
    filled = fill_arguments("fly roundtrip from Atlanta, GA to Boston, MA", flight)
    assert filled.arguments == {"origin_airport": "Atlanta", "destination_airport": "Boston"}
    train = object_schema(["to", "date"], to="string", date="string")
    filled = fill_arguments("a train to Phoenix, AZ", train)
    assert filled.arguments == {"to": "Phoenix"} and filled.missing == ["date"]  # "AZ" is no date
    house = object_schema([], has_garage="boolean")
    assert fill_arguments("I don't care about garage space", house).arguments == {"has_garage": False}


def test_a_preposition_in_a_name_cues_nothing_and_a_comma_ends_a_clause() -> None:
    # "period_in_years" is no cue for "in": "$3000 in a period of 4 years" gave the period 3000.
    invest = object_schema(["amount", "period_in_years"], amount="integer", period_in_years="integer")
    filled = fill_arguments("Invest an amount of $3000 in a period of 4 years.", invest)
    assert filled.arguments == {"amount": 3000, "period_in_years": 4}
    # A cue past a comma belongs to the next clause: "'PrimaryDB', host is ..." does not make
    # 'PrimaryDB' the host (it did, and the nickname took the address).
    server = object_schema(["nickname", "host", "port"], nickname="string", host="string", port="integer")
    command = "The nickname will be 'PrimaryDB', host is '192.168.0.12', port is 5432"
    assert fill_arguments(command, server).arguments == {
        "nickname": "PrimaryDB",
        "host": "192.168.0.12",
        "port": 5432,
    }
    fruit = object_schema(["apples", "pears"], apples="integer", pears="integer")
    assert fill_arguments("Buy the apples: 20, pears 5", fruit).arguments == {"apples": 20, "pears": 5}


def test_glosses_units_after_numbers_and_the_tools_own_name_are_no_values() -> None:
    # An acronym's spelled-out form names the same thing: it is no second value (it filled the
    # species of a mutation lookup).
    names = [v for k, v in kinds("based on SNP (Single Nucleotide Polymorphism) ID rs6034464") if k == "name"]
    assert "SNP" in names and "Single Nucleotide Polymorphism" not in names
    names = [v for k, v in kinds("the Gross Domestic Product (GDP) of France") if k == "name"]
    assert names == ["GDP", "France"]
    # Capitals right after a number are its unit, unless the number is a year.
    assert ("name", "BPM") not in kinds("a tempo of 120 BPM in C")
    assert ("name", "NBA") in kinds("the 2023 NBA finals")
    # A lower-case noun of geography ends a place's name.
    assert ("name", "Amazon rainforest") in kinds("rainfall in the Amazon rainforest last year")
    # The tool's own name is what the command is about, not a value of it.
    schisms = object_schema(["religion", "count"], religion="string", count="integer")
    command = "What are the three great Schism in Christianity history?"
    assert fill_arguments(command, schisms).arguments["religion"] == "Schism"
    filled = fill_arguments(command, schisms, tool_name="religion_history.get_schisms")
    assert filled.arguments == {"religion": "Christianity", "count": 3}
    score = object_schema(["game_name", "site"], game_name="string", site="string")
    filled = fill_arguments("user score of 'Hades' from GameSpot", score, tool_name="gamespot.getUserScore")
    assert filled.arguments == {"game_name": "Hades"} and filled.missing == ["site"]


def test_a_written_name_owns_its_words_and_and_ends_a_clause() -> None:
    # "final value" is final_value's name: its "value" does not cue initial_value too.
    growth = object_schema(["initial_value", "final_value"], initial_value="integer", final_value="integer")
    filled = fill_arguments("an initial deposit of $500, final value of $800", growth)
    assert filled.arguments == {"initial_value": 500, "final_value": 800}
    # A cue after an "and" opens the next clause; "two set of" counts, it is no alpha.
    test = object_schema(["dataset_A", "dataset_B"], dataset_A="array", dataset_B="array")
    test["properties"]["alpha"] = {"type": "number", "description": "Significance level of the test."}  # type: ignore[index]
    command = (
        "Find the significance between two set of values, dataset_A with the values 1, 2, 3 and dataset_B"
        " with the values 4, 5, 6."
    )
    assert fill_arguments(command, test).arguments == {"dataset_A": [1, 2, 3], "dataset_B": [4, 5, 6]}
    # "user" names the username (a compound of it), not the platform "the user plays on".
    stats = object_schema(["game", "username"], game="string", username="string")
    stats["properties"]["platform"] = {"type": "string", "description": "The platform user is playing on."}  # type: ignore[index]
    filled = fill_arguments("Fetch statistics of 'Hades' for user 'Ann'", stats)
    assert filled.arguments == {"game": "Hades", "username": "Ann"}
    # A country named as one fills the country, not the companies' names.
    case = object_schema(["company1", "company2"], company1="string", company2="string", country="string")
    filled = fill_arguments("the latest court case between Sony and Nintendo filed in UK", case)
    assert filled.arguments == {"company1": "Sony", "company2": "Nintendo", "country": "UK"}


def test_the_article_a_names_no_choice_a() -> None:
    dna = {
        "type": "object",
        "properties": {
            "length": {"type": "integer"},
            "preferences": {"type": "array", "items": {"type": "string", "enum": ["A", "T", "C", "G"]}},
        },
        "required": ["length"],
    }
    filled = fill_arguments("Generate a sequence of 50 bases with more G and C", dna)
    assert filled.arguments == {"length": 50, "preferences": ["G", "C"]}
    assert fill_arguments("more A than T in 10 bases", dna).arguments["preferences"] == ["A", "T"]


def test_a_switch_abbreviated_a_nationality_and_a_numbered_name() -> None:
    # "include_stats", described as "... statistics": "Include its statistics" sets it.
    match = object_schema(["team_name"], team_name="string")
    match["properties"]["include_stats"] = {  # type: ignore[index]
        "type": "boolean",
        "description": "Whether to include match statistics.",
    }
    filled = fill_arguments("Get the last game of Arsenal. Include its statistics.", match)
    assert filled.arguments == {"team_name": "Arsenal", "include_stats": True}
    assert fill_arguments("Get the last game of Arsenal and its status", match).arguments == {
        "team_name": "Arsenal"
    }
    # A nationality names its country, for a country parameter only.
    events = object_schema(["country", "start_year"], country="string", start_year="integer")
    filled = fill_arguments("key events in Italian history since 1861", events)
    assert filled.arguments == {"country": "Italy", "start_year": 1861}
    dish = object_schema(["cuisine"], cuisine="string")
    assert fill_arguments("a recipe of Italian food", dish).arguments == {"cuisine": "Italian"}
    # side3's "3" cues it in "side 3 is 5", not in "sides: 3, 4 and 5".
    triangle = object_schema(["side1", "side2", "side3"], side1="integer", side2="integer", side3="integer")
    command = "a triangle with three sides: 3, 4, and 5"
    assert fill_arguments(command, triangle).arguments == {"side1": 3, "side2": 4, "side3": 5}
    command = "a triangle where side 3 is 5, side 1 is 3 and side 2 is 4"
    assert fill_arguments(command, triangle).arguments == {"side1": 3, "side2": 4, "side3": 5}


def test_a_numbers_own_digits_cue_nothing_and_a_kind_is_the_word_before_its_thing() -> None:
    # The "1" and "e" of "1e-9" are no cues (charge1, a constant "e"), and "two charged bodies" counts.
    charges = object_schema(
        ["charge1", "charge2", "distance"], charge1="number", charge2="number", distance="number"
    )
    charges["properties"]["constant"] = {"type": "number", "description": "The constant e, default 8.99e9."}  # type: ignore[index]
    command = "the potential between two charged bodies of 1e-9 and 2e-9 at a distance of 0.05"
    assert fill_arguments(command, charges).arguments == {"charge1": 1e-9, "charge2": 2e-9, "distance": 0.05}
    # "a luxury room" gives the room_type; a word of the tool's own name does not.
    booking = object_schema(["hotel_name", "room_type"], hotel_name="string", room_type="string")
    filled = fill_arguments("Book a luxury room at the Ritz", booking, tool_name="book_room")
    assert filled.arguments == {"hotel_name": "Ritz", "room_type": "luxury"}
    room = object_schema(["room_type"], room_type="string")
    assert fill_arguments("Book a hotel room", room, tool_name="hotel.book").missing == ["room_type"]
    assert fill_arguments("Book a hotel room", room).arguments == {"room_type": "hotel"}
    # A kind among choices is a choice; a word after a hyphen is half a compound.
    events = {
        "type": "object",
        "properties": {"event_type": {"type": "string", "enum": ["Music", "Theater"]}},
        "required": ["event_type"],
    }
    assert fill_arguments("an interesting event: a Theater event", events).arguments == {
        "event_type": "Theater"
    }
    vehicle = object_schema(["vehicle_type"], vehicle_type="string")
    assert fill_arguments("a gas-powered vehicle", vehicle).arguments == {}


def test_units_as_described_years_titles_and_listed_names() -> None:
    # A unit in the spelling the description offers.
    distance = object_schema(["start"], start="string")
    distance["properties"]["units"] = {"type": "string", "description": "Units ('miles' or 'kilometers')."}  # type: ignore[index]
    assert fill_arguments("how far is it from Boston in mile?", distance).arguments["units"] == "miles"
    weather = object_schema(["city"], city="string")
    weather["properties"]["measurement"] = {  # type: ignore[index]
        "type": "string",
        "description": "Which unit to display the temperature in, 'c' for Celsius, 'f' for Fahrenheit.",
    }
    filled = fill_arguments("Is the temperature in Fahrenheit in the city of Oslo high?", weather)
    assert filled.arguments == {"city": "Oslo", "measurement": "f"}
    # A year-shaped number is its own evidence for an optional year, one written as text too.
    turtles = object_schema(["location"], location="string", year="integer")
    assert fill_arguments("turtles in Lake Tahoe in 2020", turtles).arguments == {
        "location": "Lake Tahoe",
        "year": 2020,
    }
    density = object_schema(["country", "year"], country="string", year="string")
    assert fill_arguments("the density of Brazil in 2022", density).arguments == {
        "country": "Brazil",
        "year": "2022",
    }
    # A first word that names the tool is a title, before a person's name only.
    lawyer = object_schema(["name"], name="string")
    filled = fill_arguments("the experience of Lawyer Jane Roe", lawyer, tool_name="lawyer.get_experience")
    assert filled.arguments == {"name": "Jane Roe"}
    battle = object_schema(["battle"], battle="string")
    filled = fill_arguments("details of the Battle of Hastings", battle, tool_name="battle_details")
    assert filled.arguments == {"battle": "Battle of Hastings"}
    # Names listed after a list parameter's name fill it, and no other parameter.
    route = object_schema(["start", "end"], start="string", end="string")
    route["properties"]["stops"] = {"type": "array", "items": {"type": "string"}}  # type: ignore[index]
    filled = fill_arguments("from Paris to Rome with stops at Lyon, Turin and Milan", route)
    assert filled.arguments == {"start": "Paris", "end": "Rome", "stops": ["Lyon", "Turin", "Milan"]}


def test_a_unit_fits_the_dimension_a_name_says_and_the_second_sample_is_no_time() -> None:
    # "the second sample" read as seconds had made every number with a unit misfit quantity2.
    names = [f"{what}{n}" for n in (1, 2) for what in ("quantity", "temperature")]
    gas = object_schema(names, **dict.fromkeys(names, "integer"))
    for name in names:
        order = "first" if name.endswith("1") else "second"
        gas["properties"][name]["description"] = f"The {name[:-1]} of the {order} sample of gas."  # type: ignore[index]
    command = "the final temperature when 2 moles of gas at 300 K mix with 3 moles at 400 K"
    filled = fill_arguments(command, gas).arguments
    assert filled == dict(zip(names, [2, 300, 3, 400], strict=True))
    assert units_of("The quantity of the second sample") == frozenset()
    assert units_of("Time in seconds") != frozenset()


def test_a_blank_quote_beside_the_tools_name_is_no_crash() -> None:
    # The title rule splits names; a quoted blank ("'  '") is no name and has no first word.
    note = object_schema(["text"], text="string")
    filled = fill_arguments("send '  ' to Lawyer Jane Roe", note, tool_name="lawyer.send")
    assert filled.arguments == {"text": ""}  # the quote, as written (stripped), not the name


def test_days_and_weeks_convert_like_other_times() -> None:
    schema = {
        "type": "object",
        "properties": {"days": {"type": "integer", "description": "Number of days of the forecast."}},
        "required": ["days"],
    }
    assert fill_arguments("the forecast for 2 weeks", schema).arguments == {"days": 14}
    assert fill_arguments("the forecast for 5 days", schema).arguments == {"days": 5}
    assert kinds("releases for the next week") == [("duration", 1)]
    # The fast path reads "the next week" as grounding offers it: 7 to a parameter counted in days.
    assert fill_arguments("the forecast for the next week", schema).arguments == {"days": 7}
    count = {"type": "object", "properties": {"count": {"type": "integer"}}, "required": ["count"]}
    assert fill_arguments("the next week", count).arguments == {}  # no time counted: no value
    volts = {"type": "object", "properties": {"voltage": {"type": "integer", "description": "In volts."}}}
    assert fill_arguments("charge it at 2kV", volts).arguments == {"voltage": 2000}  # a prefix converts


def test_a_body_that_starts_at_rest_has_a_starting_speed_of_0() -> None:
    schema = {
        "type": "object",
        "properties": {
            "initial_velocity": {"type": "number", "description": "The initial velocity in m/s."},
            "acceleration": {"type": "number", "description": "The acceleration in m/s^2."},
            "time": {"type": "number", "description": "The time in seconds."},
        },
        "required": ["initial_velocity", "acceleration", "time"],
    }
    command = "The final velocity of a car that started from rest and accelerated at 3 m/s^2 for 4 seconds"
    assert fill_arguments(command, schema).arguments == {"initial_velocity": 0, "acceleration": 3, "time": 4}
    assert kinds("an object dropped from a height") == [("rest", 0)]
    assert kinds("a train at a standstill") == [("rest", 0)]
    # A number said for the starting speed wins; a speed that is not the starting one is not 0.
    said = "A ball dropped with an initial velocity of 5 m/s, accelerating at 2 m/s^2 for 3 seconds"
    assert fill_arguments(said, schema).arguments["initial_velocity"] == 5
    final = {
        "type": "object",
        "properties": {"final_speed": {"type": "number"}, "time": {"type": "number"}},
        "required": ["final_speed", "time"],
    }
    assert "final_speed" not in fill_arguments("from rest for 3 seconds", final).arguments
