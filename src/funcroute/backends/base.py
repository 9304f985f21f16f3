"""The one small interface every model backend implements.

A backend turns a :class:`Request` (a fully templated prompt plus the structured parts it was built
from) into a :class:`Completion`. Only :meth:`Backend.complete` is required; batching and async have
working defaults that backends override when they can do better.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from funcroute.formats.grammar import Node

__all__ = ["Backend", "Completion", "Request", "StopDetector"]

#: Given the text generated so far, return the index where a complete answer ends (generation may
#: stop and the text is cut there), or ``None`` to keep going.
StopDetector = Callable[[str], "int | None"]

#: A request's ``extra`` when none is given: one shared read-only mapping, so that a request holds no
#: dict of its own. Backends and fakes keep requests (a ScriptedBackend keeps every one), and each
#: container a kept request owns is one more object for every pass of the garbage collector.
_NO_EXTRA: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, init=False)
class Request:
    """What a selector asks a backend for: plain data, never a ToolSet.

    Attributes:
        prompt: the full prompt, chat template included. LLM backends send exactly this.
        stop: stop strings; generation ends before the first one produced.
        max_new_tokens: upper bound on generated tokens.
        stop_when: optional detector of a complete answer (e.g. the end of the first JSON call), for
            backends that can check text as it grows.
        user_input: the user's command (or question), unrendered: plain text for fakes, logs and
            cassettes; LLM backends send only ``prompt``.
        format: the reply format the prompt asks for.
        schema: JSON Schema of a valid reply, when constrained output is wanted.
        kind: what the reply should be: a function ``call``, a ``plan``, or a free ``answer``.
        grammar: a tool-call format's grammar (:mod:`funcroute.formats.grammar`) to constrain the
            reply with instead of ``schema`` (the call in the format's own delimiters).
        extra: backend-specific options (read-only; the default is a shared empty mapping).
    """

    prompt: str
    stop: tuple[str, ...] = ()
    max_new_tokens: int = 256
    stop_when: StopDetector | None = None
    user_input: str | None = None
    format: Literal["json", "yaml"] = "json"
    schema: dict[str, Any] | None = None
    kind: Literal["call", "plan", "answer"] = "call"
    grammar: Node | None = None
    extra: Mapping[str, Any] = field(default_factory=lambda: _NO_EXTRA)

    def __init__(
        self,
        prompt: str,
        stop: tuple[str, ...] = (),
        max_new_tokens: int = 256,
        stop_when: StopDetector | None = None,
        user_input: str | None = None,
        format: Literal["json", "yaml"] = "json",
        schema: dict[str, Any] | None = None,
        kind: Literal["call", "plan", "answer"] = "call",
        grammar: Node | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        # One request per model round trip: filling __dict__ directly skips the frozen
        # dataclass's object.__setattr__ per field (a microsecond); instances stay read-only.
        fields = self.__dict__
        fields["prompt"] = prompt
        fields["stop"] = stop
        fields["max_new_tokens"] = max_new_tokens
        fields["stop_when"] = stop_when
        fields["user_input"] = user_input
        fields["format"] = format
        fields["schema"] = schema
        fields["kind"] = kind
        fields["grammar"] = grammar
        fields["extra"] = _NO_EXTRA if extra is None else extra


@dataclass(frozen=True, init=False)
class Completion:
    """A backend's answer.

    Attributes:
        text: the generated text, cut at the stop point.
        finish_reason: ``stop`` (a stop string or detector fired), ``length`` (ran out of tokens),
            or a backend-specific reason.
        prompt_tokens: tokens in the prompt, where known.
        completion_tokens: tokens generated, where known.
        elapsed_s: wall time of the generation.
        forward_passes: model forward passes spent, where the backend counts them.
    """

    text: str
    finish_reason: str = "stop"
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    elapsed_s: float = 0.0
    forward_passes: int | None = None

    def __init__(
        self,
        text: str,
        finish_reason: str = "stop",
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        elapsed_s: float = 0.0,
        forward_passes: int | None = None,
    ) -> None:
        # As for Request: one per round trip, filled without object.__setattr__ per field.
        fields = self.__dict__
        fields["text"] = text
        fields["finish_reason"] = finish_reason
        fields["prompt_tokens"] = prompt_tokens
        fields["completion_tokens"] = completion_tokens
        fields["elapsed_s"] = elapsed_s
        fields["forward_passes"] = forward_passes


class Backend(ABC):
    """A model that completes prompts. Subclasses implement :meth:`complete`."""

    #: Short human-readable name used in errors and logs.
    name: str = "backend"
    #: Whether the same request always gets the same answer (no sampling, no model): the router
    #: then never retries, since a repair turn could only repeat the answer.
    deterministic: bool = False

    @abstractmethod
    def complete(self, request: Request) -> Completion:
        """Generate the reply for one request."""

    def complete_many(self, requests: Sequence[Request]) -> list[Completion]:
        """Generate replies for several requests; backends that can batch override this."""
        return [self.complete(r) for r in requests]

    async def acomplete(self, request: Request) -> Completion:
        """Async twin of :meth:`complete`; the default runs it in a worker thread."""
        return await asyncio.to_thread(self.complete, request)

    def close(self) -> None:  # noqa: B027 - optional hook, empty by design
        """Release resources (connections, model memory). Safe to call twice."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
