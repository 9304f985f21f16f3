"""The rest of a new user's first hour: definitions, prompts, refusals and the test helpers."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Literal

import pytest
from pydantic import Field

from funcroute import ToolSet
from funcroute.backends.base import Completion, Request
from funcroute.backends.scripted import FunctionBackend
from funcroute.errors import CallValidationError, ToolDefinitionError
from funcroute.routing.router import Router
from funcroute.testing import assert_calls


class Door(str, Enum):
    front = "front"
    back = "back"


def test_a_default_that_does_not_fit_its_annotation_is_a_definition_error() -> None:
    tools = ToolSet()
    with pytest.raises(ToolDefinitionError) as caught:

        @tools.tool
        def bad(n: int = "three", k: Literal["a", "b"] = "c", m: float = Field(-1.0, gt=0)) -> None:  # type: ignore[assignment]
            """A tool with wrong defaults."""

    problems = "\n".join(caught.value.problems)
    assert "'n': the default 'three' does not fit its type" in problems
    assert "'k': the default 'c'" in problems and "'m': the default -1.0" in problems

    @tools.tool
    def fine(n: int = 3, s: str = None, x: float = 1, doors: list[Door] = [Door.front]) -> None:  # type: ignore[assignment]  # noqa: B006, RUF013
        """Python's own idioms: None for "not given", an int for a float, enum members."""

    assert "fine" in tools


def test_lists_of_choices_render_their_choices() -> None:
    tools = ToolSet()

    @tools.tool
    def lock(
        doors: Annotated[list[Door], Field(description="The doors to lock.")],
        days: list[Literal["mon", "tue"]] | None = None,
    ) -> None:
        """Lock doors."""

    prompt = tools.prompt("lock up")
    assert 'doors: The doors to lock. One or more of "front", "back".' in prompt
    assert 'days: days One or more of "mon", "tue".' in prompt


class _Deterministic(FunctionBackend):
    deterministic = True


def test_a_deterministic_backend_is_asked_once() -> None:
    tools = ToolSet()

    @tools.tool
    def work(n: int) -> int:
        """Work."""
        return n

    seen: list[Request] = []

    def reply(request: Request) -> Completion:
        seen.append(request)
        return Completion('{"function": "work", "params": {"n": "many"}}')

    with pytest.raises(CallValidationError) as caught:
        Router(tools, _Deterministic(reply), max_retries=2).route("work on many")
    assert len(seen) == 1 and len(caught.value.attempts) == 1  # not three identical answers
    seen.clear()
    with pytest.raises(CallValidationError):
        Router(tools, FunctionBackend(reply), max_retries=2).route("work on many")
    assert len(seen) == 3  # a model may fix its mistake: it is asked again


def test_scores_and_thresholds_show_the_digits_that_differ() -> None:
    pytest.importorskip("numpy")
    from funcroute.offline.selector import _distinct

    assert _distinct(0.3287, 0.33) == ("0.329", "0.330")
    assert _distinct(0.12, 0.33) == ("0.12", "0.33")


def _weather() -> ToolSet:
    tools = ToolSet()

    @tools.tool
    def get_weather(city: str, unit: str = "celsius") -> str:
        """Weather."""
        return city

    @tools.tool
    def get_time(zone: str) -> str:
        """Time."""
        return zone

    return tools


def test_a_misspelled_expected_keyword_says_no_such_parameter() -> None:
    reply = '{"function": "get_weather", "params": {"city": "Paris"}}'
    with pytest.raises(AssertionError) as caught:
        assert_calls(reply, _weather(), "get_weather", cty="Paris")
    assert "cty: no such parameter of 'get_weather' (its parameters: city, unit)" in str(caught.value)


def test_the_wrong_function_diff_shows_the_actual_arguments() -> None:
    reply = '{"function": "get_time", "params": {"zone": "CET"}}'
    with pytest.raises(AssertionError) as caught:
        assert_calls(reply, _weather(), "get_weather", city="Paris")
    text = str(caught.value)
    assert "function: expected 'get_weather', got 'get_time'" in text
    assert '+     "zone": "CET"' in text and "not compared" not in text
