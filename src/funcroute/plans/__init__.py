"""Plans: reWOO plans written by the model, checked against a ToolSet, run, and answered from.

- :mod:`~funcroute.plans.parse`: the model's plan text to a :class:`Plan`.
- :mod:`~funcroute.plans.plan`: the plan, its validation against a ToolSet, and its execution
  (sync in order; async with independent steps at once).
- :mod:`~funcroute.plans.answer`: asking for a plan (with the repair loop) and answering a question
  from tool results in closed context.
"""

from funcroute.plans.parse import parse_plan
from funcroute.plans.plan import Plan, PlanResult, PlanStep, StepTrace, plan_problems, validate_plan

__all__ = ["Plan", "PlanResult", "PlanStep", "StepTrace", "parse_plan", "plan_problems", "validate_plan"]
