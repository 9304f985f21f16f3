"""Does the model, given these commands, call the right function with valid arguments?

Every test runs offline: fakes script the model, cassettes replay what a real model said, and the
plugin fails any test that reaches for a real model without opting in.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from helpdesk import build_router, tools

from funcroute.backends.base import Backend
from funcroute.evaluation import evaluate, load_cases
from funcroute.testing.assertions import ABSENT, assert_calls, assert_parallel_calls, one_of

HERE = Path(__file__).parent


def test_prompt_the_model_sees(funcroute_snapshot) -> None:
    # A changed docstring or signature shows up here as a diff to review (and re-accept with
    # pytest --funcroute-update-snapshots).
    funcroute_snapshot.prompt(tools, "How many times is 'Python' mentioned in notes.txt?", name="helpdesk")


def test_router_repairs_a_bad_reply(funcroute_backend) -> None:
    backend = funcroute_backend(
        [
            '{"function": "get_weather", "params": {"town": "Paris"}}',
            '{"function": "get_weather", "params": {"city": "Paris"}}',
        ]
    )
    result = build_router(backend).route("Is it warm in Paris?")
    assert_calls(result, tools, "get_weather", city="Paris", units=ABSENT)  # the default applies
    assert result.value == "22 degrees celsius in Paris"
    assert "city: Field required" in backend.prompts[1]  # the model was shown its mistake


def test_email_needs_approval(funcroute_backend) -> None:
    reply = {"function": "send_email", "params": {"to": "bob@example.com", "subject": "Hi", "body": "Hello"}}
    router = build_router(funcroute_backend(json.dumps(reply)))
    assert_calls(router.route("Say hi to bob", dry_run=True), tools, "send_email", to="bob@example.com")


def test_parallel_reply() -> None:
    reply = json.dumps(
        [
            {"function": "get_weather", "params": {"city": "Lima", "units": "fahrenheit"}},
            {"function": "get_weather", "params": {"city": "Oslo", "units": "fahrenheit"}},
        ]
    )
    assert_parallel_calls(
        reply, tools, [("get_weather", {"city": "Oslo"}), ("get_weather", {"city": "Lima"})]
    )


@pytest.mark.funcroute_cassette("helpdesk-routing")
def test_real_model_routes_commands(funcroute_cassette, real_model: Callable[[], Backend]) -> None:
    router = build_router(funcroute_cassette.backend(real_model))
    result = router.route("How many times is 'Python' mentioned in my text file?", dry_run=True)
    assert_calls(result, tools, "file_analytics", action="count_occurrences", filters={"keyword": "Python"})
    result = router.route("Is it warm in Paris right now?", dry_run=True)
    assert_calls(result, tools, "get_weather", city=one_of("Paris", "Paris, France"))


@pytest.mark.funcroute_cassette("helpdesk-eval")
def test_real_model_scores_on_the_cases(funcroute_cassette, real_model: Callable[[], Backend]) -> None:
    cases = load_cases(HERE / "cases.jsonl", tools)
    report = evaluate(cases, funcroute_cassette.backend(real_model), no_call_tool=True)
    assert report.accuracy == 1.0, report.summary()
