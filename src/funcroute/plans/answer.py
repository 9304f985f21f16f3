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
from typing import TYPE_CHECKING, Any

from funcroute.backends.base import Completion, Request
from funcroute.errors import ModelOutputError
from funcroute.plans.plan import Plan, PlanResult, parse_plan
from funcroute.prompts.context import ContextBlock, closed_context
from funcroute.prompts.planning import Dialect, plan_prompt

if TYPE_CHECKING:
    from funcroute.routing.router import Router, RouteResult

__all__ = ["Answer", "PlanAttempt", "answer", "end_of_plan", "plan"]

_PLAN_REPAIR = (
    "Your previous plan could not be used.\n{error}\n\n"
    "Write the whole plan again in the same format, using only the tools listed, "
    "and end it with the answer line."
)
_ANSWER_LINE = re.compile(r"^[ \t*#]*(?:final[ \t]+)?answer[ \t*]*:[^\n]*\n", re.IGNORECASE | re.MULTILINE)
_MAX_PLAN_TOKENS = 512


@dataclass(frozen=True)
class PlanAttempt:
    """One round trip for a plan: the prompt, the reply, and what was wrong with it (if anything)."""

    prompt: str
    reply: str
    error: ModelOutputError | None
    completion: Completion


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


def plan(router: Router, question: str, *, dialect: Dialect = "evidence", max_steps: int = 20) -> Plan:
    """Ask the model for a plan, repairing it up to ``router.max_retries`` times.

    Raises:
        PlanParseError / PlanValidationError: retries ran out; ``.attempts`` holds every attempt.
    """
    body = plan_prompt(question, router.tools, dialect=dialect)
    history: list[tuple[str, str]] = []
    user_turn = body
    attempts: list[PlanAttempt] = []
    while True:
        request = Request(
            prompt=router.template.render(user_turn, history),
            stop=router.template.stop,
            max_new_tokens=max(router.max_new_tokens, _MAX_PLAN_TOKENS),
            stop_when=end_of_plan,
            tools=router.tools,
            user_input=question,
            kind="plan",
        )
        completion = router.backend.complete(request)
        try:
            parsed = parse_plan(completion.text, max_steps=max_steps)
            parsed.validate(router.tools)
        except ModelOutputError as exc:
            attempts.append(PlanAttempt(request.prompt, completion.text, exc, completion))
            if len(attempts) > router.max_retries:
                exc.attempts = list(attempts)
                raise
            history.append((user_turn, completion.text))
            user_turn = _PLAN_REPAIR.format(error=exc.feedback)
            continue
        return parsed


def answer(
    router: Router,
    question: str,
    *,
    use_plan: bool = False,
    max_output_chars: int = 4000,
    max_new_tokens: int = 512,
) -> Answer:
    """Route (or plan) ``question``, run it, and answer from the results in closed context."""
    blocks: list[ContextBlock] = []
    routed: RouteResult | None = None
    planned: PlanResult | None = None
    if use_plan:
        planned = plan(router, question).execute(router.tools, max_output_chars=max_output_chars)
        for record in planned.trace:
            metadata = {"source": record.step.tool, "input": record.input, "evidence": record.step.evidence}
            blocks.append(ContextBlock(_clip(record.text, max_output_chars), metadata))
    else:
        routed = router.route(question)
        assert routed.call is not None
        metadata = {
            "source": routed.call.function,
            "arguments": json.dumps(routed.call.arguments, ensure_ascii=False, sort_keys=True),
        }
        blocks.append(ContextBlock(_clip(str(routed.value), max_output_chars), metadata))
    instruction = f"{question}\nCite your source."
    body = closed_context(blocks, instruction, no_invention=True, only_instructions=True)
    prompt = router.template.render(body)
    completion = router.backend.complete(
        Request(
            prompt=prompt,
            stop=router.template.stop,
            max_new_tokens=max_new_tokens,
            tools=router.tools,
            user_input=question,
            kind="answer",
        )
    )
    return Answer(completion.text.strip(), prompt, routed, planned, blocks)


def _clip(value: Any, limit: int) -> str:
    text = str(value)
    return text if len(text) <= limit else text[:limit] + f" [... truncated {len(text) - limit} characters]"
