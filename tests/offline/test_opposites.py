"""A tool named for one end of a pair of opposites clashes with a command that asks for the other."""

from __future__ import annotations

import pytest

from funcroute.offline.opposites import clash


@pytest.mark.parametrize(
    ("function", "command"),
    [
        ("calculate_sunrise", "When will be sunset in Beijing today?"),
        ("calculus.compute_definite_integral", "Compute the derivative of the function '2x' at 1."),
        ("thermodynamics.calculate_boiling_point", "What is the freezing point of water at 10 kPa?"),
        ("calculate_internal_rate_of_return", "What is the external rate of return for these flows?"),
        ("game_tracker.high_score", "What's the lowest score in the Flappy Bird game?"),
        ("stocks.buyShares", "Sell 10 shares of Apple"),  # camel case and plurals are read too
    ],
)
def test_a_tool_for_the_opposite_of_what_is_asked_clashes(function: str, command: str) -> None:
    assert clash(function, command)


@pytest.mark.parametrize(
    ("function", "command"),
    [
        ("calculate_sunrise", "When is sunrise in Beijing?"),
        ("calculate_sunrise", "Give me the sunrise and sunset times for Paris"),  # it says both
        ("calculate_sunrise", "What is the weather in Beijing?"),
        ("get_weather", "When will be sunset in Beijing today?"),
        ("find_max", "the max of 3, 4 and 5"),
    ],
)
def test_a_tool_that_asks_for_what_is_said_or_nothing_opposite_does_not(function: str, command: str) -> None:
    assert clash(function, command) == ""


def test_the_reason_names_both_words() -> None:
    assert clash("calculate_sunrise", "When is sunset?") == (
        "'calculate_sunrise' is for 'sunrise', and the command asks for 'sunset'"
    )
