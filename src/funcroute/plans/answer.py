"""Multi-step routing: plans written by the model, and answers grounded in tool results.

:func:`plan` asks the model for a reWOO plan over the router's tools, parses and validates it, and on
a mistake shows the model its plan and every problem (the same repair loop as for calls).
:func:`answer` routes the question (one call, or a plan), runs it, then asks the model to answer
from the tool results given as closed-context blocks whose metadata names the tool and its
arguments, so the answer can cite its source.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from funcroute._text import clip
from funcroute.backends.base import Request
from funcroute.errors import ModelOutputError, PlanValidationError
from funcroute.plans.grounded import ungrounded_steps
from funcroute.plans.parse import parse_plan
from funcroute.plans.plan import Plan, PlanResult
from funcroute.prompts.context import ContextBlock, closed_context
from funcroute.prompts.planning import Dialect, plan_prompt
from funcroute.routing.repair import Conversation, RepairLoop
from funcroute.routing.results import Attempt, RouteResult
from funcroute.tools.toolset import ToolSet

if TYPE_CHECKING:
    from funcroute.routing.llm import LLMSelector

__all__ = [
    "Answer",
    "PlanAttempt",
    "answer_from",
    "aplan",
    "blocks_of_plan",
    "blocks_of_route",
    "end_of_plan",
    "plan",
]

_PLAN_REPAIR = (
    "Your previous plan could not be used.\n{error}\n\n"
    "Write the whole plan again in the same format, using only the tools listed, "
    "and end it with the answer line."
)
_ANSWER_LINE = re.compile(r"^[ \t*#]*(?:final[ \t]+)?answer[ \t*]*:[^\n]*\n", re.IGNORECASE | re.MULTILINE)
_MAX_PLAN_TOKENS = 512

#: One round trip for a plan (the same record as for a call).
PlanAttempt = Attempt


@dataclass
class Answer:
    """A grounded answer.

    Attributes:
        text: the model's answer.
        prompt: the closed-context prompt it answered.
        route: the routed call, when the question was routed to one tool.
        plan: the executed plan, when it was planned.
        blocks: the context blocks built from tool results.
    """

    text: str
    prompt: str
    route: RouteResult | None = None
    plan: PlanResult | None = None
    blocks: list[ContextBlock] = field(default_factory=list)


def end_of_plan(text: str) -> int | None:
    """Where a plan ends: just after its ``Answer:`` / ``Final answer:`` line."""
    match = _ANSWER_LINE.search(text)
    return match.end() if match else None


def _plan_loop(llm: LLMSelector, tools: ToolSet, max_steps: int, grounded: bool) -> RepairLoop[Plan]:
    """The repair loop for plans: the selector's model and template, a plan reader, a plan repair."""

    def request_for(conv: Conversation[Plan]) -> Request:
        return Request(
            prompt=llm.template.render(conv.user_turn, conv.history),
            stop=llm.template.stop,
            max_new_tokens=max(llm.max_new_tokens, _MAX_PLAN_TOKENS),
            stop_when=end_of_plan,
            user_input=conv.command,
            kind="plan",
        )

    def read(conv: Conversation[Plan], text: str) -> Plan:
        parsed = parse_plan(text, max_steps=max_steps)
        parsed.validate(tools)
        invented = ungrounded_steps(parsed, tools, conv.command) if grounded else []
        if invented:
            raise PlanValidationError(invented, parsed.reply)
        return parsed

    def repair(error: ModelOutputError) -> str:
        return _PLAN_REPAIR.format(error=error.feedback)

    return RepairLoop(llm.backend, llm.max_retries, request_for, read, repair)


def plan(
    llm: LLMSelector,
    tools: ToolSet,
    question: str,
    *,
    dialect: Dialect = "evidence",
    max_steps: int = 20,
    grounded: bool = True,
) -> Plan:
    """Ask the model for a plan over ``tools``, repairing it up to ``llm.max_retries`` times.

    With ``grounded`` (the default) a step may not write an e-mail address, URL or file path that
    the question does not give (:mod:`funcroute.plans.grounded`); such a plan is repaired like any
    invalid one.

    Raises:
        PlanParseError / PlanValidationError: retries ran out; ``.attempts`` holds every attempt.
    """
    conv: Conversation[Plan] = Conversation(question, plan_prompt(question, tools, dialect=dialect))
    return _plan_loop(llm, tools, max_steps, grounded).run(conv)


async def aplan(
    llm: LLMSelector,
    tools: ToolSet,
    question: str,
    *,
    dialect: Dialect = "evidence",
    max_steps: int = 20,
    grounded: bool = True,
) -> Plan:
    """Async twin of :func:`plan`."""
    conv: Conversation[Plan] = Conversation(question, plan_prompt(question, tools, dialect=dialect))
    return await _plan_loop(llm, tools, max_steps, grounded).arun(conv)


def blocks_of_plan(planned: PlanResult, max_output_chars: int = 4000) -> list[ContextBlock]:
    """One closed-context block per executed step, naming its tool, input and evidence label."""
    blocks = []
    for record in planned.trace:
        metadata = {"source": record.step.tool, "input": record.input, "evidence": record.step.evidence}
        blocks.append(ContextBlock(clip(str(record.text), max_output_chars), metadata))
    return blocks


def blocks_of_route(routed: RouteResult, max_output_chars: int = 4000) -> list[ContextBlock]:
    """The closed-context block of a routed call's result, naming its tool and arguments."""
    assert routed.call is not None
    metadata = {
        "source": routed.call.function,
        "arguments": json.dumps(routed.call.arguments, ensure_ascii=False, sort_keys=True),
    }
    return [ContextBlock(clip(str(routed.value), max_output_chars), metadata)]


def answer_from(
    llm: LLMSelector,
    question: str,
    blocks: list[ContextBlock],
    *,
    route: RouteResult | None = None,
    plan: PlanResult | None = None,
    max_new_tokens: int = 512,
) -> Answer:
    """Ask the model to answer ``question`` from ``blocks`` only, citing its source."""
    instruction = f"{question}\nCite your source."
    body = closed_context(blocks, instruction, no_invention=True, only_instructions=True)
    prompt = llm.template.render(body)
    request = Request(
        prompt=prompt,
        stop=llm.template.stop,
        max_new_tokens=max_new_tokens,
        user_input=question,
        kind="answer",
    )
    completion = llm.backend.complete(request)
    return Answer(completion.text.strip(), prompt, route, plan, blocks)
