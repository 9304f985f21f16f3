"""The offline router: choose a tool by sentence similarity and fill its parameters, no LLM at all.

:class:`SemanticBackend` reads the structured parts of a request (the ToolSet and the user's
command), scores every tool with a :class:`~funcroute.offline.retrieval.ToolIndex`, fills the parameters of
the best few with :func:`~funcroute.offline.extract.fill_arguments`, and answers with an ordinary Airoboros
reply, so the router's parse -> validate -> dispatch path runs exactly as for a model.

A tool is chosen only when its score clears ``threshold``; otherwise, or when the chosen tool needs a
parameter the command does not give, the backend raises :class:`NoSuitableFunctionError` with the
reason instead of guessing. It is deterministic, so a retry could only repeat the same answer.

The best few tools by :attr:`~funcroute.offline.retrieval.Scores.selection` get their parameters filled;
each loses score for the share of its required parameters the command does not give. The winner by
selection score is chosen if its :attr:`~funcroute.offline.retrieval.Scores.relevance` (minus the same
penalty) clears the threshold. ``bench/semantic.py`` measures the weights and threshold on BFCL.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml

from funcroute.backends.base import Backend, Completion, Request
from funcroute.errors import BackendError, CallValidationError, NoSuitableFunctionError
from funcroute.offline.extract import Filled, fill_arguments
from funcroute.offline.retrieval import ToolIndex

if TYPE_CHECKING:
    from funcroute.offline.encoder import Encoder, Matrix
    from funcroute.tools.toolset import ToolSet

__all__ = ["DEFAULT_THRESHOLD", "Decision", "NoSuitableFunctionError", "SemanticBackend"]

#: Default score below which no tool is chosen. On BFCL it keeps ~97% of ``simple_python`` routed.
DEFAULT_THRESHOLD = 0.33
_FILL_WEIGHT = 0.15  # score lost when no required parameter can be filled (scaled by the share missing)
_CANDIDATES = 3  # tools whose parameters are filled before the final choice
_QUOTE = re.compile(
    r"(?<![A-Za-z])'[^'\n]{1,200}'(?![A-Za-z])|\"[^\"\n]{1,200}\"|“[^”\n]{1,200}”|`[^`\n]{1,200}`"
)
_INPUT_LINE = re.compile(r"^Input:\s*(.+?)\s*$", re.M)
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


class SemanticBackend(Backend):
    """Route commands with the MiniLM sentence encoder; no language model is called.

    Args:
        threshold: the lowest score at which a tool is chosen (see :data:`DEFAULT_THRESHOLD`).
        encoder: the sentence encoder (default: the process-wide shared one).
        candidates: how many of the best-scoring tools get their parameters filled before the final
            choice (a tool whose parameters the command fills can overtake a slightly closer one).
    """

    name = "semantic"
    #: The same command always gets the same answer: the router does not retry it.
    deterministic = True
    # Calls no language model and downloads nothing: the pytest plugin lets tests use it freely.
    __funcroute_offline__ = True

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
        intent = _QUOTE.sub("something", command)
        vector = self.encoder.encode_query(intent)
        scores = index.scores(intent, query_vector=vector)
        relevance, selection = scores.relevance, scores.selection
        if len(relevance) == 0:
            return Decision(None, reason="the ToolSet is empty")
        ranked: list[tuple[float, float, str, Filled, str]] = []
        for row in np.argsort(-selection, kind="stable")[: self.candidates]:
            tool = tools[scores.names[row]]
            filled = fill_arguments(command, tool.schema, choose=self._chooser(vector))
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

    def complete(self, request: Request) -> Completion:
        """Answer with an Airoboros reply for the best tool, or raise NoSuitableFunctionError."""
        if request.kind != "call":
            raise BackendError(self.name, f"can only choose function calls, not {request.kind!r} replies")
        command = request.user_input or _input_from_prompt(request.prompt)
        if request.tools is None or not command:
            raise BackendError(
                self.name, "the request carries no ToolSet or user input (route through a Router)"
            )
        decision = self.decide(request.tools, command)
        if decision.function is None:
            raise NoSuitableFunctionError(command, decision.reason, decision.candidates, decision.missing)
        if decision.missing:
            listed = ", ".join(repr(m) for m in decision.missing)
            raise NoSuitableFunctionError(
                command,
                f"{decision.function!r} fits best, but the command does not give its required "
                f"parameter(s) {listed}",
                decision.candidates,
                decision.missing,
            )
        if decision.doubt:
            raise NoSuitableFunctionError(
                command, f"{decision.function!r} fits best, but {decision.doubt}", decision.candidates
            )
        return Completion(text=render_reply(decision.function, decision.arguments, request.format))

    def complete_many(self, requests: Sequence[Request]) -> list[Completion]:
        """Complete several requests, embedding all their commands in one batched pass first."""
        commands = [r.user_input or _input_from_prompt(r.prompt) or "" for r in requests]
        self.encoder.encode_queries([c for c in commands if c][:4096])
        return [self.complete(r) for r in requests]


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


def render_reply(function: str, arguments: dict[str, Any], format: str = "json") -> str:
    """An Airoboros-style reply calling ``function`` with ``arguments``, as JSON or YAML."""
    payload = {"function": function, "params": arguments}
    if format == "yaml":
        return yaml.safe_dump(payload, sort_keys=False, allow_unicode=True)
    return json.dumps(payload, indent=2, ensure_ascii=False)


def _input_from_prompt(prompt: str) -> str | None:
    """The ``Input:`` line of a rendered selection prompt (for requests built by hand)."""
    found = _INPUT_LINE.findall(prompt)
    return found[-1] if found else None
