"""One chat completion: choose between text and calls as ``tool_choice`` says, then generate it.

* ``none`` (or no tools): a text answer. After tool results it is the closed-context prompt over
  them, so the model answers from what the tools returned.
* ``required``: the selection prompt, with the call schema (a union over the tools) on the request,
  so backends that constrain decoding can only produce a schema-valid call. The tolerant parser and
  the repair loop (the model is shown its reply and the exact errors) run here, for every backend.
* a named function: the same with only that tool offered and allowed.
* ``auto``: like ``required`` with one more tool, the no-call tool; choosing it means "answer in
  text", and a second generation writes that answer. The choice itself is grammar-enforced too.
  A selector without a model (the offline semantic router) decides on its own (it refuses below
  its threshold), and since it writes no text, its answer after tool results is the results
  themselves.

Arrays of calls are allowed only when the client sets ``parallel_tool_calls`` to ``true``:
Airoboros models were trained to pick one function, and the prompt then says a list is allowed.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import sys
import threading
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Literal

from funcroute.backends.base import Backend, Completion, Request
from funcroute.errors import BackendError, FuncRouteError, ModelOutputError, NoSuitableFunctionError
from funcroute.prompts.templates import ChatTemplate
from funcroute.routing.selector import Selector
from funcroute.serve.batching import Dispatcher
from funcroute.serve.conversation import Dialogue, canonical, read_messages
from funcroute.serve.schemas import ApiError, ChatRequest, NamedChoice
from funcroute.serve.stream import CallWatch, Events, Observer, TextWatch, end_of_calls, params_text
from funcroute.serve.toolsets import ToolSetCache, no_call_name
from funcroute.tools.call import Call
from funcroute.tools.toolset import ToolSet

__all__ = ["Engine", "Limits", "OutCall", "Outcome"]

_REPAIR = (
    "Your previous response was not a valid function call.\n{error}\n\n"
    "Respond again with only the corrected function call in JSON format."
)
_PARALLEL = "\nIf the input needs several function calls, respond with a JSON array of calls."
_MAX_PARALLEL = 8
_NO_TEXT = (
    "the offline semantic router writes no text; send tools with tool_choice 'auto' or 'required', "
    "or serve a language model (--model / --endpoint)"
)


@dataclass(frozen=True)
class Limits:
    """What one request may ask of the server.

    Attributes:
        max_body_bytes: request body size (413 above it).
        max_tools: tools per request.
        max_messages: messages per request.
        max_tokens: the largest generation budget a client may ask for.
        call_tokens: the budget of a call when the client names none.
        answer_tokens: the budget of a text answer when the client names none.
        max_retries: repair turns after an invalid call.
        max_pending: requests in flight at once (503 above it).
    """

    max_body_bytes: int = 4 * 1024 * 1024
    max_tools: int = 256
    max_messages: int = 512
    max_tokens: int = 4096
    call_tokens: int = 256
    answer_tokens: int = 512
    max_retries: int = 2
    max_pending: int = 256


@dataclass(frozen=True)
class OutCall:
    """A validated tool call as the client receives it."""

    id: str
    name: str
    arguments: str


@dataclass
class Outcome:
    """What the model produced for one request."""

    content: str | None = None
    calls: list[OutCall] = field(default_factory=list)
    finish_reason: Literal["stop", "length", "tool_calls"] = "stop"
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def count(self, completion: Completion) -> None:
        """Add one generation's token counts."""
        self.prompt_tokens += completion.prompt_tokens or 0
        self.completion_tokens += completion.completion_tokens or 0


class Engine:
    """Turn chat requests into outcomes with one backend, or one selector that needs none.

    Args:
        backend: any funcroute backend, or a selector that writes no text (the semantic router).
        template: the chat template the model needs.
        limits: request limits.
    """

    def __init__(self, backend: Backend | Selector, template: ChatTemplate, limits: Limits) -> None:
        self.selector = backend if isinstance(backend, Selector) else None
        self.backend = backend if isinstance(backend, Backend) else None
        self.template = template
        self.limits = limits
        self.toolsets = ToolSetCache(max_tools=limits.max_tools)
        self.dispatcher = Dispatcher(self.backend) if self.backend is not None else None
        self.offline = self.selector is not None

    def prepare(
        self, req: ChatRequest, events: Events | None, cancel: threading.Event
    ) -> Callable[[], Coroutine[Any, Any, Outcome]]:
        """Check one request and return the generation to run (so errors come before any stream).

        Args:
            req: the request.
            events: receives deltas as they become final, when the client streams.
            cancel: set when the client is gone; generation stops at the next token.

        Raises:
            ApiError: the request cannot be served (bad tools, messages or limits).
        """
        if len(req.messages) > self.limits.max_messages:
            raise ApiError(
                400, f"too many messages: {len(req.messages)} > {self.limits.max_messages}", param="messages"
            )
        budget = req.token_budget
        if budget is not None and budget > self.limits.max_tokens:
            raise ApiError(
                400,
                f"max_tokens {budget} is above this server's limit {self.limits.max_tokens}",
                param="max_tokens",
            )
        dialogue = read_messages(req.messages)
        choice = req.tool_choice if req.tool_choice is not None else ("auto" if req.tools else "none")
        if not req.tools and choice != "none":
            raise ApiError(400, "tool_choice needs tools", param="tool_choice")
        job = _Job(self, req, dialogue, events, cancel)
        tools = self.toolsets.get(req.tools or [])  # checked (and cached) even under "none"
        if choice == "none" or not req.tools:
            if self.offline and not dialogue.results:
                raise ApiError(400, _NO_TEXT, param="tool_choice")
            return functools.partial(job.answer, Outcome())
        if isinstance(choice, NamedChoice):
            name = choice.function.name
            if name not in tools:
                raise ApiError(
                    400,
                    f"tool_choice names {name!r}, which is not in tools",
                    param="tool_choice.function.name",
                )
            return functools.partial(job.calls, self.toolsets.get(req.tools, only=name), hidden=None)
        if choice == "required":
            return functools.partial(job.calls, tools, hidden=None)
        if self.offline:
            if dialogue.results:  # the offline router's one call has its result: answer with it
                return functools.partial(job.answer, Outcome())
            return functools.partial(job.calls, tools, hidden=None, may_decline=True)
        extended = self.toolsets.get(req.tools, with_no_call=True)
        return functools.partial(job.calls, extended, hidden=no_call_name(tools))

    async def run(self, req: ChatRequest, events: Events | None = None) -> Outcome:
        """Check and answer one request (see :meth:`prepare`)."""
        return await self.prepare(req, events, threading.Event())()


class _Job:
    """The state of one request."""

    def __init__(
        self,
        engine: Engine,
        req: ChatRequest,
        dialogue: Dialogue,
        events: Events | None,
        cancel: threading.Event,
    ) -> None:
        self.engine = engine
        self.req = req
        self.dialogue = dialogue
        self.events = events
        self.cancel = cancel
        template = engine.template
        if dialogue.system:
            joined = f"{template.system} {dialogue.system}" if template.system else dialogue.system
            template = dataclasses.replace(template, system=joined)
        self.template = template
        self.stops = (*template.stop, *req.stops)
        self.ids = [f"call_{uuid.uuid4().hex[:24]}" for _ in range(_MAX_PARALLEL)]
        self.extra: dict[str, Any] = {}
        if req.temperature is not None:
            self.extra["temperature"] = req.temperature
        if req.seed is not None:
            self.extra["seed"] = req.seed

    async def _complete(self, request: Request) -> Completion:
        if self.cancel.is_set():
            raise ApiError(499, "the client disconnected", code="client_closed")
        try:
            assert self.engine.dispatcher is not None  # selector-only engines never ask a model
            return await self.engine.dispatcher.complete(request)
        except NoSuitableFunctionError:
            raise
        except BackendError as exc:
            status = 503 if exc.retryable else 502
            raise ApiError(
                status, f"backend error: {exc}", type="server_error", code="backend_error"
            ) from None
        except ModelOutputError:
            raise
        except FuncRouteError as exc:
            raise ApiError(400, str(exc)) from None

    async def answer(self, outcome: Outcome) -> Outcome:
        """Generate a text answer (over the newest tool results, if any)."""
        dialogue = self.dialogue
        if self.engine.offline:
            # The semantic router writes no text: after a call its answer is what the tool returned.
            text = "\n\n".join(block.text for block in dialogue.results)
            return self._text(outcome, text or "(the tool returned nothing)", "stop")
        watch = TextWatch(self.events, self.stops) if self.events is not None else None
        observer = Observer(None, self.cancel, watch)
        request = Request(
            prompt=self.template.render(dialogue.answer_turn(), dialogue.history()),
            stop=self.stops,
            max_new_tokens=self.req.token_budget or self.engine.limits.answer_tokens,
            stop_when=observer,
            user_input=dialogue.question,
            kind="answer",
            extra=self.extra,
        )
        completion = await self._complete(request)
        outcome.count(completion)
        finish: Literal["stop", "length"] = "length" if completion.finish_reason == "length" else "stop"
        text = completion.text.strip()
        if watch is not None and not watch.finish(text):
            raise ApiError(500, "streamed text diverged from the final answer", type="server_error")
        outcome.content, outcome.finish_reason = text, finish
        return outcome

    def _text(self, outcome: Outcome, text: str, finish: Literal["stop", "length"]) -> Outcome:
        if self.events is not None:
            self.events.content(text)
        outcome.content, outcome.finish_reason = text, finish
        return outcome

    async def calls(self, tools: ToolSet, *, hidden: str | None, may_decline: bool = False) -> Outcome:
        """Generate validated calls of ``tools``; ``hidden`` is the no-call tool's name, if offered."""
        if self.engine.selector is not None:
            return await self._selected(self.engine.selector, tools, hidden, may_decline)
        outcome = Outcome()
        dialogue = self.dialogue
        parallel = self.req.parallel_tool_calls is True
        prompt = tools.prompt(dialogue.question) + (_PARALLEL if parallel else "")
        turn, history = dialogue.call_turn(prompt), dialogue.history()
        schema = _call_schema(tools, parallel)
        live = self._streams_arguments(hidden, parallel)
        error: ModelOutputError | None = None
        for _attempt in range(self.engine.limits.max_retries + 1):
            watch = CallWatch(self.events, self.ids[0], hidden) if live and self.events is not None else None
            request = Request(
                prompt=self.template.render(turn, history),
                stop=self.stops,
                max_new_tokens=self.req.token_budget or self.engine.limits.call_tokens,
                stop_when=Observer(end_of_calls, self.cancel, watch),
                user_input=dialogue.question,
                schema=schema,
                extra=self.extra,
            )
            try:
                completion = await self._complete(request)
            except NoSuitableFunctionError as exc:
                if may_decline:
                    return self._text(outcome, f"No suitable function: {exc.reason}", "stop")
                raise ApiError(
                    422, f"no suitable function: {exc.reason}", code="no_suitable_function"
                ) from None
            outcome.count(completion)
            try:
                found = tools.parse_many(completion.text) if parallel else [tools.parse(completion.text)]
            except ModelOutputError as exc:
                if watch is not None and watch.announced:
                    raise ApiError(
                        500,
                        f"the streamed call turned out invalid: {exc}",
                        type="server_error",
                        code="invalid_call",
                    ) from None
                error = exc
                history = [*history, (turn, completion.text)]
                turn = _REPAIR.format(error=exc.feedback)
                continue
            return await self._settle(outcome, found, completion, hidden, watch)
        assert error is not None
        raise ApiError(
            500,
            f"no valid tool call after {self.engine.limits.max_retries + 1} attempt(s): {error}",
            type="server_error",
            code="no_valid_call",
        )

    def _streams_arguments(self, hidden: str | None, parallel: bool) -> bool:
        """Whether the call's arguments can be streamed as the model writes them."""
        # Live argument deltas need a grammar (the call is valid as it grows) and a decision that
        # cannot change after the name: not a possible repeat under "auto" (see _settle).
        repeat_possible = hidden is not None and bool(self.dialogue.results)
        live = self.events is not None and not parallel and not repeat_possible
        return live and self.engine.backend is not None and _grammar_streams(self.engine.backend)

    async def _selected(
        self, selector: Selector, tools: ToolSet, hidden: str | None, may_decline: bool
    ) -> Outcome:
        """The selector's call (no model text to stream: the call is sent whole)."""
        outcome = Outcome()
        try:
            selection = await selector.aselect(tools, self.dialogue.question)
        except NoSuitableFunctionError as exc:
            if may_decline:
                return self._text(outcome, f"No suitable function: {exc.reason}", "stop")
            raise ApiError(422, f"no suitable function: {exc.reason}", code="no_suitable_function") from None
        arguments = json.dumps(selection.call.arguments, ensure_ascii=False, separators=(",", ":"))
        return await self._settle(outcome, [selection.call], Completion(text=arguments), hidden, None)

    async def _settle(
        self,
        outcome: Outcome,
        found: list[Call],
        completion: Completion,
        hidden: str | None,
        watch: CallWatch | None,
    ) -> Outcome:
        calls = [c for c in found if c.function != hidden]
        if hidden is not None and calls:
            # Under "auto", calling again exactly what already has a result means the model has
            # nothing new to ask: small models loop that way. It is read as "answer in text".
            answered = self.dialogue.answered()
            calls = [c for c in calls if (c.function, canonical(c.arguments)) not in answered]
        if not calls:
            return await self.answer(outcome)
        texts = params_text(completion.text, [c.arguments for c in calls])
        outcome.calls = [OutCall(i, c.function, t) for i, c, t in zip(self.ids, calls, texts, strict=False)]
        if watch is not None and watch.announced:
            if not watch.finish(texts[0]):
                raise ApiError(
                    500, "streamed arguments diverged from the validated call", type="server_error"
                )
        elif self.events is not None:
            for index, call in enumerate(outcome.calls):
                self.events.call_start(index, call.id, call.name)
                self.events.call_arguments(index, call.arguments)
        outcome.finish_reason = "tool_calls"
        return outcome


def _call_schema(tools: ToolSet, parallel: bool) -> dict[str, Any]:
    """The reply schema: one call, or with ``parallel`` also a list of up to ``_MAX_PARALLEL`` calls."""
    schema: dict[str, Any] = tools.json_schema(copy=False)
    if not parallel:
        return schema
    return {
        "anyOf": [
            schema,
            {"type": "array", "items": schema, "minItems": 1, "maxItems": _MAX_PARALLEL},
        ]
    }


def _grammar_streams(backend: Backend) -> bool:
    """Whether the backend enforces the call grammar while calling ``stop_when`` per token."""
    module = sys.modules.get("funcroute.backends.llamacpp")
    return module is not None and isinstance(backend, module.LlamaCppBackend) and backend.grammar
