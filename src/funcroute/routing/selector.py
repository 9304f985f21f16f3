"""The seam of routing: *how a call is chosen* for a command, apart from what is done with it.

A :class:`Selector` turns ``(tools, command)`` into a :class:`Selection`: a validated call and
how it was reached, or an exception saying why there is none (a :class:`NoSuitableFunctionError`
refusal, or a :class:`ModelOutputError` once a model's retries ran out). The Router does the rest
(allow/deny, approval, dispatch, audit, batches), the same way for every selector:

- :class:`funcroute.routing.llm.LLMSelector`: prompt, backend, parse, repair loop;
- :class:`funcroute.offline.selector.SemanticSelector`: sentence similarity and value extraction,
  no model at all;
- :class:`funcroute.routing.cascade.Cascade`: the semantic selector when it is sure, a small model
  among the top tools otherwise.

Backends stay what their name says (text in, text out); nothing here needs one.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from funcroute.errors import FuncRouteError, UsageError
from funcroute.routing.results import Attempt
from funcroute.tools.call import Call
from funcroute.tools.toolset import ToolSet

__all__ = ["Outcome", "Selection", "Selector", "checked_command"]


@dataclass(init=False)
class Selection:
    """A selector's choice for one command.

    Attributes:
        call: the validated call.
        attempts: the model round trips it took (none for selectors without a model).
        path: which way it was chosen (``semantic``, ``model``, ``fast``...).
        reason: why, in a sentence.
        provenance: where each top-level argument came from, when the selector tracks it.
    """

    call: Call
    attempts: list[Attempt] = field(default_factory=list)
    path: str = ""
    reason: str = ""
    provenance: dict[str, Any] = field(default_factory=dict)

    def __init__(
        self,
        call: Call,
        attempts: list[Attempt] | None = None,
        path: str = "",
        reason: str = "",
        provenance: dict[str, Any] | None = None,
    ) -> None:
        # One per routed command: literals instead of the dataclass's default-factory calls.
        self.call = call
        self.attempts = [] if attempts is None else attempts
        self.path = path
        self.reason = reason
        self.provenance = {} if provenance is None else provenance


#: What :meth:`Selector.select_many` gives per command: its selection, or the error that stopped it.
Outcome = Selection | FuncRouteError


def checked_command(command: object) -> str:
    """``command`` itself, or a UsageError when it is not non-empty text (the Router checks it, once)."""
    if not isinstance(command, str) or not command.strip():
        raise UsageError("a command must be non-empty text")
    return command


class Selector(ABC):
    """Chooses a validated call of a ToolSet's tools for a command. Subclasses implement :meth:`select`."""

    #: Short name used in logs and results.
    name: str = "selector"
    #: Whether the same command always gets the same choice (no sampling).
    deterministic: bool = False

    @abstractmethod
    def select(self, tools: ToolSet, command: str) -> Selection:
        """Choose and validate a call of ``tools`` for ``command``.

        Raises:
            NoSuitableFunctionError: no tool fits (a refusal, with the reason).
            ModelOutputError: a model's replies stayed invalid; ``.attempts`` holds each one.
            BackendError: the model could not be reached or loaded.
        """

    async def aselect(self, tools: ToolSet, command: str) -> Selection:
        """Async twin of :meth:`select`; the default runs it in a worker thread."""
        return await asyncio.to_thread(self.select, tools, command)

    def select_many(
        self,
        tools: ToolSet,
        commands: Sequence[str],
        on_done: Callable[[int, Outcome], None] | None = None,
    ) -> list[Outcome]:
        """Choose calls for many commands; one command's failure is its own outcome, not the batch's.

        ``on_done(index, outcome)`` is called as each command is decided (batching selectors decide
        several at once). The default decides them one by one.
        """
        outcomes: list[Outcome] = []
        for index, command in enumerate(commands):
            outcome: Outcome
            try:
                outcome = self.select(tools, command)
            except FuncRouteError as exc:
                outcome = exc
            outcomes.append(outcome)
            if on_done is not None:
                on_done(index, outcome)
        return outcomes

    def close(self) -> None:  # noqa: B027 - optional hook, empty by design
        """Release what the selector holds (a model it loaded itself). Safe to call twice."""
