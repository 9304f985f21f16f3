"""A cascade: the offline router answers when it is sure, a small model decides the rest.

The two halves fail in opposite ways. The semantic router picks the right tool almost always but
refuses when it cannot extract a required value; a small instruct model understands the command but
cannot be trusted to pick among many tools. So, per command:

1. **fast** — the semantic router alone, when its tool clears the threshold, every required value
   was extracted from the command, the values validate, no text value is a word of the tool's
   own name (the extractor's telltale misreading) and the tool's name is not the opposite of what
   the command asks (``calculate_sunrise`` for "sunset", :mod:`funcroute.offline.opposites`):
   milliseconds, no model call;
2. **refused** at once when even the closest tool is far from the command (below
   ``irrelevance_floor``): nothing to ask the model about;
3. **model** — otherwise the model writes the call, constrained to valid calls (grounded values
   only, by default), with the repair loop on validation errors. It is shown the semantic router's
   tool alone when that tool leads the runner-up by ``sole_margin`` (the router picks the tool far
   more reliably than a small model, which tends to take the first tool listed), else the ``top_k``
   tools the retrieval ranks first; with ``abstain`` it may also answer "no suitable function".
   A name that runs on into a number another parameter holds ("league": "NBA 2021", "season":
   "2021") loses the number.
   A text value the model gives two parameters though the command says it once is placed again:
   the extractor's reading keeps it where it belongs and the model rewrites the call without it
   elsewhere ("location": "Seattle", "genre": "Seattle" for "concerts in Seattle that play jazz");
4. **refused** with both reasons when both fail (:class:`NoSuitableFunctionError`), and where the
   model's call has the look of a command no tool serves: a copied value for which the command
   gives no other ("number": 30, "skip": 30 for "the closest integer to 30"), a copied number, a
   value copied again in the rewritten call; a tool named for the opposite of what the command
   asks; when no tool cleared the semantic threshold, a text value of words that name nothing
   (``state: "What's"``; :func:`~funcroute.constrain.grounding.unnamed_values`), a choice the
   command does not say (``round: "First Round"``) or one end of two names the command relates
   ("from Los Angeles to New York" as ``location: "Los Angeles"``); when one did, a value holding
   nothing but function words and words of the tool's or the parameter's own name
   (``player: "player"``).

:class:`Cascade` is a :class:`~funcroute.routing.selector.Selector`: ``Router(tools,
selector=Cascade(model, template=...))`` dispatches, audits and batches its calls like any other,
and each :class:`~funcroute.routing.results.RouteResult` says which path served it and why.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from funcroute.backends.base import Backend
from funcroute.constrain.grounding import (
    contested,
    deduplicated,
    grounded_schema,
    grounding_kind,
    provenance,
    unnamed_values,
    without_values,
)
from funcroute.errors import ModelOutputError, NoSuitableFunctionError, UsageError
from funcroute.offline.extract import fill_arguments
from funcroute.offline.fit import is_maker
from funcroute.offline.measures import other_measure
from funcroute.offline.opposites import clash
from funcroute.offline.relations import related_pair
from funcroute.offline.words import STOPWORDS, content_words, name_words, word_spans, words
from funcroute.routing.llm import LLMSelector
from funcroute.routing.selector import Selection, Selector, checked_command
from funcroute.tools.call import Call
from funcroute.tools.declining import no_call_tool
from funcroute.tools.toolset import ToolSet

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from funcroute.offline.selector import Decision, SemanticSelector
    from funcroute.prompts.templates import ChatTemplate
    from funcroute.routing.results import Attempt

__all__ = ["DEFAULT_IRRELEVANCE_FLOOR", "DEFAULT_SOLE_MARGIN", "Cascade"]

#: Below this semantic score no tool is near the command: refuse without asking the model. Tuned on
#: BFCL ``irrelevance`` against ``simple_python`` (bench/cascade.py).
DEFAULT_IRRELEVANCE_FLOOR = 0.2
#: The model is shown the semantic router's tool alone when it leads the runner-up by this much.
DEFAULT_SOLE_MARGIN = 0.05


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
        sole_margin: show the model only the semantic router's tool when its score leads the
            runner-up's by at least this much (``None``: always the ``top_k``).
        abstain: also offer the model a ``none`` choice ("no suitable function"); choosing it is a
            refusal.
        fast_path: let the semantic router answer alone when it is sure (the default). ``False``:
            the semantic router still shortlists and refuses, but the model writes every call —
            slower (a model call per command), and on BFCL more accurate (README, "The cascade").
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
        sole_margin: float | None = DEFAULT_SOLE_MARGIN,
        abstain: bool = False,
        fast_path: bool = True,
    ) -> None:
        from funcroute.offline.selector import SemanticSelector

        if top_k < 1:
            raise UsageError(f"top_k must be at least 1, got {top_k}")
        self.top_k = top_k
        self.irrelevance_floor = irrelevance_floor
        self.semantic = semantic or SemanticSelector()
        self.grounded = grounded
        self.sole_margin = sole_margin
        self.abstain = abstain
        self.fast_path = fast_path
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
        fast = self._fast(tools, command, decision) if self.fast_path or self.model is None else ""
        if isinstance(fast, Selection):
            return fast
        why = decision.reason or fast or _missing(decision)
        if not self.fast_path and decision.routed and not decision.missing and not decision.doubt:
            why = f"{decision.function!r} scores {decision.score:.2f} (the model writes every call)"
        if self.model is None:
            raise _refused(command, decision, f"semantic router: {why} (no model)")
        if decision.score < self.irrelevance_floor:
            floor = self.irrelevance_floor
            raise _refused(
                command,
                decision,
                f"no tool is near the command (best score {decision.score:.2f} < {floor:.2f})",
            )
        names = self._shortlist(tools, command, decision)
        if self.grounded:
            grounded = grounded_schema(tools, names, command)
            if grounded is None:
                raise _refused(
                    command,
                    decision,
                    f"semantic router: {why}; none of {names} can be called with values the command gives",
                )
            schema = grounded
            names = [v["properties"]["function"]["const"] for v in schema["anyOf"]]
        else:  # the shortlist's own schema: the grammar must not allow tools the prompt does not show
            schema = tools.subset(names).json_schema()
        shown, abstain = tools, None
        if self.abstain:
            shown, abstain = _with_abstention(tools, names)
            names = [*names, abstain]
            schema = {"anyOf": [*schema["anyOf"], *shown.subset([abstain]).json_schema()["anyOf"]]}
        try:
            chosen = self.model.select(shown, command, names=names, schema=schema)
        except ModelOutputError as exc:
            raise _refused(command, decision, f"semantic router: {why}; model: {exc}", exc.attempts) from exc
        call = chosen.call
        if call.function == abstain:
            offered = names[:-1]
            reason = f"semantic router: {why}; model: none of {offered} fits"
            raise _refused(command, decision, reason, chosen.attempts)
        opposite = _not_for(call.function, command)
        if opposite:
            raise _refused(command, decision, f"semantic router: {why}; model: {opposite}", chosen.attempts)
        reason = f"semantic router: {why}; the model chose among {names}"
        if self.grounded:
            chosen, reason = self._grounded_checks(shown, command, schema, chosen, decision, why, reason)
        call = chosen.call
        half = "" if decision.routed else _half_of_pair(call, command)
        if half:
            # "the fastest route from Los Angeles to New York" as get_closest_airport("Los Angeles"):
            # in the recorded cascade runs of all six BFCL categories, 2 such calls of a tool no
            # score cleared, both of irrelevant commands (funcroute.offline.relations).
            reason = f"semantic router: {why}; model: {call.function} {half}"
            raise _refused(command, decision, reason, chosen.attempts)
        chosen.path, chosen.reason = "model", reason
        chosen.provenance = dict(provenance(command, tools[call.function].schema, call.arguments))
        return chosen

    def _shortlist(self, tools: ToolSet, command: str, decision: Decision) -> list[str]:
        """The tools the model is shown: the router's own when it clearly leads, else the top ``k``."""
        ranked = decision.candidates
        if self.sole_margin is not None and ranked:
            best, score = ranked[0]
            runner_up = max((s for _, s in ranked[1:]), default=float("-inf"))
            if score - runner_up >= self.sole_margin:
                return [best]
        return [name for name, _ in self.semantic.index(tools).search(command, self.top_k)]

    def _fast(self, tools: ToolSet, command: str, decision: Decision) -> Selection | str:
        """The semantic router's call, when it is sure, every required value is given and they validate.

        A decision with a doubt (values it cannot tell apart, a quote it has no place for) still takes
        the fast path: sending those to the model left accuracy unchanged on BFCL and cut the fast-path
        share of ``simple_python`` from 57% to 43% (p50 0.01 s -> 2.4 s; bench/cascade.py).

        Returns:
            The selection, else why the router's call does not stand alone ("" when it made none).
        """
        if not decision.routed or decision.missing or decision.function is None:
            return ""
        chosen = f"{decision.function!r} scores {decision.score:.2f}"
        guessed = _guessed_text(tools, decision)
        if guessed:
            return f"{chosen}, but {guessed}"  # the extractor took the tool's own name for a value
        opposite = _not_for(decision.function, command)
        if opposite:
            return f"{chosen}, but {opposite}"  # "sunset" for calculate_sunrise: the model may find another
        try:
            call = tools.validate(decision.function, decision.arguments)
        except ModelOutputError as exc:
            return f"{chosen}, but its values do not validate ({exc})"  # let the model try
        reason = f"{chosen} and every required value is given"
        origins = provenance(command, tools[call.function].schema, call.arguments)
        return Selection(call, path="fast", reason=reason, provenance=dict(origins))

    def _grounded_checks(
        self,
        tools: ToolSet,
        command: str,
        schema: dict[str, Any],
        chosen: Selection,
        decision: Decision,
        why: str,
        reason: str,
    ) -> tuple[Selection, str]:
        """The model's call held to what the command says.

        Each value in one place, no list item repeated, and a refusal where no tool fits and the
        call's text names nothing.

        Returns:
            The selection and its reason, both updated.

        Raises:
            NoSuitableFunctionError: a copied value the command gives nothing else for
                (:meth:`_one_slot_each`), or a text value that names nothing
                (:func:`~funcroute.constrain.grounding.unnamed_values`): any such value, or a choice
                the command does not say, when no tool cleared the semantic threshold; a hollow one
                (:func:`_hollow`) when one did.
        """
        chosen, replaced = self._one_slot_each(tools, command, schema, chosen, decision)
        if replaced:
            reason += f"; it gave {replaced} to two parameters, so it wrote the call again"
        call = chosen.call
        unrepeated = deduplicated(command, call.arguments)
        if unrepeated is not None:
            try:
                chosen.call = call = tools.validate(call.function, unrepeated)
                reason += "; a list item it repeated was dropped"
            except ModelOutputError:
                pass  # the list without the repeat does not validate: the model's call stands
        addressed = _addressed(tools, call)
        piece = "" if addressed else _piece(tools, call)
        split = _run_on_split(tools, call) if piece else None
        if split is not None:
            trimmed, how = split
            try:
                chosen.call = call = tools.validate(call.function, trimmed)
                reason += f"; {how}"
                piece = _piece(tools, call)
            except ModelOutputError:
                pass  # the name without the number does not validate: the split stands and is refused
        unnamed = unnamed_values(command, tools[call.function].schema, call.arguments)
        if unnamed and decision.routed:
            # The semantic router chose this tool, so a loose phrase may well be the value meant
            # ("forest", "plasma membrane": refusing every unnamed phrase cost 15 right calls of
            # 321 on simple_python); only one with nothing in it but words of the tool's or the
            # parameter's own name, or function words, is the look of a tool that does not fit:
            # ``state: "What"``, ``player: "player"``.
            unnamed = _hollow(call, unnamed)
        if piece:
            # A small model splits one name over two parameters ("player_name": "LeBron James",
            # "season": "James"); on BFCL a right call has a value inside another in 4 of 1,911,
            # 2 of them a number run on into a name, which _run_on_split takes off.
            reason = f"semantic router: {why}; model: {call.function} with {piece}"
            raise _refused(command, decision, reason, chosen.attempts)
        unsaid = [] if decision.routed or addressed else _unsaid_choices(command, tools, call)
        if unsaid:
            # No tool cleared the semantic threshold, and the model filled a choice the command
            # never says ("round": "First Round" for "Who won the 1996 NBA championships?"): it
            # filled the tool's form, not the command's. On BFCL such calls were right in 1 of 34
            # (all six categories' recorded cascade runs); the others were wrong or irrelevant.
            said = f"{_listed(call, unsaid)}, a choice the command does not say"
            raise _refused(command, decision, f"semantic router: {why}; model: {said}", chosen.attempts)
        if unnamed and not addressed:
            # The look of a command no tool serves. Simulated on BFCL: 21 of 240 irrelevance
            # commands refused this way, at a cost of 1 of 400 simple_python and 2 of 200 multiple.
            said = f"{_listed(call, unnamed)}, words of the command that name no value"
            raise _refused(command, decision, f"semantic router: {why}; model: {said}", chosen.attempts)
        return chosen, reason

    def _one_slot_each(
        self, tools: ToolSet, command: str, schema: dict[str, Any], chosen: Selection, decision: Decision
    ) -> tuple[Selection, str]:
        """The model's call again where it gave one value of the command to several parameters.

        A small model copies the value it just wrote into the next parameter. The parameter that
        keeps the value is the one the offline extractor gives it to (it reads "300 meters" as a
        distance), else the first written; the model writes the call once more with the value kept
        there and taken from the others. The second call stands only if it is valid.

        Returns:
            The selection, and the contested value as written (``""`` when nothing was replaced).

        Raises:
            NoSuitableFunctionError: without the copy a required parameter has no value the command
                gives.
        """
        call = chosen.call
        contests = contested(command, call.arguments)
        if not contests or self.model is None:
            return chosen, ""
        variant = next(
            (v for v in schema["anyOf"] if v["properties"]["function"].get("const") == call.function), None
        )
        if variant is None:
            return chosen, ""
        if decision.function == call.function:
            extracted = decision.arguments
        else:
            extracted = fill_arguments(
                command, tools[call.function].schema, tool_name=call.function
            ).arguments
        removed: dict[str, Any] = {}
        pinned: dict[str, Any] = {}
        for contest in contests:
            keepers = contest.keepers(extracted)
            for name in contest.names:
                if name in keepers:
                    pinned[name] = call.arguments[name]
                else:
                    removed[name] = contest.value
        narrowed = without_values(variant, removed, pinned)
        numeric = [c for c in contests if isinstance(c.value, (int, float))]
        copied = f"semantic router: {decision.reason or _missing(decision)}; model: {call.function}"
        if narrowed is None or numeric:
            # Without the copy a required parameter has no value the command gives: the model
            # copied for want of one, which is a call of a tool the command does not fill (on BFCL
            # a right call gives a value more often than the command says it in 2 of 1,911 cases).
            # A number copied is refused even where other numbers remain: the model did not know
            # which number fills which parameter, and its second try shuffles them (on BFCL's
            # simple_python, multiple and irrelevance, 0 of 9 such second calls were right).
            copies = "; ".join(
                f"{contest.value!r} to {', '.join(contest.names)} (said {contest.said}x)"
                for contest in contests
            )
            why = (
                f"the command gives no other value for {', '.join(removed)}"
                if narrowed is None
                else "so which number fills which parameter is a guess"
            )
            raise _refused(
                command,
                decision,
                f"{copied} gives {copies}, and {why}",
                chosen.attempts,
            )
        try:
            again = self.model.select(tools, command, names=[call.function], schema={"anyOf": [narrowed]})
        except ModelOutputError:
            return chosen, ""
        again.attempts = [*chosen.attempts, *again.attempts]
        still = contested(command, again.call.arguments)
        if still:
            # It copied again, another value this time: it has no value for that parameter.
            raise _refused(
                command,
                decision,
                f"{copied} copies a value again when asked not to "
                f"({still[0].value!r} to {', '.join(still[0].names)})",
                again.attempts,
            )
        return again, repr(contests[0].value)

    def close(self) -> None:
        """The model backend is the caller's to close; nothing else is held."""


def _not_for(function: str, command: str) -> str:
    """Why the tool is not for what the command asks: named for its opposite, or another measure."""
    return clash(function, command) or other_measure(function, command)


def _half_of_pair(call: Call, command: str) -> str:
    """How the call uses one end of two names the command relates and drops the other ("" if not)."""
    pair = related_pair(command)
    if pair is None:
        return ""
    text = " ".join(_texts(call.arguments)).lower()
    used = [end for end in pair if end.lower() in text]
    if len(used) != 1:
        return ""
    return f"uses {used[0]!r} of the two names the command relates ({pair[0]!r} and {pair[1]!r})"


def _texts(value: Any) -> Iterator[str]:
    """Every text inside an argument value (nested objects and lists included)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)


def _addressed(tools: ToolSet, call: Call) -> bool:
    """Whether the call uses an e-mail address, URL or path of the command (grounded: it was said).

    Such a call is anchored in the command even when its other text values are loose phrases:
    "Send bob@example.com an e-mail saying the build is green" (subject "the build is green").
    """
    properties = tools[call.function].schema.get("properties") or {}
    return any(
        grounding_kind(name, spec) in ("email", "url", "file")
        for name, spec in properties.items()
        if name in call.arguments and isinstance(spec, dict)
    )


def _pieces(tools: ToolSet, call: Call) -> Iterator[tuple[str, str]]:
    """Pairs (piece, holder) of span-grounded text parameters, the piece's words a run in the holder's.

    Equal values are not pieces, and only values grounded to spans of the command count (an
    address inside a free-text subject is no split name).
    """
    properties = tools[call.function].schema.get("properties") or {}
    texts = {
        name: f" {' '.join(words(value))} "
        for name, value in call.arguments.items()
        if isinstance(value, str)
        and words(value)
        and isinstance(properties.get(name), dict)
        and grounding_kind(name, properties[name]) == "span"
    }
    for name, text in texts.items():
        for other, whole in texts.items():
            if other != name and text != whole and text in whole:
                yield name, other


def _piece(tools: ToolSet, call: Call) -> str:
    """A span-grounded value of the call that is a run of words inside another ("" if none).

    ``season: "James"`` beside ``player_name: "LeBron James"``.
    """
    for name, other in _pieces(tools, call):
        return f"{name}={call.arguments[name]!r}, a piece of {other}={call.arguments[other]!r}"
    return ""


def _run_on_split(tools: ToolSet, call: Call) -> tuple[dict[str, Any], str] | None:
    """The call with another parameter's value taken off the name it runs on into, and what was done.

    ``league: "NBA 2021"`` beside ``season: "2021"``: the model wrote the span that runs on into
    the season, and the season is said once, so the league is "NBA". Likewise a name that begins
    with the maker a ``brand`` or ``make`` parameter holds (:func:`~funcroute.offline.fit.is_maker`):
    ``model: "Fender American Professional II Stratocaster"`` beside ``brand: "Fender"`` is the
    model "American Professional II Stratocaster". Only numbers at either end, or a maker at the
    start, are taken off, and only where what is left holds no number and begins and ends with
    words that are no function words: a split name (``season: "James"`` beside ``"LeBron
    James"``, ``team: "La"`` beside ``"La Liga"``) is no such piece and stays refused. On BFCL a
    right call of ``simple_python`` and ``multiple`` had the piece-in-holder shape in 4 cases, 2
    of them a number run on.
    """
    for name, other in _pieces(tools, call):
        piece, holder = call.arguments[name], call.arguments[other]
        taken = words(piece)
        numbers = all(word[0].isdigit() for word in taken)
        spans = word_spans(holder)
        held = [holder[start:end].lower() for start, end in spans]
        if held[: len(taken)] == taken and (numbers or is_maker(name)):
            rest = holder[spans[len(taken) - 1][1] :].lstrip(_CUT)
        elif held[-len(taken) :] == taken and numbers:
            rest = holder[: spans[-len(taken)][0]].rstrip(_CUT)
        else:
            continue  # a number inside the name ("Apollo 11 mission"), or a piece of a split name
        rest_words = words(rest)
        if (
            not rest_words
            or any(word[0].isdigit() for word in rest_words)
            or rest_words[0] in STOPWORDS
            or rest_words[-1] in STOPWORDS
        ):
            continue
        arguments = {**call.arguments, other: rest}
        return arguments, f"{other}={holder!r} holds {name}={piece!r} too, so {other}={rest!r}"
    return None


#: What is cut from the end of a name when a number is taken off it ("La Liga 2020-2021").
_CUT = " \t\n,;:-\u2013\u2014/("


def _listed(call: Call, names: Sequence[str]) -> str:
    """The call's function and the named arguments, as a refusal shows them."""
    return f"{call.function} with " + ", ".join(f"{name}={call.arguments[name]!r}" for name in names)


def _unsaid_choices(command: str, tools: ToolSet, call: Call) -> list[str]:
    """The parameters whose value is one of their choices that the command does not write."""
    origins = provenance(command, tools[call.function].schema, call.arguments)
    return [name for name, origin in origins.items() if origin.source == "choice"]


def _hollow(call: Call, names: list[str]) -> list[str]:
    """The parameters among ``names`` whose text holds no word but the tool's or its own name's.

    Function words do not count ("What", "the most"); words are compared stemmed ("holy book" is
    hollow for ``search_holy_books``); a value with a number in it is never hollow.
    """
    own = set(content_words(name_words(call.function)))
    hollow = []
    for name in names:
        text = str(call.arguments[name])
        if any(word[0].isdigit() for word in words(text)):
            continue  # "2019-2020" holds numbers: a value, whatever its words
        if set(content_words(text)) <= own | set(content_words(name_words(name))):
            hollow.append(name)
    return hollow


def _guessed_text(tools: ToolSet, decision: Decision) -> str:
    """A text value of the semantic router's call that is a word of the tool's own name ("" if none).

    ``category: "BoardGameGeek"`` for ``BoardGameGeek.recommend`` is the extractor mistaking the
    tool's name for a value: on BFCL such calls are right in 1 of 14 (``simple_python``,
    ``multiple``, ``live_simple``), so they go to the model. (An optional text read from unquoted
    words looked like another such sign on ``simple_python``, 5 of 15 right, but on
    ``live_simple`` those calls are right more often than the rest, 15 of 29: not a rule.)
    """
    assert decision.function is not None
    properties = tools[decision.function].schema.get("properties") or {}
    own_name = (
        f" {name_words(decision.function)} "  # "BoardGameGeek.recommend" -> " board game geek recommend "
    )
    for name, value in decision.arguments.items():
        spec = properties.get(name)
        if not isinstance(value, str) or (isinstance(spec, dict) and ("enum" in spec or "const" in spec)):
            continue  # not text, or a choice the command named
        words = name_words(value)
        if words and f" {words} " in own_name:
            return f"{name}={value!r} is a word of the tool's own name"
    return ""


def _refused(
    command: str, decision: Decision, reason: str, attempts: Sequence[Attempt] = ()
) -> NoSuitableFunctionError:
    refusal = NoSuitableFunctionError(command, reason, decision.candidates, decision.missing)
    refusal.attempts = list(attempts)  # what the model tried before the refusal
    return refusal


def _missing(decision: Decision) -> str:
    if decision.missing:
        return f"{decision.function!r} fits, but the command does not give {', '.join(decision.missing)}"
    if decision.doubt:
        return f"{decision.function!r} fits, but {decision.doubt}"
    return "no confident choice"


def _with_abstention(tools: ToolSet, names: list[str]) -> tuple[ToolSet, str]:
    """The shortlist as a ToolSet of its own plus a "no suitable function" tool, named so as not to clash."""
    abstain = next(n for n in ("none", "no_suitable_function", "no_suitable_function_") if n not in names)
    shown = tools.subset(names)
    shown.add(no_call_tool(abstain))
    return shown, abstain
