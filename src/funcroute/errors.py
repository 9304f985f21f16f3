"""Every error funcroute raises, grouped by who is at fault.

```
FuncRouteError
├── UsageError                  the developer's mistake; fix the code or the config
│   ├── ToolDefinitionError     a function cannot become a tool (all problems listed at once)
│   ├── ToolSpecError           a tool file / OpenAI / BFCL spec is invalid
│   └── TemplateError           unknown or malformed chat template
├── ModelOutputError            the model's mistake; retryable, carries the raw reply
│   ├── OutputParseError        the reply holds no call at all (or breaks a size/depth limit)
│   ├── UnknownFunctionError    the reply names a function that is not in the ToolSet
│   ├── NoSuitableFunctionError no tool fits the command, or it lacks a required value; not retried
│   ├── CallValidationError     the arguments do not validate (dotted paths for every problem)
│   ├── PartialCallsError       some calls of a multi-call reply failed (each with its index)
│   ├── PlanParseError          the reply holds no readable plan step
│   └── PlanValidationError     the plan was read but is invalid (every PlanProblem at once)
├── DispatchError               running a validated call failed
│   ├── HandlerNotBoundError    the tool has no handler (loaded from data without one)
│   ├── CallRefusedError        the tool needs approval and did not get it; the handler never ran
│   ├── HandlerError            the handler raised; the original is ``__cause__``
│   │   └── HandlerTimeoutError the handler ran past the tool's time limit
│   └── PlanExecutionError      a plan step failed while the plan ran; the cause is ``__cause__``
└── BackendError                the model backend failed (HTTP, loading, generation)
```
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from funcroute.tools.call import Call

__all__ = [
    "BackendError",
    "CallRefusedError",
    "CallValidationError",
    "DispatchError",
    "FuncRouteError",
    "HandlerError",
    "HandlerNotBoundError",
    "HandlerTimeoutError",
    "ModelOutputError",
    "NoSuitableFunctionError",
    "OutputParseError",
    "PartialCallsError",
    "PlanExecutionError",
    "PlanParseError",
    "PlanProblem",
    "PlanValidationError",
    "TemplateError",
    "ToolDefinitionError",
    "ToolSpecError",
    "UnknownFunctionError",
    "UsageError",
    "ValidationProblem",
]


class FuncRouteError(Exception):
    """Root of every error funcroute raises on purpose."""


class UsageError(FuncRouteError):
    """The developer's mistake: a bad signature, spec, template or argument."""


class ToolDefinitionError(UsageError):
    """A Python function cannot be turned into a tool.

    Attributes:
        qualname: the function's qualified name.
        problems: every problem found, so one edit fixes them all.
    """

    def __init__(self, qualname: str, problems: Sequence[str]) -> None:
        self.qualname = qualname
        self.problems = list(problems)
        listed = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"cannot make a tool of {qualname}:\n{listed}")


class ToolSpecError(UsageError):
    """A tool file or an OpenAI/BFCL spec is invalid.

    Attributes:
        source: where the spec came from (a path or a short description).
        problems: every problem found.
    """

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = list(problems)
        listed = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"invalid tool spec {source}:\n{listed}")


class TemplateError(UsageError):
    """An unknown chat template name or a malformed user template."""


class ModelOutputError(FuncRouteError):
    """The model's reply is not a valid call. Retryable: the router feeds it back to the model.

    Attributes:
        reply: the raw reply text, exactly as received.
        attempts: when raised by a router after its retries ran out, every attempt it made.
    """

    def __init__(self, message: str, reply: str) -> None:
        self.reply = reply
        self.attempts: list[Any] = []
        super().__init__(message)

    @property
    def feedback(self) -> str:
        """The text shown to the model in a repair turn."""
        return str(self)


class OutputParseError(ModelOutputError):
    """The reply holds no function call that could be read."""


class UnknownFunctionError(ModelOutputError):
    """The reply calls a function the ToolSet does not have.

    Attributes:
        name: the name the model used.
        available: every valid name.
        closest: the most similar valid name, if any is close.
    """

    def __init__(self, name: str, available: Sequence[str], closest: str | None, reply: str) -> None:
        self.name = name
        self.available = list(available)
        self.closest = closest
        hint = f" Did you mean {closest!r}?" if closest else ""
        shown = ", ".join(self.available[:50]) + (" ..." if len(self.available) > 50 else "")
        super().__init__(f"unknown function {name!r}.{hint} Available functions: {shown}", reply)


@dataclass(frozen=True)
class ValidationProblem:
    """One reason the arguments of a call are invalid.

    Attributes:
        path: dotted path to the offending value, e.g. ``filters.keyword`` or ``items.0.name``;
            empty for a problem with the arguments as a whole.
        message: what is wrong, in words.
        kind: a short machine-readable code (``missing``, ``extra_forbidden``, ``int_parsing`` ...).
    """

    path: str
    message: str
    kind: str

    def __str__(self) -> str:
        return f"{self.path or '(arguments)'}: {self.message}"


class NoSuitableFunctionError(ModelOutputError):
    """No tool fits the command well enough, or the best one needs values the command lacks.

    Not a formatting mistake: retrying the same command cannot help.

    Attributes:
        command: the user's command.
        reason: why no call was made, in words.
        candidates: the best tools as ``(name, score)``, best first.
        missing: for the best tool, required parameters (dotted paths) the command does not give.
    """

    def __init__(
        self,
        command: str,
        reason: str,
        candidates: Sequence[tuple[str, float]] = (),
        missing: Sequence[str] = (),
    ) -> None:
        self.command = command
        self.reason = reason
        self.candidates = list(candidates)
        self.missing = list(missing)
        super().__init__(f"no suitable function: {reason}", reply="")


class CallValidationError(ModelOutputError):
    """The reply names a known function, but its arguments are invalid.

    Attributes:
        function: the tool's name.
        arguments: the arguments as the model gave them.
        problems: every problem, each with its dotted path.
    """

    def __init__(
        self,
        function: str,
        arguments: Any,
        problems: Sequence[ValidationProblem],
        reply: str,
    ) -> None:
        self.function = function
        self.arguments = arguments
        self.problems = list(problems)
        listed = "; ".join(str(p) for p in self.problems)
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        super().__init__(f"invalid arguments for {function!r} ({count} {noun}): {listed}", reply)


class PartialCallsError(ModelOutputError):
    """A reply with several calls where some failed: every failure is reported with its index.

    Attributes:
        calls: one entry per call in reply order: the validated :class:`Call`, or ``None`` where
            that call failed.
        errors: ``(index, error)`` for each call that failed, in order (indexes count from 0).
    """

    def __init__(
        self, calls: Sequence[Call | None], errors: Sequence[tuple[int, ModelOutputError]], reply: str
    ) -> None:
        self.calls = list(calls)
        self.errors = list(errors)
        total = len(self.calls)
        listed = "; ".join(f"call {i + 1} of {total}: {error}" for i, error in self.errors)
        super().__init__(f"{len(self.errors)} of {total} calls failed: {listed}", reply)

    @property
    def valid_calls(self) -> list[Call]:
        """The calls that validated, in reply order."""
        return [c for c in self.calls if c is not None]


class PlanParseError(ModelOutputError):
    """The reply holds no readable plan step, or a step's call cannot be read."""


@dataclass(frozen=True)
class PlanProblem:
    """One reason a plan is invalid.

    Attributes:
        kind: ``too_many_steps``, ``no_steps``, ``duplicate_evidence``, ``unknown_tool``,
            ``unsupported_tool``, ``undefined_evidence``, ``forward_reference``, ``missing_answer``,
            ``answer_without_evidence``, ``unknown_answer``, or ``ungrounded_value`` (a step writes an
            address, URL or path the question does not give: :mod:`funcroute.plans.grounded`).
        message: what is wrong, in words the model can act on.
        step: 1-based index of the offending step; ``None`` for the plan as a whole.
    """

    kind: str
    message: str
    step: int | None = None

    def __str__(self) -> str:
        return self.message


class PlanValidationError(ModelOutputError):
    """The plan was read but is invalid; ``problems`` lists every problem at once."""

    def __init__(self, problems: Sequence[PlanProblem], reply: str) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        listed = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"invalid plan ({count} problem{'s' if count != 1 else ''}):\n{listed}", reply)


class DispatchError(FuncRouteError):
    """Running a validated call failed.

    Attributes:
        call: the call that failed; ``None`` only for a :class:`PlanExecutionError` whose step's
            call did not validate (every other dispatch error has its validated call).
        attempts: the model round trips that led to the call, when a router raised it.
    """

    def __init__(self, message: str, call: Call | None) -> None:
        self.call = call
        self.attempts: list[Any] = []
        super().__init__(message)


class HandlerNotBoundError(DispatchError):
    """The tool was loaded from data without a handler, so its calls validate but cannot run."""


class HandlerError(DispatchError):
    """The tool's handler raised. The original exception is ``__cause__``."""


class HandlerTimeoutError(HandlerError):
    """The handler did not finish within the tool's time limit."""


class CallRefusedError(DispatchError):
    """Policy refused the call: the tool needs approval and none was given, or the approver said no.

    The handler never ran.
    """

    call: Call  # always the refused call


class PlanExecutionError(DispatchError):
    """A step failed while the plan ran; the cause is ``__cause__``.

    Attributes:
        step: the failed :class:`~funcroute.plans.plan.PlanStep`.
        trace: the :class:`~funcroute.plans.plan.StepTrace` records of the steps that ran (or were
            cancelled), in plan order, the failure included.
        call: the failed step's validated call; ``None`` when the step's call did not validate.
    """

    # step and trace are typed Any: naming the plan types here would import plans/ from the root
    # of the error tree (a circle, even as a type-only import).
    def __init__(self, message: str, step: Any, trace: Sequence[Any], call: Call | None = None) -> None:
        self.step = step
        self.trace = tuple(trace)
        super().__init__(message, call)


class BackendError(FuncRouteError):
    """A model backend failed.

    Attributes:
        backend: which backend (and server, where there is one).
        retryable: whether trying again may help (connection errors, 5xx, timeouts).
    """

    def __init__(self, backend: str, message: str, *, retryable: bool = False) -> None:
        self.backend = backend
        self.retryable = retryable
        super().__init__(f"{backend}: {message}")
