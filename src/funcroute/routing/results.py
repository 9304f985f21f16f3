"""What routing produces: one model round trip (:class:`Attempt`) and one command's outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from funcroute.backends.base import Completion
from funcroute.errors import FuncRouteError, ModelOutputError
from funcroute.tools.call import Call

__all__ = ["Attempt", "RouteResult"]


@dataclass(frozen=True, init=False)
class Attempt:
    """One round trip to the model.

    Attributes:
        prompt: the full prompt sent (template included).
        reply: the model's reply text.
        error: the parse/validation error, or ``None`` when the reply was valid.
        completion: the backend's raw answer (token counts, finish reason).
        generate_s: seconds spent in the backend.
        parse_s: seconds spent parsing and validating.
    """

    prompt: str
    reply: str
    error: ModelOutputError | None
    completion: Completion
    generate_s: float = 0.0
    parse_s: float = 0.0

    def __init__(
        self,
        prompt: str,
        reply: str,
        error: ModelOutputError | None,
        completion: Completion,
        generate_s: float = 0.0,
        parse_s: float = 0.0,
    ) -> None:
        # One per round trip: filling __dict__ directly skips the frozen dataclass's
        # object.__setattr__ per field; instances stay read-only.
        fields = self.__dict__
        fields["prompt"] = prompt
        fields["reply"] = reply
        fields["error"] = error
        fields["completion"] = completion
        fields["generate_s"] = generate_s
        fields["parse_s"] = parse_s


@dataclass
class RouteResult:
    """The outcome of routing one command.

    Attributes:
        command: the user's command.
        call: the validated call (``None`` if routing failed).
        value: the handler's result (``None`` when not dispatched).
        attempts: every model round trip, in order (none when no model was asked).
        dispatched: whether the handler ran: also when it raised or overran its time limit (it may
            still be running then); ``False`` when it never started (refused, not approved, unbound).
        dispatch_s: seconds the handler took.
        error: the error, for results of :meth:`Router.route_many` that failed.
        path: which way the call was chosen: ``semantic`` (the offline router), ``model``, or
            ``fast`` (a cascade's semantic router, sure enough to skip the model).
        reason: why that path chose this call.
        provenance: where each top-level argument came from, where the selector tracks it
            (:class:`funcroute.constrain.grounding.Provenance`).
        select_s: seconds spent choosing the call (the model's time included).
    """

    command: str
    call: Call | None = None
    value: Any = None
    attempts: list[Attempt] = field(default_factory=list)
    dispatched: bool = False
    dispatch_s: float = 0.0
    error: FuncRouteError | None = None
    path: str = ""
    reason: str = ""
    provenance: dict[str, Any] = field(default_factory=dict)
    select_s: float = 0.0

    @property
    def ok(self) -> bool:
        """Whether the command was routed (and dispatched, if asked) without error."""
        return self.error is None and self.call is not None

    @property
    def replies(self) -> list[str]:
        """The model's replies, one per attempt."""
        return [a.reply for a in self.attempts]

    @property
    def timings(self) -> dict[str, float]:
        """Seconds spent generating, parsing and dispatching, and their total."""
        generate = sum(a.generate_s for a in self.attempts)
        parse = sum(a.parse_s for a in self.attempts)
        return {
            "generate_s": generate,
            "parse_s": parse,
            "dispatch_s": self.dispatch_s,
            "total_s": generate + parse + self.dispatch_s,
        }
