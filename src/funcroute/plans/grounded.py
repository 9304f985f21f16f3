"""Grounded plans: a step may only send what the question or an earlier step's result gives.

A plan step's input is one text (``send_email[bob@example.com]``). When that step's parameter is an
e-mail address, a URL or a file path (the same rule as :mod:`funcroute.constrain.grounding`: its
format, its name, or ``x-grounded``), every address, URL or path written literally in the input must
be one the question contains; one brought in through an evidence reference (``#E1``) comes from an
earlier tool's result and is allowed. So a model cannot plan to mail, fetch or open something the
user never named — the same safety property as grounded calls, for plans.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from funcroute.constrain.grounding import grounding_kind
from funcroute.errors import PlanProblem
from funcroute.offline.mentions import find_mentions
from funcroute.prompts.planning import plan_parameter

if TYPE_CHECKING:
    from funcroute.plans.plan import Plan
    from funcroute.tools.toolset import ToolSet

__all__ = ["ungrounded_steps"]

#: The kinds of value a plan step must not make up (a free-text query may say anything).
_GUARDED = {"email": "e-mail address", "url": "URL", "file": "file path"}


def ungrounded_steps(plan: Plan, tools: ToolSet, question: str) -> list[PlanProblem]:
    """The steps of ``plan`` that write an address, URL or path the question does not give.

    Args:
        plan: a parsed plan (valid against ``tools``: unknown tools are skipped here).
        tools: the ToolSet.
        question: what the user asked.

    Returns:
        One ``ungrounded_value`` problem per offending step, in plan order.
    """
    given = {
        str(m.value).lower()
        for m in find_mentions(question)
        if m.kind in _GUARDED and isinstance(m.value, str)
    }
    problems: list[PlanProblem] = []
    for number, step in enumerate(plan.steps, 1):
        if step.tool not in tools:
            continue
        param = plan_parameter(tools[step.tool])
        spec = (tools[step.tool].schema.get("properties") or {}).get(param) if param else None
        kind = grounding_kind(param, spec) if param and isinstance(spec, dict) else None
        if kind not in _GUARDED:
            continue
        invented = [
            str(m.value)
            for m in find_mentions(step.literal)
            if m.kind == kind and isinstance(m.value, str) and m.value.lower() not in given
        ]
        if invented:
            listed = ", ".join(repr(v) for v in invented)
            message = (
                f"step {number} ({step.evidence}) gives {step.tool!r} the {_GUARDED[kind]} {listed}, which "
                "the question does not contain; use one the question gives, or an earlier step's result"
            )
            problems.append(PlanProblem("ungrounded_value", message, number))
    return problems
