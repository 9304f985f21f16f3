"""Two names a command relates ("from X to Y", "between X and Y")."""

from __future__ import annotations

import pytest

from funcroute.offline.relations import related_pair


@pytest.mark.parametrize(
    ("command", "pair"),
    [
        ("What is the fastest route from Los Angeles to New York?", ("Los Angeles", "New York")),
        ("What is the time difference between Los Angeles and Berlin?", ("Los Angeles", "Berlin")),
        ("How far is it from the Eiffel Tower to the Louvre?", ("Eiffel Tower", "Louvre")),
        # a name written with its region is one end
        ("Book a flight from New York, NY to Paris on Monday", ("New York", "Paris")),
        ("Translate 'Hello' from English to French.", ("English", "French")),
    ],
)
def test_two_names_the_command_relates(command: str, pair: tuple[str, str]) -> None:
    assert related_pair(command) == pair


@pytest.mark.parametrize(
    "command",
    [
        "What is the weather in Los Angeles?",
        "Find restaurants in London from 5 to 7 pm",  # no names at both ends
        "Who played for Barcelona from 2004 to 2021?",
        "Drive from Boston through Hartford to New York",  # something else between the ends
        "Compare Boston and Chicago",  # no opener
    ],
)
def test_no_pair_without_both_names_around_from_to_or_between_and(command: str) -> None:
    assert related_pair(command) is None
