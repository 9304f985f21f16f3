"""The Router: command in, validated call (and its result) out.

One route is: render the selection prompt inside the chat template → ask the backend → parse and
validate the reply → on a model mistake, show the model its reply and the exact errors and ask
again (up to ``max_retries``) → dispatch the validated call. Every attempt is recorded.

Handler exceptions are not retried: a model cannot fix a bug in a tool.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from funcroute.backends.base import Backend, Completion, Request
from funcroute.errors import (
    BackendError,
    DispatchError,
    FuncRouteError,
    HandlerError,
    ModelOutputError,
    UsageError,
)
from funcroute.formats import ToolCallFormat
from funcroute.parsing import end_of_first_call, end_of_first_yaml_call
from funcroute.prompts.native import NativeTemplate
from funcroute.prompts.selection import Format
from funcroute.prompts.templates import ChatTemplate, get_template
from funcroute.routing.audit import AuditLog
from funcroute.routing.native import REPAIR as NATIVE_REPAIR
from funcroute.routing.native import NativeSetup
from funcroute.tools.call import Call
from funcroute.tools.tool import Approver
from funcroute.tools.toolset import ToolSet

if TYPE_CHECKING:
    from funcroute.plans.answer import Answer
    from funcroute.plans.plan import Plan
    from funcroute.prompts.planning import Dialect

__all__ = ["Attempt", "RouteResult", "Router"]

_REPAIR = (
    "Your previous response was not a valid function call.\n{error}\n\n"
    "Respond again with only the corrected function call in {fmt} format."
)


@dataclass(frozen=True)
class Attempt:
    """One round trip to the model.

    Attributes:
        prompt: the full prompt sent (template included).
        reply: the model's reply text.
        error: the parse/validation error, or ``None`` when the reply was a valid call.
        completion: the backend's raw answer (token counts, finish reason).
        generate_s: seconds spent in the backend.
        parse_s: seconds spent parsing and validating.
    """

    prompt: str
    reply: str
    error: ModelOutputError | None
    completion: Completion
    generate_s: float
    parse_s: float


@dataclass
class RouteResult:
    """The outcome of routing one command.

    Attributes:
        command: the user's command.
        call: the validated call (``None`` if routing failed).
        value: the handler's result (``None`` when not dispatched).
        attempts: every model round trip, in order.
        dispatched: whether the handler ran: also when it raised or overran its time limit (it may
            still be running then); ``False`` when it never started (refused, not approved, unbound).
        dispatch_s: seconds the handler took.
        error: the error, for results of :meth:`Router.route_many` that failed.
    """

    command: str
    call: Call | None = None
    value: Any = None
    attempts: list[Attempt] = field(default_factory=list)
    dispatched: bool = False
    dispatch_s: float = 0.0
    error: FuncRouteError | None = None

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


@dataclass
class _Conversation:
    """The state of one command's repair loop."""

    command: str
    user_turn: str  # what the next request says: the selection prompt, then repair feedback
    history: list[tuple[str, str]] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    call: Call | None = None
    error: ModelOutputError | None = None
    names: list[str] | None = None  # the tools shown (None: all)


class Router:
    """Route natural-language commands to validated calls of a ToolSet's functions.

    Args:
        tools: the tools the model may call.
        backend: the model; ``None`` selects the offline semantic backend.
        format: ask the model for ``"json"`` or ``"yaml"`` replies.
        template: chat template name or object (see :mod:`funcroute.prompts.templates`).
        max_retries: repair turns after the first attempt.
        max_new_tokens: generation budget per attempt.
        constrained: whether requests carry the call JSON Schema, so backends that can constrain
            decoding (transformers with llguidance, llama.cpp, servers taking a grammar) emit only
            valid calls. ``None`` (default): with JSON format; the backend decides whether to
            enforce it. ``False``: never. ``True``: always (JSON format required: the grammar
            describes JSON, and a prompt asking for YAML while forcing JSON confuses real models).
        show_types: append type notes to parameter lines in the prompt.
        tool_selector: optional function choosing which tool names to show the model for a command
            (tool retrieval for large catalogs); the validator still knows every tool.
        max_tools: render only the ``max_tools`` tools most similar to each command (retrieval
            with the bundled sentence encoder; loaded only when the catalog is larger).
        max_prompt_tokens: also keep the rendered tools under this many (estimated) tokens.
        allow: only these tools may be used by this router (prompted, validated, dispatched).
        deny: these tools may not be used by this router.
        approve: approval callback for tools registered with ``confirm=True``.
        audit_log: a path or text stream; every routed command is appended as one JSON line.
        schema_for: optional function giving the reply schema for a command (e.g. a shortlist with
            grounded arguments, :func:`funcroute.constrain.grounding.grounded_schema`); ``None`` from it, or
            no function: the whole ToolSet's schema.
        chat_template: a model's own chat template
            (:class:`~funcroute.prompts.native.NativeTemplate`): tools are rendered the model's way
            (Hermes, Qwen, Llama 3.x, Mistral, gpt-oss...) instead of the Airoboros prompt, replies
            are read in the template's tool format, and constrained decoding uses that format's grammar.
        tool_format: the format replies are read in (``"hermes"``, ``"pythonic"``...; ``"auto"``
            sniffs). Default: the chat template's format, else Airoboros JSON/YAML (sniffed).
    """

    def __init__(
        self,
        tools: ToolSet,
        backend: Backend | None = None,
        *,
        format: Format = "json",
        template: str | ChatTemplate = "airoboros-2",
        max_retries: int = 2,
        max_new_tokens: int = 256,
        constrained: bool | None = None,
        show_types: bool = False,
        tool_selector: Callable[[str], Sequence[str] | None] | None = None,
        max_tools: int | None = None,
        max_prompt_tokens: int | None = None,
        allow: Iterable[str] | None = None,
        deny: Iterable[str] | None = None,
        approve: Approver | None = None,
        audit_log: str | Path | IO[str] | AuditLog | None = None,
        schema_for: Callable[[str], dict[str, Any] | None] | None = None,
        chat_template: NativeTemplate | None = None,
        tool_format: str | ToolCallFormat | None = None,
    ) -> None:
        if not isinstance(tools, ToolSet):
            raise UsageError(f"Router needs a ToolSet, got {type(tools).__name__}")
        if format not in ("json", "yaml"):
            raise UsageError(f"format must be 'json' or 'yaml', got {format!r}")
        if max_retries < 0:
            raise UsageError(f"max_retries must be >= 0, got {max_retries}")
        self.tools = _restrict(tools, allow, deny)
        self.approve = approve
        self.audit = (
            audit_log if isinstance(audit_log, AuditLog) or audit_log is None else AuditLog(audit_log)
        )
        self.backend = backend if backend is not None else _default_backend()
        self.format: Format = format
        self.template = get_template(template)
        self.max_retries = max_retries
        self.max_new_tokens = max_new_tokens
        if constrained and format != "json":
            raise UsageError(
                "constrained decoding produces JSON calls: use format='json' with constrained=True"
            )
        self.constrained = format == "json" if constrained is None else constrained
        self.show_types = show_types
        if tool_selector is None and (max_tools is not None or max_prompt_tokens is not None):
            tool_selector = _retrieval_selector(self.tools, max_tools, max_prompt_tokens)
        self.tool_selector = tool_selector
        self.schema_for = schema_for
        self.native = NativeSetup.build(chat_template, tool_format) if chat_template is not None else None
        self.tool_format: str | ToolCallFormat = (
            self.native.parse_format if self.native is not None else (tool_format or "auto")
        )

    # ---------------------------------------------------------------------------------- requests

    def _start(self, command: str) -> _Conversation:
        if not isinstance(command, str) or not command.strip():
            raise UsageError("a command must be non-empty text")
        names = None
        if self.tool_selector is not None:
            chosen = self.tool_selector(command)
            names = None if chosen is None else list(chosen)
            unknown = [n for n in names or () if n not in self.tools]
            if unknown:
                raise UsageError(
                    "tool_selector chose tools this router does not have (unknown, or not allowed): "
                    + ", ".join(map(str, unknown))
                )
        if self.native is not None:
            return _Conversation(command, command, names=names)
        body = self.tools.prompt(command, self.format, tools=names, show_types=self.show_types)
        return _Conversation(command, body, names=names)

    def _request(self, conv: _Conversation) -> Request:
        native = self.native
        if native is not None:
            return Request(
                prompt=native.prompt(self.tools, conv.names, conv.command, conv.history, conv.user_turn),
                stop=native.stop,
                max_new_tokens=self.max_new_tokens,
                tools=self.tools,
                user_input=conv.command,
                grammar=native.grammar(self.tools, conv.names) if self.constrained else None,
                kind="call",
            )
        return Request(
            prompt=self.template.render(conv.user_turn, conv.history),
            stop=self.template.stop,
            max_new_tokens=self.max_new_tokens,
            stop_when=end_of_first_call if self.format == "json" else end_of_first_yaml_call,
            tools=self.tools,
            user_input=conv.command,
            format=self.format,
            schema=self._schema(conv.command) if self.constrained else None,
            kind="call",
        )

    def _schema(self, command: str) -> dict[str, Any]:
        schema = self.schema_for(command) if self.schema_for is not None else None
        return schema if schema is not None else self.tools.json_schema(copy=False)

    def _absorb(
        self, conv: _Conversation, request: Request, completion: Completion, generate_s: float
    ) -> None:
        """Parse one reply into the conversation; on a model mistake, queue a repair turn."""
        start = time.perf_counter()
        error: ModelOutputError | None = None
        try:
            conv.call = self.tools.parse(completion.text, format=self.tool_format)
        except ModelOutputError as exc:
            error = exc
        parse_s = time.perf_counter() - start
        conv.attempts.append(Attempt(request.prompt, completion.text, error, completion, generate_s, parse_s))
        if error is not None:
            conv.history.append((conv.user_turn, completion.text))
            repair = NATIVE_REPAIR if self.native is not None else _REPAIR
            conv.user_turn = repair.format(error=error.feedback, fmt=self.format.upper())
            conv.error = error

    def _done(self, conv: _Conversation) -> bool:
        retries = 0 if getattr(self.backend, "deterministic", False) is True else self.max_retries
        return conv.call is not None or len(conv.attempts) > retries

    def _finish(self, conv: _Conversation) -> Call:
        if conv.call is not None:
            return conv.call
        assert conv.error is not None
        conv.error.attempts = list(conv.attempts)
        raise conv.error

    # ------------------------------------------------------------------------------------- sync

    def select(self, command: str) -> Call:
        """Choose and validate a call for ``command`` without running it."""
        return self._select(command)[0]

    def _select(self, command: str) -> tuple[Call, list[Attempt]]:
        conv = self._start(command)
        while not self._done(conv):
            request = self._request(conv)
            start = time.perf_counter()
            completion = self.backend.complete(request)
            self._absorb(conv, request, completion, time.perf_counter() - start)
        return self._finish(conv), conv.attempts

    def route(
        self, command: str, *, dry_run: bool = False, before_dispatch: Callable[[Call], None] | None = None
    ) -> RouteResult:
        """Select a call for ``command`` and run it (unless ``dry_run``).

        ``before_dispatch(call)``, when given, runs after validation and right before the handler
        (e.g. to journal the dispatch); if it raises, the handler does not run.

        Raises:
            ModelOutputError: retries ran out; ``.attempts`` holds every attempt.
            HandlerError: the handler raised; ``.call`` and ``.attempts`` are attached.
        """
        try:
            call, attempts = self._select(command)
        except ModelOutputError as exc:
            self._record(command, error=exc, attempts=exc.attempts)
            raise
        result = RouteResult(command, call, attempts=attempts)
        if not dry_run:
            if before_dispatch is not None:
                before_dispatch(call)
            try:
                self._dispatch(result)
            except DispatchError as exc:
                self._record(command, result=result, error=exc)
                raise
        self._record(command, result=result, dry_run=dry_run)
        return result

    # ------------------------------------------------------------------------- plans, answers

    def plan(self, question: str, *, dialect: Dialect = "evidence", max_steps: int = 20) -> Plan:
        """Ask the model for a validated reWOO plan over this router's tools (with repairs)."""
        from funcroute.plans import answer as answering

        return answering.plan(self, question, dialect=dialect, max_steps=max_steps)

    def answer(self, question: str, *, use_plan: bool = False, max_output_chars: int = 4000) -> Answer:
        """Route (or plan) and run ``question``, then answer it from the results in closed context."""
        from funcroute.plans import answer as answering

        return answering.answer(self, question, use_plan=use_plan, max_output_chars=max_output_chars)

    def close(self) -> None:
        """Close the audit log when the router opened it. The backend is the caller's to close."""
        if self.audit is not None:
            self.audit.close()

    def __enter__(self) -> Router:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _record(
        self,
        command: str,
        *,
        result: RouteResult | None = None,
        error: BaseException | None = None,
        attempts: list[Any] | None = None,
        dry_run: bool = False,
    ) -> None:
        if self.audit is not None:
            self.audit.record(command, result=result, error=error, attempts=attempts, dry_run=dry_run)

    def _dispatch(self, result: RouteResult) -> None:
        assert result.call is not None
        start = time.perf_counter()
        try:
            result.value = self.tools.dispatch(result.call, approve=self.approve)
        except DispatchError as exc:
            exc.attempts = list(result.attempts)
            result.dispatched = isinstance(exc, HandlerError)  # it started: raised, or is still running
            raise
        finally:
            result.dispatch_s = time.perf_counter() - start
        result.dispatched = True

    # ------------------------------------------------------------------------------------ async

    async def aselect(self, command: str) -> Call:
        """Async twin of :meth:`select`."""
        return (await self._aselect(command))[0]

    async def _aselect(self, command: str) -> tuple[Call, list[Attempt]]:
        conv = self._start(command)
        while not self._done(conv):
            request = self._request(conv)
            start = time.perf_counter()
            completion = await self.backend.acomplete(request)
            self._absorb(conv, request, completion, time.perf_counter() - start)
        return self._finish(conv), conv.attempts

    async def aroute(
        self, command: str, *, dry_run: bool = False, before_dispatch: Callable[[Call], None] | None = None
    ) -> RouteResult:
        """Async twin of :meth:`route`."""
        try:
            call, attempts = await self._aselect(command)
        except ModelOutputError as exc:
            self._record(command, error=exc, attempts=exc.attempts)
            raise
        result = RouteResult(command, call, attempts=attempts)
        if not dry_run:
            if before_dispatch is not None:
                before_dispatch(call)
            start = time.perf_counter()
            try:
                result.value = await self.tools.adispatch(call, approve=self.approve)
            except DispatchError as exc:
                exc.attempts = list(attempts)
                result.dispatched = isinstance(exc, HandlerError)
                result.dispatch_s = time.perf_counter() - start
                self._record(command, result=result, error=exc)
                raise
            finally:
                result.dispatch_s = time.perf_counter() - start
            result.dispatched = True
        self._record(command, result=result, dry_run=dry_run)
        return result

    # ------------------------------------------------------------------------------------ batch

    def route_many(
        self,
        commands: Iterable[str],
        *,
        dry_run: bool = False,
        progress: bool | None = None,
        on_result: Callable[[int, RouteResult], None] | None = None,
        before_dispatch: Callable[[int, Call], None] | None = None,
    ) -> list[RouteResult]:
        """Route many commands, batching model calls where the backend can batch.

        Failures do not stop the batch: each result carries its own ``error``. Each round sends
        every unfinished conversation to the backend at once, so repairs are batched too.

        Args:
            commands: the commands.
            dry_run: validate only; do not run handlers.
            progress: show a progress bar (default: only when stderr is a terminal).
            on_result: called with ``(index, result)`` as each command finishes, for streaming
                results to disk.
            before_dispatch: called with ``(index, call)`` right before a handler runs (e.g. to
                journal the dispatch); if it raises, that handler does not run.
        """
        from tqdm import tqdm

        commands = list(commands)
        results: list[RouteResult | None] = [None] * len(commands)
        live: dict[int, _Conversation] = {}
        bar = tqdm(total=len(commands), disable=None if progress is None else not progress, unit="cmd")

        def finish(index: int, result: RouteResult) -> None:
            results[index] = result
            self._record(result.command, result=result, error=result.error, dry_run=dry_run)
            bar.update(1)
            if on_result is not None:
                on_result(index, result)

        try:
            for index, command in enumerate(commands):
                try:
                    live[index] = self._start(command)
                except FuncRouteError as exc:
                    finish(index, RouteResult(str(command), error=exc))
            while live:
                order = list(live)
                requests = [self._request(live[i]) for i in order]
                start = time.perf_counter()
                try:
                    completions = self.backend.complete_many(requests)
                except FuncRouteError as exc:
                    completions = self._one_by_one(requests, exc)
                if len(completions) != len(requests):
                    raise BackendError(
                        getattr(self.backend, "name", "backend"),
                        f"returned {len(completions)} completions for {len(requests)} requests",
                    )
                elapsed = (time.perf_counter() - start) / max(len(requests), 1)
                for index, request, completion in zip(order, requests, completions, strict=True):
                    conv = live[index]
                    if isinstance(completion, FuncRouteError):
                        del live[index]
                        finish(index, RouteResult(conv.command, attempts=conv.attempts, error=completion))
                        continue
                    self._absorb(conv, request, completion, elapsed)
                    if self._done(conv):
                        del live[index]
                        finish(index, self._settle(conv, dry_run, index, before_dispatch))
        finally:
            bar.close()
        return [r for r in results if r is not None]

    def _one_by_one(self, requests: Sequence[Request], batch_error: FuncRouteError) -> list[Any]:
        """After a failed batch, retry each request alone so one bad request fails only itself."""
        out: list[Any] = []
        for request in requests:
            try:
                out.append(self.backend.complete(request))
            except FuncRouteError as exc:
                out.append(exc)
        return out

    def _settle(
        self,
        conv: _Conversation,
        dry_run: bool,
        index: int = 0,
        before_dispatch: Callable[[int, Call], None] | None = None,
    ) -> RouteResult:
        result = RouteResult(conv.command, conv.call, attempts=conv.attempts)
        if conv.call is None:
            assert conv.error is not None
            conv.error.attempts = list(conv.attempts)
            result.error = conv.error
            return result
        if not dry_run:
            if before_dispatch is not None:
                before_dispatch(index, conv.call)
            try:
                self._dispatch(result)
            except DispatchError as exc:
                result.error = exc
        return result


def _retrieval_selector(
    tools: ToolSet, k: int | None, max_tokens: int | None
) -> Callable[[str], Sequence[str] | None]:
    """A tool selector that builds the retrieval index on first need (never, for small catalogs)."""
    lock = threading.Lock()
    state: dict[str, Callable[[str], Sequence[str]]] = {}

    def select(command: str) -> Sequence[str] | None:
        if max_tokens is None and k is not None and len(tools) <= k:
            return None  # everything fits: the encoder is never loaded
        with lock:
            if "select" not in state:
                from funcroute.offline.retrieval import ToolIndex

                state["select"] = ToolIndex(tools).selector(k=k, max_tokens=max_tokens)
        return state["select"](command)

    return select


def _restrict(tools: ToolSet, allow: Iterable[str] | None, deny: Iterable[str] | None) -> ToolSet:
    """The ToolSet a router may use: ``tools`` limited by an allowlist and a denylist."""
    if allow is None and deny is None:
        return tools
    allowed = list(tools.names) if allow is None else list(allow)
    denied = set(deny or ())
    unknown = sorted({*allowed, *denied} - set(tools.names))
    if unknown:
        raise UsageError(f"allow/deny name tools the ToolSet does not have: {', '.join(unknown)}")
    kept = [name for name in dict.fromkeys(allowed) if name not in denied]
    if not kept:
        raise UsageError("allow/deny leave the router no tools to use")
    return tools.subset(kept)


def _default_backend() -> Backend:
    """The offline semantic backend, used when no model is given."""
    try:
        from funcroute.offline.selector import SemanticBackend
    except ImportError as exc:
        raise UsageError(
            "no backend given and the offline semantic backend is unavailable; pass a backend "
            f"(TransformersBackend, OpenAIBackend, ScriptedBackend...): {exc}"
        ) from None
    backend: Backend = SemanticBackend()
    return backend
