"""The router on SmolLM2 through both backends: route, repair, batch = sequential, plans, cassettes.

The same checks the tiny random model gets in tests/routing/test_router.py and tests/plans/, on a real
49k-token tokenizer with real special tokens (``<|im_start|>``, ``<|im_end|>``) and the model's own
chat template. Each command is routed once per backend (the ``routed`` fixture, through a cassette
recorder); the batch and the replay are compared with those routes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from funcroute import ToolSet
from funcroute.backends.base import Backend, Completion, Request
from funcroute.backends.presets import Preset
from funcroute.errors import CallValidationError, ModelOutputError, PlanParseError, PlanValidationError
from funcroute.routing.results import RouteResult
from funcroute.routing.router import Router
from funcroute.testing.cassette import Cassette, load_interactions

pytestmark = [pytest.mark.realmodel, pytest.mark.funcroute_real_backend]

# Two tools keep the prompts short (this tier checks decoding on the real tokenizer, not choice among
# many tools: the cascade does that) while the model still has to pick one.
ALLOW = ["triangle_area", "convert_temperature"]
COMMANDS = (
    "What is the area of a triangle with a base of 8 and a height of 5?",
    "Convert 100 degrees fahrenheit to celsius",
    "How much is 30 celsius in fahrenheit?",
)
MAX_NEW_TOKENS = 64


def router_on(backend: Backend, preset: Preset, tools: ToolSet, **options: Any) -> Router:
    settings: dict[str, Any] = {"max_retries": 0, "max_new_tokens": MAX_NEW_TOKENS, "allow": ALLOW}
    return Router(tools, backend, template=preset.template, **{**settings, **options})


@dataclass
class Routed:
    """The commands routed one by one on one backend, recorded to a cassette."""

    preset: Preset
    results: list[RouteResult]
    cassette: Path


@pytest.fixture(scope="module")
def routed(smol: Preset, demo_tools: ToolSet, tmp_path_factory: pytest.TempPathFactory) -> Routed:
    cassette = Cassette(tmp_path_factory.mktemp("cassettes") / f"{smol.backend.name}.yaml", mode="all")
    router = router_on(cassette.backend(smol.backend), smol, demo_tools)
    results = [router.route(command, dry_run=True) for command in COMMANDS]
    assert cassette.save()
    return Routed(smol, results, cassette.path)


def test_route_gives_a_valid_call_on_the_first_constrained_attempt(
    routed: Routed, demo_tools: ToolSet
) -> None:
    for result in routed.results:
        assert result.ok and result.call is not None, result.error
        assert len(result.attempts) == 1  # constrained: no repair was needed
        reply = result.attempts[0].reply
        assert json.loads(reply)["function"] in ALLOW, reply
        assert demo_tools.parse(reply) == result.call  # the reply itself reads back to the call
        completion = result.attempts[0].completion
        assert completion.completion_tokens and completion.completion_tokens <= MAX_NEW_TOKENS
        assert "<|im_end|>" not in reply and "<|im_start|>" not in reply  # special tokens never leak
    # The prompt is the model's own ChatML, with the special tokens spelled as the tokenizer knows them.
    prompt = routed.results[0].attempts[0].prompt
    assert prompt.startswith("<|im_start|>system\n") and prompt.endswith("<|im_start|>assistant\n")


class FirstReplyBroken(Backend):
    """Answers the first request with an invalid call, then forwards every request to the real model."""

    BROKEN = '{"function": "triangle_area", "params": {"base": "wide"}}'

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.name = f"broken-first:{inner.name}"
        self.requests: list[Request] = []
        self.real: list[Completion] = []

    def complete(self, request: Request) -> Completion:
        self.requests.append(request)
        if len(self.requests) == 1:
            return Completion(self.BROKEN, "stop", 1, 1)
        completion = self.inner.complete(request)
        self.real.append(completion)
        return completion

    def complete_many(self, requests: Sequence[Request]) -> list[Completion]:
        return [self.complete(request) for request in requests]


def test_a_reply_that_fails_validation_gets_a_second_turn_on_the_real_model(
    smol: Preset, demo_tools: ToolSet
) -> None:
    backend = FirstReplyBroken(smol.backend)
    router = router_on(backend, smol, demo_tools, max_retries=1)
    try:
        result = router.route(COMMANDS[0], dry_run=True)
    except ModelOutputError as exc:  # allowed: a clean error with both attempts, never a traceback
        attempts = exc.attempts
        assert len(attempts) == 2 and attempts[-1].error is exc
    else:
        attempts = result.attempts
        assert result.ok and result.call is not None and result.call.function in ALLOW
        assert demo_tools.parse(attempts[1].reply) == result.call
    assert isinstance(attempts[0].error, CallValidationError)
    assert "base: Input should be a valid number" in str(attempts[0].error)
    assert "height: Field required" in str(attempts[0].error)
    repair = backend.requests[1].prompt
    # The repair is a second turn of the model's own chat: the bad reply as the assistant's turn, then
    # the errors as the user's, with the system block once.
    turn = f"<|im_start|>assistant\n{FirstReplyBroken.BROKEN}<|im_end|>\n<|im_start|>user\nYour previous"
    assert turn in repair and repair.count("<|im_start|>system") == 1
    assert repair.endswith("<|im_start|>assistant\n")
    assert len(backend.real) == 1 and backend.real[0].completion_tokens  # the model wrote the second reply


def test_route_many_gives_the_calls_of_a_loop_of_route(routed: Routed, demo_tools: ToolSet) -> None:
    router = router_on(routed.preset.backend, routed.preset, demo_tools)
    batched = router.route_many(list(COMMANDS), dry_run=True, progress=False)
    assert [r.command for r in batched] == list(COMMANDS)
    assert [r.call for r in batched] == [r.call for r in routed.results]
    assert all(len(r.attempts) == 1 for r in batched)


def test_a_recorded_real_model_route_replays_without_the_model(routed: Routed, demo_tools: ToolSet) -> None:
    rows = load_interactions(routed.cassette)
    assert len(rows) == len(COMMANDS) and all("<|im_start|>assistant\n" in r["prompt"] for r in rows)
    replay = Cassette(routed.cassette, mode="none").backend()
    assert type(replay).__name__ == "CassetteBackend"  # no model behind it
    router = router_on(replay, routed.preset, demo_tools)
    again = [router.route(command, dry_run=True) for command in COMMANDS]
    assert [r.call for r in again] == [r.call for r in routed.results]
    assert [r.replies for r in again] == [r.replies for r in routed.results]
    # A changed tool changes the prompt: the replay fails, naming the tool, instead of answering wrongly.
    changed = ToolSet(
        [
            t.replace(description="Compute the area of a triangle.") if t.name == "triangle_area" else t
            for t in demo_tools
        ]
    )
    with pytest.raises(pytest.fail.Exception, match="tool 'triangle_area'"):
        router_on(replay, routed.preset, changed).route(COMMANDS[0], dry_run=True)


def plan_tools() -> ToolSet:
    tools = ToolSet()

    @tools.tool
    def Search(query: str) -> str:  # plan tools take one string, named like the model card's
        """Search the web for a query."""
        return f"results for {query}"

    @tools.tool
    def KnowledgeModel(question: str) -> str:
        """Answer a question from the given context."""
        return question

    return tools


def test_plan_on_the_real_model_is_a_parsed_plan_or_a_clean_plan_error(smol_llamacpp: Preset) -> None:
    """llama.cpp only: a plan is free text, and free decoding on TransformersBackend took 359 s for
    these 64 tokens on the loaded 2-core box (its constrained replies take seconds)."""
    smol, tools = smol_llamacpp, plan_tools()
    # One attempt: the plan repair loop is tested on the tiny model (tests/plans/); this checks the
    # parser on what a real model writes.
    router = Router(tools, smol.backend, template=smol.template, max_retries=0, max_new_tokens=64)
    try:
        plan = router.plan("Who won the Nobel Prize in Literature in 2020?")
    except (PlanParseError, PlanValidationError) as exc:
        assert len(exc.attempts) == 1
        assert all(isinstance(a.reply, str) and a.completion.completion_tokens for a in exc.attempts)
        assert str(exc)  # a message a user can read
        return
    assert plan.steps and {step.tool for step in plan.steps} <= set(tools.names)
    assert plan.reply.strip() and plan.to_text()
