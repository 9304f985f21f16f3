"""A tool named for one measure clashes with a command that asks for another and never says it."""

from __future__ import annotations

import pytest

from funcroute.evaluation import load_bfcl
from funcroute.evaluation.cases import bfcl_dir
from funcroute.offline.measures import asked_measure, other_measure

#: The BFCL categories with expected calls the measures rule is checked against (2,351 commands).
GROUND_TRUTH = (
    "simple_python",
    "multiple",
    "live_simple",
    "live_multiple",
    "parallel",
    "parallel_multiple",
    "live_parallel",
    "live_parallel_multiple",
)


@pytest.mark.parametrize(
    ("function", "command"),
    [
        ("calculate_maximum_height", "What is the acceleration a ball reaches thrown up at 5 m/s?"),
        ("calculate_park_area", "Calculate the volume of the sphere with radius 3 units."),
        ("get_date", "Find the distance in kilometers from San Francisco to Los Angeles."),
        ("calculate_mortgage_payment", "Calculate the compounded interest on $10000 at 5% for 3 years"),
        ("investment_analysis.calculate_profit", "What is the rate of return with $15000 revenue?"),
        ("calculate_ROI", "Calculate the profit margin with revenue of $200,000"),  # camel case
        # the p-value is a measure of its own, split into "p" and "value" on both sides
        ("statistics.calculate_p_value", "Calculate the standard deviation of a test with a mean of 98.2"),
        ("hypothesis_testing.get_p_value", "What is the mean of 50 successes out of 500 trials?"),
    ],
)
def test_a_tool_for_another_measure_than_the_one_asked_clashes(function: str, command: str) -> None:
    assert other_measure(function, command)


@pytest.mark.parametrize(
    ("function", "command"),
    [
        ("calculate_park_area", "Calculate the area of a park with radius 3 units."),
        # a synonym of the tool's measure is the same measure
        ("calculate_final_speed", "What is the final velocity of a car starting at 5 m/s?"),
        ("calculate_maximum_height", "What is the distance a ball thrown up at 5 m/s rises?"),
        # the command says the tool's measure, even where it asks for another first
        ("calculate_park_area", "Find the volume and the area of a park"),
        # a request for no measure, or a tool named for none
        ("hypothesis_testing.get_p_value", "What is the p-value of 50 successes out of 500 trials?"),
        ("statistics.calculate_p_value", "Calculate the p value of a test with a sample mean of 98.2"),
        ("calculate_maximum_height", "How high will a ball go thrown up with a velocity of 5 m/s?"),
        ("projectile_motion", "What is the acceleration of a ball thrown up at 5 m/s?"),
        # a written date says the measure "date"
        ("weather.get_by_coordinates_date", "What is the wind speed at 46.6,1.88 on December 13, 2019?"),
        ("weather.get_by_coordinates_date", "What is the wind speed at 46.6,1.88 tomorrow?"),
    ],
)
def test_a_tool_for_the_measure_asked_or_for_none_does_not(function: str, command: str) -> None:
    assert other_measure(function, command) == ""


def test_the_measure_asked_is_the_first_within_reach_of_the_request() -> None:
    assert asked_measure("What is the rate of return for a business?") == "return"
    assert asked_measure("Calculate the final velocity given a height of 5 m") == "velocity"
    assert asked_measure("Given a height of 5 m, what is the final velocity?") == "velocity"
    assert asked_measure("What will the weather be like in Paris, with its high temperature?") is None
    assert asked_measure("How high will it go?") is None


def test_the_reason_names_both_measures() -> None:
    assert other_measure("get_date", "Find the distance from A to B") == (
        "'get_date' is for 'date', and the command asks for 'distance'"
    )


@pytest.mark.skipif(
    not (bfcl_dir() / "BFCL_v4_simple_python.json").exists(), reason="the BFCL corpus is not available"
)
def test_no_expected_call_of_bfcl_is_for_another_measure() -> None:
    cases = [case for category in GROUND_TRUTH for case in load_bfcl(category)]
    calls = [(case, call) for case in cases for call in case.expected]
    clashes = [(case.id, other_measure(call.function, case.input)) for case, call in calls]
    assert len(calls) == 3_152  # every expected call of a parallel case counts
    assert [clash for clash in clashes if clash[1]] == []
