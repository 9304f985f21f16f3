"""Execution plans: a reWOO plan, its check against a ToolSet, and its execution (sync and async).

The two dialects (see :mod:`funcroute.prompts.planning`)::

    Plan: search first                          Plan: search first
    :evidence0: = DuckDuckGo[query]             #E1 = DuckDuckGo[query]
    Plan: read the results                      Plan: read the results
    :evidence1: = KnowledgeModel[Who, given     #E2 = KnowledgeModel[Who, given #E1?]
        :evidence0:?]
    Answer: :evidence1:                         Final answer: #E2

Typical use::

    plan = parse_plan(reply)          # PlanParseError when no step can be read
    plan.validate(tools)              # PlanValidationError listing every problem
    result = plan.execute(tools)      # or: await plan.aexecute(tools)
    result.answer                     # the answer step's output

The parser is a small scanner, lenient about what models add: numbering (``1. Plan:``), markdown bold,
blank lines and stray prose are skipped; a call may be wrapped in brackets (``[Tool[input]]``); an
input may contain brackets, balanced or not, and may continue over several lines. The input ends at
the ``]`` that balances the tool's ``[``, unless that one is followed by more ``]`` on its line (or
leaves a wrapping ``[`` unclosed); then, and when the brackets never balance, it ends at the last
``]`` of the line that ends with one (setting aside a wrapper's closing ``]``).
Evidence references may be written ``:evidence3:``, ``:evidence3``, ``:evidence[3]:``, ``#E3`` or
``#E[3]``; steps record them in canonical form (``:evidence3:``, ``#E3``). Reading stops at the answer
line.
"""

from __future__ import annotations

import asyncio
import difflib
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from funcroute._text import TRUNCATION_MARKER, clip
from funcroute.errors import (
    DispatchError,
    ModelOutputError,
    PlanExecutionError,
    PlanParseError,
    PlanProblem,
    PlanValidationError,
)
from funcroute.prompts.planning import Dialect, plan_parameter

if TYPE_CHECKING:
    from funcroute.tools.call import Call
    from funcroute.tools.toolset import ToolSet

__all__ = [
    "TRUNCATION_MARKER",
    "Plan",
    "PlanExecutionError",
    "PlanParseError",
    "PlanProblem",
    "PlanResult",
    "PlanStep",
    "PlanValidationError",
    "StepTrace",
    "plan_problems",
    "validate_plan",
]

_REF = r"(?::evidence\[?(\d+)\]?:?|#E\[?(\d+)\]?(?!\w))"
_REF_RE = re.compile(_REF)


def _canonical(match: re.Match[str]) -> str:
    return f":evidence{int(match.group(1))}:" if match.group(1) is not None else f"#E{int(match.group(2))}"


def _references(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(_canonical(m) for m in _REF_RE.finditer(text)))


@dataclass(frozen=True)
class PlanStep:
    """One step: ``evidence = tool[input]``.

    Attributes:
        evidence: the variable the output is stored in, canonical (``:evidence0:`` or ``#E1``).
        tool: the tool's name as written.
        input: the raw input string, evidence references not yet substituted.
        plan: the ``Plan:`` sentence before the step ("" when there was none).
        line: 1-based line of the reply where the step starts (0 when built by hand).
    """

    evidence: str
    tool: str
    input: str
    plan: str = ""
    line: int = 0

    @property
    def references(self) -> tuple[str, ...]:
        """Evidence names used in the input, canonical, in order of first use."""
        return _references(self.input)

    @property
    def literal(self) -> str:
        """The input with its evidence references blanked out: what the model wrote itself."""
        return _REF_RE.sub(" ", self.input)


@dataclass(frozen=True)
class StepTrace:
    """What happened when one step ran.

    Attributes:
        step: the step.
        input: the input after evidence substitution.
        status: ``ok``, ``error`` or ``cancelled`` (a concurrent step stopped because another failed).
        started: seconds from the start of the plan to the start of the step.
        elapsed: seconds the step took.
        output: the tool's result (``None`` unless ``ok``).
        text: ``str(output)`` as substituted into later inputs, capped at ``max_output_chars``.
        error: what went wrong (``None`` unless ``error``).
        call: the validated call, once validation succeeded.
    """

    step: PlanStep
    input: str
    status: Literal["ok", "error", "cancelled"]
    started: float
    elapsed: float
    output: Any = None
    text: str | None = None
    error: BaseException | None = None
    call: Call | None = None


@dataclass(frozen=True)
class PlanResult:
    """The outcome of a plan that ran to its end.

    Attributes:
        plan: the plan.
        trace: one record per step, in plan order.
        answer: the output of the answer's evidence step (the last reference on the answer line).
        answer_text: the answer line with every reference replaced by its (capped) output text.
        elapsed: seconds the whole plan took.
    """

    plan: Plan
    trace: tuple[StepTrace, ...]
    answer: Any
    answer_text: str
    elapsed: float

    @property
    def outputs(self) -> dict[str, Any]:
        """Every step's output by evidence name."""
        return {record.step.evidence: record.output for record in self.trace}


@dataclass(frozen=True)
class Plan:
    """A parsed plan.

    Attributes:
        steps: the steps, in order.
        answer: the evidence holding the final answer (the last reference on the answer line), or
            ``None`` when the answer line names none or is missing.
        reply: the raw reply the plan was read from.
        answer_text: the answer line's text after ``Answer:``; ``None`` when there was no answer line.
        max_steps: the most steps validation accepts.
    """

    steps: tuple[PlanStep, ...]
    answer: str | None
    reply: str = field(default="", repr=False)
    answer_text: str | None = None
    max_steps: int = 20

    @property
    def dialect(self) -> Dialect:
        """``hash`` when the first step is named ``#E...``, else ``evidence``."""
        return "hash" if self.steps and self.steps[0].evidence.startswith("#") else "evidence"

    def to_text(self) -> str:
        """Render the plan back into its dialect (canonical names, one line per step)."""
        lines: list[str] = []
        for step in self.steps:
            if step.plan:
                lines.append(f"Plan: {step.plan}")
            lines.append(f"{step.evidence} = {step.tool}[{step.input}]")
        label = "Final answer" if self.dialect == "hash" else "Answer"
        if self.answer_text is not None:
            lines.append(f"{label}: {self.answer_text}")
        return "\n".join(lines)

    def validate(self, tools: ToolSet) -> Plan:
        """Check the plan against ``tools``; see :func:`validate_plan`. Returns the plan itself."""
        return validate_plan(self, tools)

    def execute(self, tools: ToolSet, *, max_output_chars: int | None = 4000) -> PlanResult:
        """Validate, then run the steps one after another with ``tools.dispatch``.

        Args:
            tools: the ToolSet the plan was made for.
            max_output_chars: cap on each output's text substituted into later inputs; ``None``
                for no cap.

        Returns:
            The full trace and the answer.

        Raises:
            PlanValidationError: the plan is invalid (nothing ran).
            PlanExecutionError: a step's call was invalid or its handler failed; later steps did not
                run. The partial trace is attached.
        """
        validate_plan(self, tools)
        begin = time.perf_counter()
        texts: dict[str, str] = {}
        trace: list[StepTrace] = []
        for step in self.steps:
            text_in = _substitute(step.input, texts)
            started = time.perf_counter()
            call: Call | None = None
            try:
                call = tools.validate(step.tool, {_param(tools, step): text_in}, self.reply)
                output = tools.dispatch(call)
            except (ModelOutputError, DispatchError) as exc:
                elapsed = time.perf_counter() - started
                trace.append(
                    StepTrace(step, text_in, "error", started - begin, elapsed, error=exc, call=call)
                )
                raise _failure(step, exc, trace) from exc
            text = clip(str(output), max_output_chars)
            texts[step.evidence] = text
            elapsed = time.perf_counter() - started
            trace.append(StepTrace(step, text_in, "ok", started - begin, elapsed, output, text, call=call))
        return self._result(trace, texts, time.perf_counter() - begin)

    async def aexecute(
        self,
        tools: ToolSet,
        *,
        max_output_chars: int | None = 4000,
        max_concurrency: int | None = None,
        step_timeout: float | None = None,
    ) -> PlanResult:
        """Validate, then run the steps with ``tools.adispatch``, each as soon as its inputs exist.

        Steps with no evidence dependency between them run concurrently. When a step fails, the
        steps still running are cancelled and recorded as ``cancelled``.

        Args:
            tools: the ToolSet the plan was made for.
            max_output_chars: cap on each output's text substituted into later inputs; ``None``
                for no cap.
            max_concurrency: the most steps running at once; ``None`` for no limit.
            step_timeout: seconds a step may take; a slower step fails with a timeout.

        Returns:
            The full trace and the answer.

        Raises:
            PlanValidationError: the plan is invalid (nothing ran).
            PlanExecutionError: a step failed (invalid call, handler error, timeout); partial trace
                attached.
        """
        # One piece on purpose: the scheduler's state (waiting, running, done, their texts) is shared
        # by the loop below and the step runner it starts; split, each part would take all of it.
        validate_plan(self, tools)
        begin = time.perf_counter()
        limit = asyncio.Semaphore(max_concurrency) if max_concurrency else None
        texts: dict[str, str] = {}
        records: dict[int, StepTrace] = {}
        started_at: dict[int, float] = {}
        inputs: dict[int, str] = {}

        async def run(index: int, step: PlanStep) -> StepTrace:
            if limit is not None:
                await limit.acquire()
            started_at[index] = started = time.perf_counter()
            call: Call | None = None
            try:
                call = tools.validate(step.tool, {_param(tools, step): inputs[index]}, self.reply)
                output = await asyncio.wait_for(tools.adispatch(call), step_timeout)
            except (ModelOutputError, DispatchError, asyncio.TimeoutError) as exc:
                elapsed = time.perf_counter() - started
                return StepTrace(step, inputs[index], "error", started - begin, elapsed, error=exc, call=call)
            finally:
                if limit is not None:
                    limit.release()
            text = clip(str(output), max_output_chars)
            elapsed = time.perf_counter() - started
            return StepTrace(step, inputs[index], "ok", started - begin, elapsed, output, text, call=call)

        waiting = dict(enumerate(self.steps))
        running: dict[asyncio.Task[StepTrace], int] = {}
        try:
            while waiting or running:
                for index, step in list(waiting.items()):
                    if all(ref in texts for ref in step.references):
                        del waiting[index]
                        inputs[index] = _substitute(step.input, texts)
                        running[asyncio.ensure_future(run(index, step))] = index
                if not running:  # unreachable for a validated plan: every reference is defined earlier
                    raise RuntimeError("plan steps wait on each other")
                finished, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                failed: StepTrace | None = None
                for task in finished:
                    record = records[running.pop(task)] = task.result()
                    if record.status == "ok":
                        texts[record.step.evidence] = record.text or ""
                    elif failed is None:
                        failed = record
                if failed is not None:
                    await self._cancel(running, records, started_at, inputs, begin)
                    ordered = [records[i] for i in sorted(records)]
                    assert failed.error is not None
                    raise _failure(failed.step, failed.error, ordered) from failed.error
        finally:
            for task in running:
                task.cancel()
        return self._result([records[i] for i in sorted(records)], texts, time.perf_counter() - begin)

    async def _cancel(
        self,
        running: dict[asyncio.Task[StepTrace], int],
        records: dict[int, StepTrace],
        started_at: Mapping[int, float],
        inputs: Mapping[int, str],
        begin: float,
    ) -> None:
        """Cancel the steps still running after one failed, and record each as ``cancelled``."""
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        now = time.perf_counter()
        for index in running.values():
            started = started_at.get(index, now)
            records[index] = StepTrace(
                self.steps[index], inputs[index], "cancelled", started - begin, now - started
            )
        running.clear()

    def _result(self, trace: list[StepTrace], texts: Mapping[str, str], elapsed: float) -> PlanResult:
        outputs = {record.step.evidence: record.output for record in trace}
        answer = outputs.get(self.answer) if self.answer is not None else None
        answer_text = _substitute(self.answer_text or "", texts)
        return PlanResult(self, tuple(trace), answer, answer_text, elapsed)


def _param(tools: ToolSet, step: PlanStep) -> str:
    param = plan_parameter(tools[step.tool])
    assert param is not None  # guaranteed by validate_plan
    return param


def _substitute(text: str, texts: Mapping[str, str]) -> str:
    return _REF_RE.sub(lambda m: texts.get(_canonical(m), m.group(0)), text)


def _failure(step: PlanStep, error: BaseException, trace: Sequence[StepTrace]) -> PlanExecutionError:
    reason = str(error) or type(error).__name__
    message = f"plan step {step.evidence} = {step.tool}[...] failed: {reason}"
    call = next((record.call for record in trace if record.step is step), None)
    return PlanExecutionError(message, step, trace, call)


# ------------------------------------------------------------------------------------ validation


def plan_problems(plan: Plan, tools: ToolSet) -> list[PlanProblem]:
    """Every problem with ``plan`` against ``tools`` (an empty list for a valid plan).

    Args:
        plan: a parsed (or hand-built) plan.
        tools: the ToolSet the plan must use.

    Returns:
        The problems, in plan order, plan-wide ones first.
    """
    problems: list[PlanProblem] = []
    usable = [tool.name for tool in tools if plan_parameter(tool) is not None]
    shown = ", ".join(usable) or "(none)"
    if len(plan.steps) > plan.max_steps:
        message = f"the plan has {len(plan.steps)} steps; at most {plan.max_steps} are allowed"
        problems.append(PlanProblem("too_many_steps", message))
    if not plan.steps:
        problems.append(PlanProblem("no_steps", "the plan has no steps"))
    defined_at: dict[str, int] = {}
    for number, step in enumerate(plan.steps, 1):
        defined_at.setdefault(step.evidence, number)
    for number, step in enumerate(plan.steps, 1):
        label = f"step {number} ({step.evidence})"
        first = defined_at[step.evidence]
        if first != number:
            message = f"{label} redefines {step.evidence}, already defined by step {first}"
            problems.append(PlanProblem("duplicate_evidence", message, number))
        if step.tool not in tools:
            close = difflib.get_close_matches(step.tool, usable, n=1, cutoff=0.6)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            message = f"{label} calls unknown tool {step.tool!r}.{hint} Available tools: {shown}"
            problems.append(PlanProblem("unknown_tool", message, number))
        elif plan_parameter(tools[step.tool]) is None:
            message = (
                f"{label} calls {step.tool!r}, which does not take a single text input and cannot be "
                f"used in a plan. Available tools: {shown}"
            )
            problems.append(PlanProblem("unsupported_tool", message, number))
        for ref in step.references:
            where = defined_at.get(ref)
            if where is None:
                message = f"{label} uses {ref}, which no step defines"
                problems.append(PlanProblem("undefined_evidence", message, number))
            elif where >= number:
                when = "is its own result" if where == number else f"is only defined later, by step {where}"
                message = f"{label} uses {ref}, which {when}"
                problems.append(PlanProblem("forward_reference", message, number))
    if plan.answer_text is None:
        example = "Final answer: #E2" if plan.dialect == "hash" else "Answer: :evidence1:"
        message = f"the plan has no answer line (e.g. {example!r})"
        problems.append(PlanProblem("missing_answer", message))
    elif not _references(plan.answer_text):
        message = f"the answer line {plan.answer_text!r} names no evidence variable"
        problems.append(PlanProblem("answer_without_evidence", message))
    else:
        for ref in _references(plan.answer_text):
            if ref not in defined_at:
                defined = ", ".join(defined_at) or "(none)"
                message = f"the answer uses {ref}, which no step defines; defined: {defined}"
                problems.append(PlanProblem("unknown_answer", message))
    return problems


def validate_plan(plan: Plan, tools: ToolSet) -> Plan:
    """Check ``plan`` against ``tools``, reporting every problem at once.

    Args:
        plan: the plan.
        tools: the ToolSet it must use.

    Returns:
        The plan itself, when valid.

    Raises:
        PlanValidationError: the plan has at least one problem (all are listed).
    """
    problems = plan_problems(plan, tools)
    if problems:
        raise PlanValidationError(problems, plan.reply)
    return plan
