"""The Router: command in, validated call (and its result) out.

One route is: a :class:`~funcroute.routing.selector.Selector` chooses a validated call (an LLM with
its repair loop, the offline semantic router, or a cascade of both) → the Router checks it may run
(allow/deny, approval) → dispatches it → writes one audit line. Every model round trip is recorded
on the result. Handler exceptions are never retried: a model cannot fix a bug in a tool.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from time import perf_counter  # a global, not an attribute read: 8 reads per route
from typing import IO, TYPE_CHECKING, Any

from funcroute.backends.base import Backend
from funcroute.errors import DispatchError, FuncRouteError, HandlerError, UsageError
from funcroute.formats import ToolCallFormat
from funcroute.prompts.native import NativeTemplate
from funcroute.prompts.selection import Format
from funcroute.prompts.templates import ChatTemplate
from funcroute.routing.audit import AuditLog
from funcroute.routing.llm import LLMSelector, ToolSelector
from funcroute.routing.results import Attempt, RouteResult
from funcroute.routing.selector import Outcome, Selection, Selector, checked_command
from funcroute.tools.call import Call
from funcroute.tools.tool import Approver
from funcroute.tools.toolset import ToolSet

if TYPE_CHECKING:
    from funcroute.plans.answer import Answer
    from funcroute.plans.plan import Plan
    from funcroute.prompts.planning import Dialect

__all__ = ["Attempt", "RouteResult", "Router"]


class Router:
    """Route natural-language commands to validated calls of a ToolSet's functions.

    Args:
        tools: the tools the model may call.
        backend: the model: the router asks it through an
            :class:`~funcroute.routing.llm.LLMSelector` built from the options below. ``None`` and
            no ``selector``: the offline semantic router
            (:class:`~funcroute.offline.selector.SemanticSelector`, no LLM).
        selector: how calls are chosen, instead of ``backend`` (e.g. a
            :class:`~funcroute.routing.cascade.Cascade`, a tuned ``SemanticSelector``, your own).
        allow: only these tools may be used by this router (shown, validated, dispatched).
        deny: these tools may not be used by this router.
        approve: approval callback for tools registered with ``confirm=True``.
        audit_log: a path or text stream; every routed command is appended as one JSON line.

    The other keyword arguments (``format``, ``template``, ``max_retries``, ``max_new_tokens``,
    ``constrained``, ``show_types``, ``tool_selector``, ``max_tools``, ``max_prompt_tokens``,
    ``schema_for``, ``chat_template``, ``tool_format``) configure the LLM selector; see
    :class:`~funcroute.routing.llm.LLMSelector`.
    """

    def __init__(
        self,
        tools: ToolSet,
        backend: Backend | None = None,
        *,
        selector: Selector | None = None,
        format: Format = "json",
        template: str | ChatTemplate = "airoboros-2",
        max_retries: int = 2,
        max_new_tokens: int = 256,
        constrained: bool | None = None,
        show_types: bool = False,
        tool_selector: ToolSelector | None = None,
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
        if backend is not None and selector is not None:
            raise UsageError("give a backend or a selector, not both (a selector brings its own model)")
        if selector is not None and not isinstance(selector, Selector):
            raise UsageError(f"selector must be a Selector, got {type(selector).__name__}")
        self.tools = _restrict(tools, allow, deny)
        self.approve = approve
        self.audit = (
            audit_log if isinstance(audit_log, AuditLog) or audit_log is None else AuditLog(audit_log)
        )
        self.backend = backend
        if selector is None:
            if backend is None:
                selector = _default_selector()
            else:
                selector = LLMSelector(
                    backend,
                    format=format,
                    template=template,
                    max_retries=max_retries,
                    max_new_tokens=max_new_tokens,
                    constrained=constrained,
                    show_types=show_types,
                    tool_selector=tool_selector,
                    max_tools=max_tools,
                    max_prompt_tokens=max_prompt_tokens,
                    schema_for=schema_for,
                    chat_template=chat_template,
                    tool_format=tool_format,
                )
        self.selector = selector

    # ------------------------------------------------------------------------------------- sync

    def select(self, command: str) -> Call:
        """Choose and validate a call for ``command`` without running it."""
        return self.selector.select(self.tools, checked_command(command)).call

    def route(
        self, command: str, *, dry_run: bool = False, before_dispatch: Callable[[Call], None] | None = None
    ) -> RouteResult:
        """Select a call for ``command`` and run it (unless ``dry_run``).

        ``before_dispatch(call)``, when given, runs after validation and right before the handler
        (e.g. to journal the dispatch); if it raises, the handler does not run.

        Raises:
            NoSuitableFunctionError: the selector refused (no tool fits).
            ModelOutputError: retries ran out; ``.attempts`` holds every attempt.
            BackendError: the model failed.
            HandlerError: the handler raised; ``.call`` and ``.attempts`` are attached.
        """
        start = perf_counter()
        try:
            if not isinstance(command, str) or not command.strip():  # checked_command(), inlined
                checked_command(command)
            selection = self.selector.select(self.tools, command)
        except FuncRouteError as exc:
            self._record(command, error=exc, attempts=_attempts_of(exc))
            raise
        # _result() and _finish_dispatch(), written out: this is the path of every routed command,
        # and each call saved is a frame less per route (issue 15's 10 µs budget).
        call = selection.call
        provenance = selection.provenance
        if provenance and call.provenance is None:
            call.provenance = provenance
        result = RouteResult(  # positional, in RouteResult's field order (keywords cost more)
            command,
            call,
            None,  # value
            selection.attempts,
            False,  # dispatched
            0.0,  # dispatch_s
            None,  # error
            selection.path,
            selection.reason,
            provenance,
            perf_counter() - start,  # select_s
        )
        if not dry_run:
            if before_dispatch is not None:
                before_dispatch(call)
            begun = perf_counter()
            try:
                result.value = self.tools.dispatch(call, approve=self.approve)
            except DispatchError as exc:
                self._dispatch_failed(result, exc, begun)
                self._record(command, result=result, error=exc)
                raise
            result.dispatch_s, result.dispatched = perf_counter() - begun, True
        if self.audit is not None:
            self._record(command, result=result, dry_run=dry_run)
        return result

    # ------------------------------------------------------------------------------------ async

    async def aselect(self, command: str) -> Call:
        """Async twin of :meth:`select`."""
        return (await self.selector.aselect(self.tools, checked_command(command))).call

    async def aroute(
        self, command: str, *, dry_run: bool = False, before_dispatch: Callable[[Call], None] | None = None
    ) -> RouteResult:
        """Async twin of :meth:`route`."""
        start = perf_counter()
        try:
            selection = await self.selector.aselect(self.tools, checked_command(command))
        except FuncRouteError as exc:
            self._record(command, error=exc, attempts=_attempts_of(exc))
            raise
        result = _result(command, selection, perf_counter() - start)
        if not dry_run:
            if before_dispatch is not None:
                before_dispatch(selection.call)
            begun = perf_counter()
            try:
                result.value = await self.tools.adispatch(selection.call, approve=self.approve)
            except DispatchError as exc:
                self._dispatch_failed(result, exc, begun)
                self._record(command, result=result, error=exc)
                raise
            result.dispatch_s, result.dispatched = perf_counter() - begun, True
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

        Failures do not stop the batch: each result carries its own ``error``. With a model, each
        round sends every unfinished conversation to the backend at once, so repairs are batched too.

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
        bar = tqdm(total=len(commands), disable=None if progress is None else not progress, unit="cmd")
        start = perf_counter()

        def settle(index: int, outcome: Outcome) -> None:
            command = str(commands[index])
            if isinstance(outcome, FuncRouteError):
                result = RouteResult(command, attempts=_attempts_of(outcome), error=outcome)
            else:
                result = _result(command, outcome, perf_counter() - start)
                if not dry_run:
                    try:
                        if before_dispatch is not None:
                            before_dispatch(index, outcome.call)
                        self._finish_dispatch(result)
                    except DispatchError as exc:
                        result.error = exc
            results[index] = result
            self._record(command, result=result, error=result.error, dry_run=dry_run)
            bar.update(1)
            if on_result is not None:
                on_result(index, result)

        try:
            # What is not a command is refused here, once, for every selector; the rest are batched.
            valid: list[int] = []
            for index, command in enumerate(commands):
                try:
                    checked_command(command)
                except UsageError as exc:
                    settle(index, exc)
                else:
                    valid.append(index)
            self.selector.select_many(
                self.tools, [commands[i] for i in valid], on_done=lambda k, outcome: settle(valid[k], outcome)
            )
        finally:
            bar.close()
        return [r for r in results if r is not None]

    # ------------------------------------------------------------------------- plans, answers

    def plan(
        self, question: str, *, dialect: Dialect = "evidence", max_steps: int = 20, grounded: bool = True
    ) -> Plan:
        """Ask the model for a validated reWOO plan over this router's tools (with repairs).

        ``grounded``: a step may not write an e-mail address, URL or path the question does not give.
        """
        from funcroute.plans.answer import plan

        llm = self._llm("plan")
        return plan(llm, self.tools, question, dialect=dialect, max_steps=max_steps, grounded=grounded)

    def answer(self, question: str, *, use_plan: bool = False, max_output_chars: int = 4000) -> Answer:
        """Route (or plan) and run ``question``, then answer it from the results in closed context."""
        from funcroute.plans.answer import answer_from, blocks_of_plan, blocks_of_route

        llm = self._llm("answer")
        if use_plan:
            planned = self.plan(question).execute(self.tools, max_output_chars=max_output_chars)
            return answer_from(llm, question, blocks_of_plan(planned, max_output_chars), plan=planned)
        routed = self.route(question)
        return answer_from(llm, question, blocks_of_route(routed, max_output_chars), route=routed)

    def _llm(self, what: str) -> LLMSelector:
        if not isinstance(self.selector, LLMSelector):
            name = self.selector.name
            raise UsageError(f"to {what}, the router needs a model backend (its selector is {name!r})")
        return self.selector

    # ---------------------------------------------------------------------------------- helpers

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

    def _finish_dispatch(self, result: RouteResult) -> None:
        """Run the call; on failure the error carries the attempts and says whether the handler started."""
        assert result.call is not None
        begun = perf_counter()
        try:
            result.value = self.tools.dispatch(result.call, approve=self.approve)
        except DispatchError as exc:
            self._dispatch_failed(result, exc, begun)
            raise
        result.dispatch_s, result.dispatched = perf_counter() - begun, True

    @staticmethod
    def _dispatch_failed(result: RouteResult, exc: DispatchError, begun: float) -> None:
        exc.attempts = list(result.attempts)
        result.dispatched = isinstance(exc, HandlerError)  # it started: raised, or is still running
        result.dispatch_s = perf_counter() - begun


def _attempts_of(error: FuncRouteError) -> list[Any]:
    """The model round trips an error carries (model mistakes and dispatch failures do)."""
    return list(getattr(error, "attempts", None) or ())


def _result(command: str, selection: Selection, select_s: float) -> RouteResult:
    if selection.provenance and selection.call.provenance is None:
        selection.call.provenance = selection.provenance
    return RouteResult(
        command,
        selection.call,
        attempts=selection.attempts,
        path=selection.path,
        reason=selection.reason,
        provenance=selection.provenance,
        select_s=select_s,
    )


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


def _default_selector() -> Selector:
    """The offline semantic router, used when no model is given."""
    try:
        from funcroute.offline.selector import SemanticSelector
    except ImportError as exc:
        raise UsageError(
            "no backend given and the offline semantic router is unavailable; pass a backend "
            f"(TransformersBackend, OpenAIBackend, ScriptedBackend...): {exc}"
        ) from None
    return SemanticSelector()
