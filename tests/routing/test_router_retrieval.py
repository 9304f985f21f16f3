"""Router(max_tools=k): only the k most similar tools reach the prompt; validation knows them all."""

from __future__ import annotations

import pytest

from funcroute import ToolSet
from funcroute.backends.scripted import ScriptedBackend
from funcroute.routing.router import Router

TOPICS = [
    ("get_weather", "Get the current weather forecast for a city."),
    ("send_email", "Send an e-mail message to a recipient."),
    ("convert_currency", "Convert an amount of money from one currency to another."),
    ("book_flight", "Book a flight ticket between two airports."),
    ("translate_text", "Translate text into another language."),
    ("play_music", "Play a song or playlist on the speaker."),
    ("set_alarm", "Set an alarm clock for a given time."),
    ("find_restaurant", "Find restaurants nearby serving a cuisine."),
    ("calculate_tax", "Calculate income tax for a salary."),
    ("track_package", "Track the delivery status of a parcel."),
]


def catalog() -> ToolSet:
    tools = ToolSet()
    for name, description in TOPICS:

        def handler(query: str) -> str:
            return query

        tools.add_function(handler, name=name, description=description)
    return tools


def test_only_the_k_most_similar_tools_are_rendered(
    tmp_path: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FUNCROUTE_CACHE_DIR", str(tmp_path))
    tools = catalog()
    backend = ScriptedBackend(['{"function": "get_weather", "params": {"query": "Paris"}}'])
    router = Router(tools, backend, max_tools=3)
    result = router.route("Will it rain in Paris tomorrow? I need the forecast.")
    prompt = backend.prompts[0]
    rendered = [name for name, _ in TOPICS if f"\n{name}:\n" in prompt]
    assert len(rendered) == 3 and "get_weather" in rendered
    assert result.value == "Paris"


def test_a_call_to_a_tool_not_shown_still_validates() -> None:
    tools = catalog()
    router = Router(
        tools,
        ScriptedBackend(['{"function": "set_alarm", "params": {"query": "7am"}}']),
        tool_selector=lambda command: ["get_weather"],
    )
    assert router.route("wake me").value == "7am"


def test_small_catalogs_never_load_the_encoder(monkeypatch: pytest.MonkeyPatch) -> None:
    import funcroute.offline.retrieval

    def explode(*args: object, **kwargs: object) -> None:
        raise AssertionError("the encoder was loaded for a catalog that fits")

    monkeypatch.setattr(funcroute.offline.retrieval, "ToolIndex", explode)
    backend = ScriptedBackend(['{"function": "get_weather", "params": {"query": "x"}}'])
    Router(catalog(), backend, max_tools=20).route("weather")
    assert all(f"\n{name}:\n" in backend.prompts[0] for name, _ in TOPICS)
