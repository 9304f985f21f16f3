"""The repair loop, once for calls and plans: ask, read, and on a model mistake show it and ask again.

One conversation per command: the first user turn is the task (a selection or a plan prompt); when
the reply cannot be read or validated, the reply joins the history and the next user turn quotes the
exact errors. The loop stops at a valid result or after ``max_retries`` repairs; a deterministic
backend gets no repairs, since it could only repeat itself. Sync, async and batched callers drive
the same steps (:meth:`RepairLoop.absorb`, :meth:`RepairLoop.done`, :meth:`RepairLoop.finish`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from time import perf_counter  # a global, not an attribute read: 8 reads per route
from typing import Any, Generic, TypeVar

from funcroute.backends.base import Backend, Completion, Request
from funcroute.errors import ModelOutputError
from funcroute.routing.results import Attempt

__all__ = ["Conversation", "RepairLoop"]

T = TypeVar("T")


@dataclass(init=False)
class Conversation(Generic[T]):
    """The state of one command's repair loop.

    Attributes:
        command: the user's command (or question).
        user_turn: what the next request says: the task, then repair feedback.
        history: earlier ``(user turn, reply)`` pairs.
        attempts: every round trip so far.
        result: the valid result, once there is one.
        error: the latest model mistake.
        context: what the task's request builder needs per command (tools shown, a schema...).
    """

    command: str
    user_turn: str
    history: list[tuple[str, str]] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    result: T | None = None
    error: ModelOutputError | None = None
    context: dict[str, Any] = field(default_factory=dict)

    def __init__(
        self,
        command: str,
        user_turn: str,
        history: list[tuple[str, str]] | None = None,
        attempts: list[Attempt] | None = None,
        result: T | None = None,
        error: ModelOutputError | None = None,
        context: dict[str, Any] | None = None,
    ) -> None:
        # One per command: literals instead of the dataclass's default-factory calls.
        self.command = command
        self.user_turn = user_turn
        self.history = [] if history is None else history
        self.attempts = [] if attempts is None else attempts
        self.result = result
        self.error = error
        self.context = {} if context is None else context


class RepairLoop(Generic[T]):
    """Drive conversations to a valid result.

    Args:
        backend: the model.
        max_retries: repair turns after the first attempt.
        request_for: the request for a conversation's next turn.
        read: the reply text to a result; raises :class:`ModelOutputError` on a model mistake.
        repair: the next user turn for a mistake (it quotes the error's ``feedback``).
    """

    def __init__(
        self,
        backend: Backend,
        max_retries: int,
        request_for: Callable[[Conversation[T]], Request],
        read: Callable[[Conversation[T], str], T],
        repair: Callable[[ModelOutputError], str],
    ) -> None:
        self.backend = backend
        self.retries = 0 if getattr(backend, "deterministic", False) is True else max_retries
        self.request_for = request_for
        self.read = read
        self.repair = repair

    def absorb(
        self, conv: Conversation[T], request: Request, completion: Completion, generate_s: float
    ) -> None:
        """Read one reply into the conversation; on a model mistake, queue a repair turn."""
        start = perf_counter()
        error: ModelOutputError | None = None
        try:
            conv.result = self.read(conv, completion.text)
        except ModelOutputError as exc:
            error = exc
        parse_s = perf_counter() - start
        if error is None:
            conv.attempts.append(
                Attempt(request.prompt, completion.text, None, completion, generate_s, parse_s)
            )
        else:
            self._mistake(conv, request, completion, error, generate_s, parse_s)

    def _mistake(
        self,
        conv: Conversation[T],
        request: Request,
        completion: Completion,
        error: ModelOutputError,
        generate_s: float,
        parse_s: float,
    ) -> None:
        """Record an invalid reply and queue the repair turn that quotes its errors."""
        conv.attempts.append(Attempt(request.prompt, completion.text, error, completion, generate_s, parse_s))
        conv.history.append((conv.user_turn, completion.text))
        conv.user_turn = self.repair(error)
        conv.error = error

    def done(self, conv: Conversation[T]) -> bool:
        """Whether the conversation has its result or has used up its repairs."""
        return conv.result is not None or len(conv.attempts) > self.retries

    def finish(self, conv: Conversation[T]) -> T:
        """The result, or the last mistake (with every attempt attached) once repairs ran out."""
        if conv.result is not None:
            return conv.result
        assert conv.error is not None
        conv.error.attempts = list(conv.attempts)
        raise conv.error

    def run(self, conv: Conversation[T]) -> T:
        """Run the conversation to its end, one request at a time."""
        retries = self.retries
        read = self.read
        while conv.result is None and len(conv.attempts) <= retries:  # not done(): inlined, per round
            request = self.request_for(conv)
            start = perf_counter()
            completion = self.backend.complete(request)
            # absorb(), written out (one frame less per round trip); the generation's end is
            # the parse's start, so the two timings share one clock read.
            read_at = perf_counter()
            text = completion.text
            try:
                conv.result = read(conv, text)
            except ModelOutputError as exc:
                self._mistake(conv, request, completion, exc, read_at - start, perf_counter() - read_at)
            else:
                conv.attempts.append(
                    Attempt(request.prompt, text, None, completion, read_at - start, perf_counter() - read_at)
                )
        result = conv.result
        return result if result is not None else self.finish(conv)  # finish()'s usual case, inlined

    async def arun(self, conv: Conversation[T]) -> T:
        """Async twin of :meth:`run`."""
        while not self.done(conv):
            request = self.request_for(conv)
            start = perf_counter()
            completion = await self.backend.acomplete(request)
            self.absorb(conv, request, completion, perf_counter() - start)
        return self.finish(conv)
