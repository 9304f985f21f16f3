"""A cascade: the offline router answers when it is sure, a small model decides the rest.

The two halves fail in opposite ways. The semantic router picks the right tool almost always but
refuses when it cannot extract a required value; a small instruct model understands the command but
cannot be trusted to pick among many tools. So, per command:

1. **fast** — the semantic router alone, when its tool clears the threshold, every required value
   was extracted from the command and the values validate (milliseconds, no model call);
2. **refused** at once when even the closest tool is far from the command (below
   ``irrelevance_floor``): nothing to ask the model about;
3. **model** — otherwise the model chooses among the ``top_k`` tools the retrieval ranks first,
   constrained to valid calls of those tools (grounded values only, by default), with the repair
   loop on validation errors;
4. **refused** with both reasons when both fail (:class:`NoSuitableFunctionError`).

:class:`Cascade` is a :class:`~funcroute.routing.selector.Selector`: ``Router(tools,
selector=Cascade(model, template=...))`` dispatches, audits and batches its calls like any other,
and each :class:`~funcroute.routing.results.RouteResult` says which path served it and why.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from funcroute.backends.base import Backend
from funcroute.constrain.grounding import grounded_schema, provenance
from funcroute.errors import ModelOutputError, NoSuitableFunctionError, UsageError
from funcroute.routing.llm import LLMSelector
from funcroute.routing.selector import Selection, Selector, checked_command
from funcroute.tools.toolset import ToolSet

if TYPE_CHECKING:
    from funcroute.offline.selector import Decision, SemanticSelector
    from funcroute.prompts.templates import ChatTemplate

__all__ = ["DEFAULT_IRRELEVANCE_FLOOR", "Cascade"]

#: Below this semantic score no tool is near the command: refuse without asking the model. Tuned on
#: BFCL ``irrelevance`` against ``simple_python`` (bench/cascade.py).
DEFAULT_IRRELEVANCE_FLOOR = 0.2


class Cascade(Selector):
    """Choose with the semantic router first and a small model second.

    Args:
        model: the model backend (e.g. ``load_preset("smollm2").backend``); ``None``: semantic only.
        template: the model's chat template (e.g. ``load_preset("smollm2").template``).
        top_k: how many retrieved tools the model chooses among.
        irrelevance_floor: below this semantic score the command is refused without the model.
        semantic: the semantic router (default: a new :class:`SemanticSelector`).
        max_retries: repair turns for the model.
        max_new_tokens: the model's budget per attempt.
        grounded: limit grounded parameters (numbers, e-mails, URLs, paths) to values the command
            gives (:mod:`funcroute.constrain.grounding`); a shortlisted tool whose required grounded
            value is not given is not offered to the model.
    """

    name = "cascade"

    def __init__(
        self,
        model: Backend | None = None,
        *,
        template: str | ChatTemplate = "airoboros-2",
        top_k: int = 3,
        irrelevance_floor: float = DEFAULT_IRRELEVANCE_FLOOR,
        semantic: SemanticSelector | None = None,
        max_retries: int = 1,
        max_new_tokens: int = 192,
        grounded: bool = True,
    ) -> None:
        from funcroute.offline.selector import SemanticSelector

        if top_k < 1:
            raise UsageError(f"top_k must be at least 1, got {top_k}")
        self.top_k = top_k
        self.irrelevance_floor = irrelevance_floor
        self.semantic = semantic or SemanticSelector()
        self.grounded = grounded
        self.model = (
            None
            if model is None
            else LLMSelector(
                model,
                template=template,
                max_retries=max_retries,
                max_new_tokens=max_new_tokens,
                constrained=True,
            )
        )
        self.deterministic = self.model is None or self.model.deterministic

    def select(self, tools: ToolSet, command: str) -> Selection:
        """The fast path, else the model among the closest tools, else a refusal with both reasons."""
        checked_command(command)
        decision = self.semantic.decide(tools, command)
        fast = self._fast(tools, command, decision)
        if fast is not None:
            return fast
        why = decision.reason or _missing(decision)
        if self.model is None:
            raise _refused(command, decision, f"semantic router: {why} (no model)")
        if decision.score < self.irrelevance_floor:
            floor = self.irrelevance_floor
            raise _refused(
                command,
                decision,
                f"no tool is near the command (best score {decision.score:.2f} < {floor:.2f})",
            )
        names = [name for name, _ in self.semantic.index(tools).search(command, self.top_k)]
        schema = None
        if self.grounded:
            schema = grounded_schema(tools, names, command)
            if schema is None:
                raise _refused(
                    command,
                    decision,
                    f"semantic router: {why}; none of {names} can be called with values the command gives",
                )
            names = [v["properties"]["function"]["const"] for v in schema["anyOf"]]
        try:
            chosen = self.model.select(tools, command, names=names, schema=schema)
        except ModelOutputError as exc:
            refusal = _refused(command, decision, f"semantic router: {why}; model: {exc}")
            refusal.attempts = list(exc.attempts)
            raise refusal from exc
        call = chosen.call
        chosen.path, chosen.reason = "model", f"semantic router: {why}; the model chose among {names}"
        chosen.provenance = dict(provenance(command, tools[call.function].schema, call.arguments))
        return chosen

    def _fast(self, tools: ToolSet, command: str, decision: Decision) -> Selection | None:
        """The semantic router's call, when it is sure, every required value is given and they validate.

        A decision with a doubt (values it cannot tell apart, a quote it has no place for) still takes
        the fast path: sending those to the model left accuracy unchanged on BFCL and cut the fast-path
        share of ``simple_python`` from 57% to 43% (p50 0.01 s -> 2.4 s; bench/cascade.py).
        """
        if not decision.routed or decision.missing or decision.function is None:
            return None
        try:
            call = tools.validate(decision.function, decision.arguments)
        except ModelOutputError:
            return None  # the extracted values do not validate: let the model try
        reason = f"{decision.function!r} scores {decision.score:.2f} and every required value is given"
        origins = provenance(command, tools[call.function].schema, call.arguments)
        return Selection(call, path="fast", reason=reason, provenance=dict(origins))

    def close(self) -> None:
        """The model backend is the caller's to close; nothing else is held."""


def _refused(command: str, decision: Decision, reason: str) -> NoSuitableFunctionError:
    return NoSuitableFunctionError(command, reason, decision.candidates, decision.missing)


def _missing(decision: Decision) -> str:
    if decision.missing:
        return f"{decision.function!r} fits, but the command does not give {', '.join(decision.missing)}"
    if decision.doubt:
        return f"{decision.function!r} fits, but {decision.doubt}"
    return "no confident choice"
