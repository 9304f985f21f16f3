"""The offline router: choose a tool by sentence similarity and fill its parameters, no LLM at all.

:class:`SemanticSelector` scores every tool of a ToolSet against the command with a
:class:`~funcroute.offline.retrieval.ToolIndex`, fills the parameters of the best few with
:func:`~funcroute.offline.extract.fill_arguments`, and returns its decision as a validated call:
it is a :class:`~funcroute.routing.selector.Selector`, not a backend, so no reply text is rendered
and parsed back.

A tool is chosen only when its score clears ``threshold``; otherwise, or when the chosen tool needs a
parameter the command does not give, it raises :class:`NoSuitableFunctionError` with the reason
instead of guessing. It is deterministic.

The best few tools by :attr:`~funcroute.offline.retrieval.Scores.selection` get their parameters filled;
each loses score for the share of its required parameters the command does not give. The winner by
selection score is chosen if its :attr:`~funcroute.offline.retrieval.Scores.relevance` (minus the same
penalty) clears the threshold. ``bench/semantic.py`` measures the weights and threshold on BFCL.
"""

from __future__ import annotations

import logging
import re
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from funcroute.errors import CallValidationError, NoSuitableFunctionError
from funcroute.offline.extract import Filled, fill_arguments
from funcroute.offline.mentions import unwrapped
from funcroute.offline.retrieval import ToolIndex
from funcroute.routing.selector import Outcome, Selection, Selector, checked_command

if TYPE_CHECKING:
    from funcroute.offline.encoder import Encoder, Matrix
    from funcroute.tools.toolset import ToolSet

__all__ = ["DEFAULT_THRESHOLD", "Decision", "SemanticSelector"]

#: Default score below which no tool is chosen. On BFCL it keeps ~97% of ``simple_python`` routed.
DEFAULT_THRESHOLD = 0.33
_FILL_WEIGHT = 0.15  # score lost when no required parameter can be filled (scaled by the share missing)
_CANDIDATES = 3  # tools whose parameters are filled before the final choice
_QUOTE = re.compile(
    r"(?<![A-Za-z])'[^'\n]{1,200}'(?![A-Za-z])|\"[^\"\n]{1,200}\"|“[^”\n]{1,200}”|`[^`\n]{1,200}`"
)
_log = logging.getLogger(__name__)
_announced = False


@dataclass(frozen=True)
class Decision:
    """What the semantic router concluded for one command.

    Attributes:
        function: the chosen tool, or ``None`` when none fits.
        arguments: the parameters filled from the command.
        score: the chosen (or best) tool's fit: relevance minus the missing-parameter penalty.
        missing: required parameters of that tool the command does not give.
        candidates: the tools considered, best first, with their fit scores, as ``(name, score)``.
        reason: why nothing was chosen (empty when a tool was chosen).
        doubt: why the chosen tool's call would not be what was asked (a quoted value it has no
            place for, values that do not validate, values it cannot tell apart); the call is then
            refused like one with ``missing`` values. Empty when there is no doubt.
    """

    function: str | None
    arguments: dict[str, Any] = field(default_factory=dict)
    score: float = 0.0
    missing: list[str] = field(default_factory=list)
    candidates: list[tuple[str, float]] = field(default_factory=list)
    reason: str = ""
    doubt: str = ""

    @property
    def routed(self) -> bool:
        """Whether a tool was chosen (its arguments may still be incomplete, see ``missing``)."""
        return self.function is not None


class SemanticSelector(Selector):
    """Route commands with the MiniLM sentence encoder; no language model is called.

    Args:
        threshold: the lowest score at which a tool is chosen (see :data:`DEFAULT_THRESHOLD`).
        encoder: the sentence encoder (default: the process-wide shared one).
        candidates: how many of the best-scoring tools get their parameters filled before the final
            choice (a tool whose parameters the command fills can overtake a slightly closer one).
    """

    name = "semantic"
    #: The same command always gets the same answer.
    deterministic = True

    def __init__(
        self,
        threshold: float = DEFAULT_THRESHOLD,
        *,
        encoder: Encoder | None = None,
        candidates: int = _CANDIDATES,
    ) -> None:
        self.threshold = threshold
        self.candidates = max(1, candidates)
        self._encoder = encoder
        self._indexes: weakref.WeakKeyDictionary[ToolSet, ToolIndex] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        global _announced
        if not _announced:  # once per process: a batch creates one backend, a test suite many
            _announced = True
            _log.info("routing with the offline semantic backend (MiniLM similarity); no LLM is called")

    @property
    def encoder(self) -> Encoder:
        """The sentence encoder (loaded on first use)."""
        if self._encoder is None:
            from funcroute.offline.encoder import shared_encoder

            self._encoder = shared_encoder()
        return self._encoder

    def index(self, tools: ToolSet) -> ToolIndex:
        """The (cached) index of ``tools``; it follows tools added later."""
        with self._lock:
            index = self._indexes.get(tools)
            if index is None:
                index = ToolIndex(tools, encoder=self.encoder)
                self._indexes[tools] = index
            return index

    def decide(self, tools: ToolSet, command: str) -> Decision:
        """Choose a tool and fill its parameters for ``command`` (no exception for "no call")."""
        index = self.index(tools)
        # Quoted text is a value ("play 'Abbey Road'"), not what the command asks for: the tool is
        # chosen from the command with each quote as a placeholder; values come from the original.
        # A command wholly in quotes is no quoted value (:func:`~funcroute.offline.mentions.unwrapped`).
        intent = _QUOTE.sub("something", unwrapped(command))
        vector = self.encoder.encode_query(intent)
        scores = index.scores(intent, query_vector=vector)
        relevance, selection = scores.relevance, scores.selection
        if len(relevance) == 0:
            return Decision(None, reason="the ToolSet is empty")
        ranked: list[tuple[float, float, str, Filled, str]] = []
        for row in np.argsort(-selection, kind="stable")[: self.candidates]:
            tool = tools[scores.names[row]]
            filled = fill_arguments(command, tool.schema, choose=self._chooser(vector), tool_name=tool.name)
            doubt = _doubt(tools, tool.name, filled)
            # A tool that leaves part of the command unused, or whose values do not validate,
            # fits worse than one that takes everything.
            # (Ambiguous values say nothing about the tool's fit: they only stop the call.)
            penalty = _FILL_WEIGHT * (1.0 - filled.fill_ratio) + (
                _FILL_WEIGHT if doubt and not filled.ambiguous else 0.0
            )
            ranked.append(
                (float(selection[row]) - penalty, float(relevance[row]) - penalty, tool.name, filled, doubt)
            )
        ranked.sort(key=lambda item: -item[0])
        _, score, best, filled, doubt = ranked[0]
        candidates = [(name, round(fit, 4)) for _, fit, name, _, _ in ranked]
        if score < self.threshold:
            shown, limit = _distinct(score, self.threshold)
            reason = f"the closest tool, {best!r}, scores {shown}, below the threshold {limit}"
            return Decision(None, score=score, missing=filled.missing, candidates=candidates, reason=reason)
        return Decision(best, filled.arguments, score, filled.missing, candidates, doubt=doubt)

    def _chooser(self, vector: Matrix) -> Any:
        def choose(_command: str, options: Sequence[str]) -> list[float]:
            return [float(x) for x in self.encoder.encode(list(options)) @ vector]

        return choose

    def select(self, tools: ToolSet, command: str) -> Selection:
        """The decision for ``command`` as a validated call, or :class:`NoSuitableFunctionError`."""
        checked_command(command)
        decision = self.decide(tools, command)
        refusal = refusal_reason(decision)
        if refusal or decision.function is None:
            raise NoSuitableFunctionError(command, refusal, decision.candidates, decision.missing)
        call = tools.validate(decision.function, decision.arguments)
        reason = f"{decision.function!r} scores {decision.score:.2f} and every required value is given"
        return Selection(call, path="semantic", reason=reason)

    def select_many(
        self,
        tools: ToolSet,
        commands: Sequence[str],
        on_done: Callable[[int, Outcome], None] | None = None,
    ) -> list[Outcome]:
        """Decide several commands, embedding them all in one batched pass first."""
        self.encoder.encode_queries([c for c in commands if isinstance(c, str) and c][:4096])
        return super().select_many(tools, commands, on_done)


def refusal_reason(decision: Decision) -> str:
    """Why ``decision`` is no call ("" when it is one): no tool fits, a value is missing, or doubt."""
    if decision.function is None:
        return decision.reason
    if decision.missing:
        listed = ", ".join(repr(m) for m in decision.missing)
        return (
            f"{decision.function!r} fits best, but the command does not give its required "
            f"parameter(s) {listed}"
        )
    if decision.doubt:
        return f"{decision.function!r} fits best, but {decision.doubt}"
    return ""


def _doubt(tools: ToolSet, name: str, filled: Filled) -> str:
    """Why a call of ``name`` with ``filled`` would not be what was asked ("" when there is no doubt)."""
    if filled.unplaced:
        listed = ", ".join(repr(u) for u in filled.unplaced)
        return f"it has no parameter for {listed}, which the command gives"
    if filled.missing:
        return ""  # reported as missing values by the caller
    if filled.ambiguous:
        listed = ", ".join(repr(a) for a in filled.ambiguous)
        return f"the command does not say which of its values is {listed}"
    try:
        tools.validate(name, filled.arguments)
    except CallValidationError as exc:
        return "the values read from the command do not fit it: " + "; ".join(map(str, exc.problems))
    return ""


def _distinct(score: float, threshold: float) -> tuple[str, str]:
    """Score and threshold with enough digits to show they differ (0.3287 vs 0.33, not 0.33 vs 0.33)."""
    for digits in range(2, 7):
        shown, limit = f"{score:.{digits}f}", f"{threshold:.{digits}f}"
        if shown != limit:
            return shown, limit
    return f"{score:.6f}", f"{threshold:.6f}"
