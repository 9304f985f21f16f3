"""A cascade: the offline router answers when it is sure, a small model decides the rest.

The two halves fail in opposite ways. The semantic router (:class:`SemanticBackend`) picks the right
tool almost always but refuses when it cannot extract a required value; a small instruct model
understands the command but cannot be trusted to pick among many tools. So, per command:

1. **fast** — the semantic router alone, when its tool clears the threshold and every required
   value was extracted from the command (milliseconds, no model call);
2. **refused** at once when even the closest tool is far from the command (below
   ``irrelevance_floor``): nothing to ask the model about;
3. **model** — otherwise the model chooses among the ``top_k`` tools the retrieval ranks first,
   constrained to valid calls of those tools, with the router's repair loop on validation errors;
4. **refused** with the reason when both fail.

Every :class:`CascadeResult` says which path served it and why.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from funcroute.backends.base import Backend
from funcroute.constrain.grounding import Provenance, grounded_schema, provenance
from funcroute.errors import FuncRouteError, ModelOutputError, UsageError
from funcroute.routing.router import Router, RouteResult
from funcroute.tools.call import Call
from funcroute.tools.tool import Approver
from funcroute.tools.toolset import ToolSet

if TYPE_CHECKING:
    from funcroute.offline.selector import Decision, SemanticBackend
    from funcroute.prompts.templates import ChatTemplate

__all__ = ["Cascade", "CascadeResult", "Path"]

Path = Literal["fast", "model", "refused"]

#: Below this semantic score no tool is near the command: refuse without asking the model. Tuned on
#: BFCL ``irrelevance`` against ``simple_python`` (bench/cascade.py).
DEFAULT_IRRELEVANCE_FLOOR = 0.2


@dataclass
class CascadeResult:
    """The outcome of one command through the cascade.

    Attributes:
        command: the user's command.
        path: ``fast`` (semantic router alone), ``model`` (the small model decided) or ``refused``.
        reason: why this path served it (or why it was refused).
        route: the router's result when a call was made (its ``attempts`` are the model's turns).
        error: the last error when refused (or the handler's error).
        decision: what the semantic router concluded.
        elapsed_s: seconds for the whole cascade.
        candidates: the shortlist the model chose among (``model`` path).
        provenance: where each top-level argument came from (a span of the command, a choice, the
            default, or generated).
    """

    command: str
    path: Path
    reason: str
    route: RouteResult | None = None
    error: FuncRouteError | None = None
    decision: Decision | None = None
    elapsed_s: float = 0.0
    candidates: list[str] = field(default_factory=list)
    provenance: dict[str, Provenance] = field(default_factory=dict)

    @property
    def call(self) -> Call | None:
        """The validated call, or ``None`` when refused."""
        return None if self.route is None else self.route.call

    @property
    def value(self) -> Any:
        """The handler's result (``None`` when not dispatched)."""
        return None if self.route is None else self.route.value

    @property
    def ok(self) -> bool:
        """Whether a call was made (and dispatched, if asked) without error."""
        return self.route is not None and self.error is None


class Cascade:
    """Route commands through the semantic router first and a small model second.

    Args:
        tools: the tools.
        model: the model backend (e.g. ``load_preset("smollm2").backend``); ``None``: semantic only.
        template: the model's chat template (e.g. ``load_preset("smollm2").template``).
        top_k: how many retrieved tools the model chooses among.
        irrelevance_floor: below this semantic score the command is refused without the model.
        semantic: the semantic router (default: a new :class:`SemanticBackend`).
        max_retries: repair turns for the model.
        max_new_tokens: the model's budget per attempt.
        approve: approval callback for tools registered with ``confirm=True``.
        grounded: limit grounded parameters (numbers, e-mails, URLs, paths) to values the command
            gives (:mod:`funcroute.constrain.grounding`); a shortlisted tool whose required grounded value is
            not given is not offered to the model.
    """

    def __init__(
        self,
        tools: ToolSet,
        model: Backend | None = None,
        *,
        template: str | ChatTemplate = "airoboros-2",
        top_k: int = 3,
        irrelevance_floor: float = DEFAULT_IRRELEVANCE_FLOOR,
        semantic: SemanticBackend | None = None,
        max_retries: int = 1,
        max_new_tokens: int = 192,
        approve: Approver | None = None,
        grounded: bool = True,
    ) -> None:
        from funcroute.offline.selector import SemanticBackend

        if top_k < 1:
            raise UsageError(f"top_k must be at least 1, got {top_k}")
        self.tools = tools
        self.model = model
        self.top_k = top_k
        self.irrelevance_floor = irrelevance_floor
        self.semantic = semantic or SemanticBackend()
        self.approve = approve
        self._model: Router | None = None
        if model is not None:
            self._model = Router(
                tools,
                model,
                template=template,
                max_retries=max_retries,
                max_new_tokens=max_new_tokens,
                constrained=True,
                tool_selector=self._shortlist,
                schema_for=self._schema,
                approve=approve,
            )
        self.grounded = grounded
        self._shortlists: dict[str, list[str]] = {}
        self._schemas: dict[str, dict[str, Any]] = {}

    def _shortlist(self, command: str) -> list[str] | None:
        return self._shortlists.get(command)

    def _schema(self, command: str) -> dict[str, Any] | None:
        return self._schemas.get(command)

    def route(self, command: str, *, dry_run: bool = False) -> CascadeResult:
        """Route one command; never raises for a refusal (see :attr:`CascadeResult.path`).

        Raises:
            UsageError: the command is empty.
        """
        if not isinstance(command, str) or not command.strip():
            raise UsageError("a command must be non-empty text")
        start = time.perf_counter()
        decision = self.semantic.decide(self.tools, command)
        result = self._route(command, decision, dry_run)
        result.decision = decision
        call = result.call
        if call is not None:
            result.provenance = provenance(command, self.tools[call.function].schema, call.arguments)
        result.elapsed_s = time.perf_counter() - start
        return result

    def _fast_route(self, command: str, decision: Decision, dry_run: bool) -> RouteResult:
        """The semantic router's decision as a route: validated and dispatched like any reply."""
        from funcroute.backends.scripted import ScriptedBackend
        from funcroute.offline.selector import render_reply

        assert decision.function is not None
        reply = ScriptedBackend([render_reply(decision.function, decision.arguments)])
        return Router(self.tools, reply, max_retries=0, approve=self.approve).route(command, dry_run=dry_run)

    def _route(self, command: str, decision: Decision, dry_run: bool) -> CascadeResult:
        if decision.routed and not decision.missing:
            try:
                route = self._fast_route(command, decision, dry_run)
            except ModelOutputError:
                pass  # the extracted values do not validate: let the model try
            except FuncRouteError as exc:  # the handler failed: the call was right, report it
                return CascadeResult(command, "fast", "the handler failed", error=exc)
            else:
                reason = (
                    f"{decision.function!r} scores {decision.score:.2f} and every required value is given"
                )
                return CascadeResult(command, "fast", reason, route=route)
        if self._model is None:
            return CascadeResult(
                command, "refused", f"semantic router: {decision.reason or _missing(decision)} (no model)"
            )
        if decision.score < self.irrelevance_floor:
            floor = self.irrelevance_floor
            reason = f"no tool is near the command (best score {decision.score:.2f} < {floor:.2f})"
            return CascadeResult(command, "refused", reason)
        names = [name for name, _ in self.semantic.index(self.tools).search(command, self.top_k)]
        why = decision.reason or _missing(decision)
        if self.grounded:
            schema = grounded_schema(self.tools, names, command)
            if schema is None:
                reason = (
                    f"semantic router: {why}; none of {names} can be called with values the command gives"
                )
                return CascadeResult(command, "refused", reason, candidates=names)
            self._schemas[command] = schema
            names = [v["properties"]["function"]["const"] for v in schema["anyOf"]]
        self._shortlists[command] = names
        try:
            route = self._model.route(command, dry_run=dry_run)
        except ModelOutputError as exc:
            return CascadeResult(
                command, "refused", f"semantic router: {why}; model: {exc}", error=exc, candidates=names
            )
        except FuncRouteError as exc:
            return CascadeResult(command, "model", "the handler failed", error=exc, candidates=names)
        finally:
            self._shortlists.pop(command, None)
            self._schemas.pop(command, None)
        return CascadeResult(
            command,
            "model",
            f"semantic router: {why}; the model chose among {names}",
            route=route,
            candidates=names,
        )


def _missing(decision: Decision) -> str:
    if decision.missing:
        return f"{decision.function!r} fits, but the command does not give {', '.join(decision.missing)}"
    return "no confident choice"
