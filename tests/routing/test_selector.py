"""The selector seam: the Router dispatches, audits and batches whatever a Selector chooses."""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

import pytest

from funcroute import ToolSet
from funcroute.backends.base import Completion, Request
from funcroute.backends.scripted import FunctionBackend, ScriptedBackend
from funcroute.errors import BackendError, NoSuitableFunctionError, OutputParseError, UsageError
from funcroute.routing.llm import LLMSelector
from funcroute.routing.router import Router
from funcroute.routing.selector import Selection, Selector


def _tools(ran: list[str]) -> ToolSet:
    tools = ToolSet()

    @tools.tool
    def get_weather(city: str) -> str:
        """Get the current weather for a city."""
        ran.append(city)
        return f"sunny in {city}"

    @tools.tool
    def play_music(genre: str) -> str:
        """Play music of a genre."""
        ran.append(genre)
        return f"playing {genre}"

    return tools


class KeywordSelector(Selector):
    """A selector of our own: no model, no prompt; the Router must treat it like any other."""

    name = "keyword"
    deterministic = True

    def __init__(self) -> None:
        self.seen: list[str] = []

    def select(self, tools: ToolSet, command: str) -> Selection:
        self.seen.append(command)
        if "weather" in command:
            city = command.rsplit(" ", 1)[-1]
            return Selection(
                tools.validate("get_weather", {"city": city}), path="keyword", reason="said weather"
            )
        raise NoSuitableFunctionError(command, "no keyword I know")


def test_a_custom_selector_is_dispatched_audited_and_batched_by_the_router() -> None:
    ran: list[str] = []
    log = io.StringIO()
    selector = KeywordSelector()
    router = Router(_tools(ran), selector=selector, audit_log=log)
    result = router.route("weather in Oslo")
    assert (result.value, result.path, result.reason) == ("sunny in Oslo", "keyword", "said weather")
    with pytest.raises(NoSuitableFunctionError, match="no keyword I know"):
        router.route("dance")
    batch = router.route_many(["weather in Lima", "sing", "weather in Rome"], progress=False)
    assert [r.ok for r in batch] == [True, False, True]
    assert isinstance(batch[1].error, NoSuitableFunctionError)
    assert ran == ["Oslo", "Lima", "Rome"]
    assert selector.seen == ["weather in Oslo", "dance", "weather in Lima", "sing", "weather in Rome"]
    lines = [json.loads(line) for line in log.getvalue().splitlines()]
    assert [line["command"] for line in lines] == selector.seen  # one audit line per command
    assert asyncio.run(router.aroute("weather in Bern")).value == "sunny in Bern"


def test_allow_and_deny_apply_to_any_selector() -> None:
    router = Router(_tools([]), selector=KeywordSelector(), deny=["get_weather"])
    with pytest.raises(Exception, match="get_weather"):  # the selector's choice is not in this router's tools
        router.route("weather in Oslo")


def test_backend_and_selector_together_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="not both"):
        Router(_tools([]), ScriptedBackend(["x"]), selector=KeywordSelector())
    with pytest.raises(UsageError, match="must be a Selector"):
        Router(_tools([]), selector=object())  # type: ignore[arg-type]


def test_a_backend_failure_still_writes_its_audit_line() -> None:
    def down(request: Request) -> str:
        raise BackendError("down", "connection refused")

    log = io.StringIO()
    router = Router(_tools([]), FunctionBackend(down), audit_log=log)
    with pytest.raises(BackendError, match="connection refused"):
        router.route("weather in Oslo")
    (line,) = [json.loads(x) for x in log.getvalue().splitlines()]
    assert line["command"] == "weather in Oslo" and line["outcome"] == "failed"
    assert line["error"]["type"] == "BackendError" and "connection refused" in line["error"]["message"]


def test_the_llm_selector_is_the_router_with_a_backend() -> None:
    router = Router(_tools([]), ScriptedBackend(['{"function": "play_music", "params": {"genre": "jazz"}}']))
    assert isinstance(router.selector, LLMSelector)
    result = router.route("put on some jazz", dry_run=True)
    assert result.path == "model" and len(result.attempts) == 1 and not result.dispatched
    assert result.call is not None and result.call.arguments == {"genre": "jazz"}


def test_llm_selector_batch_fails_only_the_command_whose_request_fails() -> None:
    def reply(request: Request) -> str:
        if request.user_input == "crash":
            raise BackendError("fake", "this request breaks the model")
        return json.dumps({"function": "play_music", "params": {"genre": request.user_input}})

    class OneAtATime(FunctionBackend):
        def complete_many(self, requests: Any) -> list[Completion]:
            raise BackendError("fake", "batch failed")

    outcomes = LLMSelector(OneAtATime(reply)).select_many(_tools([]), ["jazz", "crash", "rock"])
    assert isinstance(outcomes[0], Selection) and outcomes[0].call.arguments == {"genre": "jazz"}
    assert isinstance(outcomes[1], BackendError)
    assert isinstance(outcomes[2], Selection) and outcomes[2].call.arguments == {"genre": "rock"}


def test_one_repair_loop_serves_calls_and_plans_sync_and_async() -> None:
    bad_then_good = ["not a call", '{"function": "play_music", "params": {"genre": "jazz"}}']
    router = Router(_tools([]), ScriptedBackend(bad_then_good), max_retries=1)
    result = router.route("jazz please", dry_run=True)
    assert len(result.attempts) == 2 and isinstance(result.attempts[0].error, OutputParseError)
    plan_text = "Plan: play it\n:evidence0: = play_music[jazz]\nAnswer: :evidence0:\n"
    planner = Router(_tools([]), ScriptedBackend(["no plan here", plan_text]), max_retries=1)
    plan = planner.plan("play jazz")
    assert [step.tool for step in plan.steps] == ["play_music"]
    from funcroute.plans.answer import aplan

    llm = LLMSelector(ScriptedBackend([plan_text]))
    assert [s.tool for s in asyncio.run(aplan(llm, _tools([]), "play jazz")).steps] == ["play_music"]


def test_plans_need_a_model() -> None:
    with pytest.raises(UsageError, match="needs a model backend"):
        Router(_tools([]), selector=KeywordSelector()).plan("anything")


def test_route_many_refuses_what_is_not_a_command_instead_of_routing_its_text() -> None:
    # None must not become the command "None": each bad entry is its own UsageError.
    ran: list[str] = []
    router = Router(_tools(ran), selector=KeywordSelector())
    results = router.route_many(["weather in Oslo", None, "   "], progress=False)  # type: ignore[list-item]
    assert [r.ok for r in results] == [True, False, False]
    assert all(isinstance(r.error, UsageError) for r in results[1:])
    assert ran == ["Oslo"] and results[1].command == "None"
