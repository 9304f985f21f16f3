"""Two names a command relates ("from X to Y", "between X and Y")."""

from __future__ import annotations

import pytest

from funcroute.evaluation import load_bfcl
from funcroute.evaluation.cases import bfcl_dir
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


@pytest.mark.skipif(
    not (bfcl_dir() / "BFCL_v4_simple_python.json").exists(), reason="the BFCL corpus is not available"
)
def test_bfcl_expected_calls_use_both_names_a_command_relates_but_two() -> None:
    """The module's count: 68 single-call commands relate two names; 66 expected calls use both."""
    categories = ("simple_python", "multiple", "live_simple", "live_multiple")
    cases = [case for category in categories for case in load_bfcl(category)]
    related = [(case, pair) for case in cases if (pair := related_pair(case.input)) is not None]
    assert len(related) == 68
    halves = []
    for case, pair in related:
        text = " ".join(_texts([call.params for call in case.expected])).lower()
        if sum(end.lower() in text for end in pair) == 1:
            halves.append(case.id)
    assert halves == ["live_simple_234-123-1", "live_multiple_507-149-4"]


def _texts(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _texts(item)]
    if isinstance(value, (list, tuple)):
        return [text for item in value for text in _texts(item)]
    return []
