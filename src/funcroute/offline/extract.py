"""Fill a tool's parameters from a command, by type, only where the command says so.

Values are found as mentions (:mod:`funcroute.offline.mentions`: numbers, quoted text, e-mail addresses,
URLs, file names, dates, names, lists, formulas) and given to the parameter whose name or
description is nearest in the sentence, by words: ``"base 10 and height 5"`` gives ``base=10,
height=5`` whatever the parameter order. Choices (``enum``/``Literal``) match exactly, then fuzzily,
then, for a required one, by meaning through a ``choose`` callback (the semantic backend passes one
backed by the sentence encoder).

Nothing is ever invented: a parameter with no mention stays out (its default applies) and a required
one is reported in :attr:`Filled.missing`.
"""

from __future__ import annotations

import datetime as dt
import difflib
import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from funcroute.offline.fit import HINT_KIND as _HINT_KIND
from funcroute.offline.fit import PLACE_PREPOSITIONS as _PLACE_PREPOSITIONS
from funcroute.offline.fit import Param as _Param
from funcroute.offline.fit import compatible as _compatible
from funcroute.offline.fit import counted_words as _counted_words
from funcroute.offline.fit import counts as _counts
from funcroute.offline.fit import format_date, is_starting_speed, percent_is_fraction
from funcroute.offline.fit import hint as _hint
from funcroute.offline.fit import is_place as _is_place
from funcroute.offline.fit import is_year as _is_year
from funcroute.offline.fit import item_choices as _item_choices
from funcroute.offline.fit import json_types as _types
from funcroute.offline.fit import leaves as _leaves
from funcroute.offline.fit import place_mentions as _place_mentions
from funcroute.offline.fit import proximity as _proximity
from funcroute.offline.fit import shared_cues as _shared_cues
from funcroute.offline.fit import written_names as _written_names
from funcroute.offline.mentions import Mention, find_mentions, without_counts, word_spans
from funcroute.offline.places import (
    coded,
    country_of,
    is_city,
    is_country,
    place_style,
    qualified,
    written_qualified,
)
from funcroute.offline.units import convert, counted_as, measures_named, other_dimension, units_of
from funcroute.offline.units import readings as read_units
from funcroute.offline.words import STOPWORDS, name_words, names_the_tool, stem, words

__all__ = ["Chooser", "Filled", "fill_arguments", "named_choices"]

#: ``choose(command, options) -> similarities``: how close in meaning the command is to each option.
Chooser = Callable[[str, Sequence[str]], Sequence[float]]
#: A choice the command does not name is taken by meaning only when this close...
_MEANING_MIN = 0.3
#: ...and this much closer than the runner-up: "set the oven to 200 degrees" is not the kitchen.
_MEANING_MARGIN = 0.1

_ASKED_UNIT = frozenset("in to into as".split())
_BREAK = re.compile(r"[,;.!?()]")
_NEGATION = re.compile(r"\b(?:no|not|without|exclude|excluding|don ?t|do not|never|disable)\b", re.I)


@dataclass
class Filled:
    """Arguments found for one tool.

    Attributes:
        arguments: the values found, nested like the schema (only parameters the command gave).
        missing: dotted paths of required parameters the command does not give.
        required: how many required parameters there are (nested ones counted).
        unplaced: quoted values of the command that no parameter took: the command gives something
            this tool has no place for, so a call of it would drop part of what was asked.
        ambiguous: parameters whose value was picked among rival values of the same kind with no word
            of the command tying it to the parameter (a guess, so the call is not made).
    """

    arguments: dict[str, Any] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    required: int = 0
    unplaced: list[str] = field(default_factory=list)
    ambiguous: list[str] = field(default_factory=list)

    @property
    def fill_ratio(self) -> float:
        """Share of required parameters found (1.0 when none is required)."""
        return 1.0 - len(self.missing) / self.required if self.required else 1.0


def _choice_mentions(
    tokens: list[str], param: _Param, *, fuzzy_too: bool = True, each: bool = False
) -> list[Mention]:
    """Where the command (its words as written, ``tokens``) names one of the parameter's choices.

    Exactly, else fuzzily; a choice of one letter that is also a small word ("A", "I") only as written.

    ``each``: every choice may be named fuzzily where it is not named exactly, on words no exact
    match took (a list: "avoiding highways and toll roads" names "highways" and "tolls"); else
    fuzzy matches count only when nothing is named exactly.
    """
    found: list[Mention] = []
    lowered = [token.lower() for token in tokens]
    labels = [(o, " ".join(words(str(o)))) for o in param.schema["enum"]]
    for fuzzy in (False, True) if fuzzy_too else (False,):
        named = {m.value for m in found}
        for option, label in labels:
            size = len(label.split())
            if not label or (fuzzy and (len(label) < 4 or option in named)):
                continue
            for i in range(max(len(tokens) - size + 1, 0)):
                gram = " ".join(lowered[i : i + size])
                if fuzzy and any(m.start < i + size and i < m.end for m in found if m.value in named):
                    continue
                if len(str(option)) == 1 and tokens[i] != option and lowered[i] in STOPWORDS:
                    continue  # the article "a" names no nucleotide "A"
                if gram == label or (fuzzy and difflib.SequenceMatcher(None, gram, label).ratio() >= 0.85):
                    found.append(Mention("choice", option, i, i + size))
        if found and not each:
            break
    return found


def _by_meaning(command: str, param: _Param, choose: Chooser | None) -> tuple[Any, bool]:
    """A required choice the command does not name: the option closest in meaning, if close enough."""
    options = list(param.schema["enum"])
    if choose is None or len(options) < 2:
        return None, False
    similarities = [float(x) for x in choose(command, [name_words(str(o)) or str(o) for o in options])]
    ranked = sorted(range(len(options)), key=lambda i: -similarities[i])
    best, second = similarities[ranked[0]], similarities[ranked[1]]
    confident = best >= _MEANING_MIN and best - second >= _MEANING_MARGIN
    return (options[ranked[0]], True) if confident else (None, False)


# Verbs that start many switches' names ("include_forecast", "apply_special_tax") and nouns that end
# them ("private_visibility"): the rest names the switch, and every word of it must be in the
# command ("sales tax" is not "tax_exempt").
_SWITCH_WORDS = frozenset(
    stem(w)
    for w in (
        "include is has have enable use allow show with apply get return only consider account require "
        "visibility option options mode flag status setting enabled"
    ).split()
)


def _boolean(tokens: list[str], param: _Param) -> tuple[Any, bool]:
    cues = [c for c, weight in param.cues if weight == 1.0]
    named = [c for c in cues if c not in _SWITCH_WORDS] or cues
    # "stats" for "statistics" where the description says so ("include_stats": "... statistics").
    described = {c for c, weight in param.cues if weight < 1.0}
    spelled = {c: c for c in cues} | {
        w: c for w in described for c in cues if len(c) >= 4 and w.startswith(c) and w != c
    }
    stems = {spelled.get(stem(token), stem(token)) for token in tokens}
    if not named or not all(c in stems for c in named):
        return None, False
    hits = [i for i, token in enumerate(tokens) if spelled.get(stem(token), stem(token)) in cues]
    before = " ".join(tokens[max(hits[0] - 5, 0) : hits[0]])  # "I don't care about garage space"
    return not _NEGATION.search(before), True


def _measured_in(param: _Param) -> frozenset[tuple[str, float]]:
    """The units the parameter measures in, by its name and description."""
    return units_of(f"{param.path[-1]} {param.schema.get('description') or ''}")


def _unit_agreement(param: _Param, mention: Mention) -> int:
    """How a number's unit fits the parameter's.

    1: it is one the parameter measures in; -1: it names others, of the same or an unknown
    dimension; -2: it measures another quantity ("10 meters" for a weight in kilograms); 0: no unit
    on one side.
    """
    if not mention.unit or mention.kind != "number":
        return 0
    named = measures_named(name_words(re.sub(r"\d+", " ", param.path[-1])), mention.unit)
    if named is not None:  # "300 K" for temperature1, not "2 moles"
        return 1 if named else -2
    units = _measured_in(param)
    if not units:
        return 0
    measured = {name for name, _ in units}
    if any(name in measured for name, _ in read_units(mention.unit)):
        return 1
    return -2 if other_dimension(mention.unit, units) else -1


def _coerce(param: _Param, mention: Mention) -> Any:
    types = _types(param.schema)
    if mention.kind in ("number", "numword"):
        if not types & {"number", "integer"}:
            return str(mention.value)
        if mention.unit and isinstance(mention.value, (int, float)):
            # "a duration of 3 minutes" for a length in seconds is 180, "50mH" for henries 0.05 (an
            # integer stays one where the conversion leaves a whole number).
            converted = convert(mention.value, mention.unit, _measured_in(param))
            if converted is not None and ("number" in types or converted.is_integer()):
                return converted if "number" in types else int(converted)
        if mention.percent and "number" in types and percent_is_fraction(param.path[-1], param.schema):
            return round(mention.value / 100, 10)  # "5%" as a rate is 0.05
    if mention.kind == "duration" and types & {"number", "integer"}:
        counted = counted_as(mention.value, mention.unit, _measured_in(param))
        if counted is not None:  # "the next week" for a number of days is 7
            return counted if "number" in types or not float(counted).is_integer() else int(counted)
    if mention.kind == "date":
        return format_date(mention.value, str(param.schema.get("description") or ""))
    if mention.kind == "unit":
        return _unit_as_described(str(mention.value), param.examples)
    return mention.value


def _unit_names(text: str) -> set[str]:
    names = {name for name, _ in read_units(text)}
    return names | {name for name, _ in read_units(text.upper())} if len(text) == 1 else names


def _unit_as_described(unit: str, options: Sequence[str]) -> str:
    """A unit in the spelling the parameter's description offers: "mile" as 'miles', "celsius" as 'c'."""
    said = _unit_names(unit)
    return next((option for option in options if said & _unit_names(option)), unit)


def named_choices(command: str, choices: Sequence[Any]) -> list[Any]:
    """The ``choices`` that ``command`` names (exactly, else fuzzily), in the order it names them."""
    tokens = [command[s:e] for s, e in word_spans(command)]
    named = _choice_mentions(tokens, _Param(("choices",), {"enum": list(choices)}, False, []), each=True)
    return list(dict.fromkeys(m.value for m in sorted(named, key=lambda m: m.start)))


def fill_arguments(
    command: str,
    schema: dict[str, Any],
    *,
    choose: Chooser | None = None,
    today: dt.date | None = None,
    tool_name: str = "",
) -> Filled:
    """Arguments for a tool with JSON Schema ``schema``, read from ``command``.

    Args:
        command: the user's command.
        schema: JSON Schema of the tool's arguments.
        choose: picks a choice by meaning when no option is named (see :data:`Chooser`).
        today: the date ``today``/``tomorrow`` are relative to (default: the real today).
        tool_name: the tool's name, whose words are no values ("Schism" for ``get_schisms``).
    """
    params = list(_leaves(schema))
    # "company1 is Apple", "order ID is 123456789": a parameter's name or a word of it, written out,
    # labels a value; it is none.
    labels = {word for p in params for word in (p.path[-1].lower(), *name_words(p.path[-1]).split())}
    mentions = [
        m
        for m in find_mentions(command, today=today)
        if m.kind not in ("name", "identifier") or str(m.value).lower() not in labels
    ]
    if tool_name:
        mentions = [
            _without_title(m, tool_name)
            for m in mentions
            if m.kind != "name" or not names_the_tool(str(m.value), tool_name)
        ]
    spans = word_spans(command)
    cased = [command[s:e] for s, e in spans]
    tokens = [word.lower() for word in cased]
    # "side 3 is 5": the 3 is part of side3's name, written out.
    joined = {re.sub(r"[^a-z0-9]", "", p.path[-1].lower()) for p in params}
    mentions = [
        m
        for m in mentions
        if not (
            m.kind == "number"
            and m.end == m.start + 1 > 1
            and tokens[m.start - 1] + tokens[m.start] in joined
        )
    ]
    values: dict[tuple[str, ...], Any] = {}
    pending, chosen = _read_named(params, tokens, cased, mentions, values)
    mentions = _with_places(command, tokens, params, pending, mentions)
    mentions = without_counts(mentions, tokens, _counted_words(params))
    taken: list[tuple[int, int]] = list(chosen)  # word ranges already used: a list's numbers, a name...
    shared = _shared_cues(params)
    breaks = _breaks(command)
    stems = [stem(t) for t in tokens]
    _read_kinds(command, pending, cased, stems, mentions, tool_name, values, taken)
    owned = _written_names(params, stems)
    _read_rest(pending, mentions, stems, values)
    guessed = _assign_by_score(pending, mentions, stems, values, taken, shared, breaks, owned)
    _fill_required(command, pending, mentions, values, taken, choose)
    _units_of_quantities(params, mentions, values, taken)
    _qualify_places(command, params, values)
    unplaced = [str(m.value) for m in mentions if m.kind == "quoted" and not _overlaps(m, taken)]
    filled = _nest(params, values, unplaced)
    filled.ambiguous = _ambiguous(guessed, mentions, taken)
    return filled


def _breaks(command: str) -> frozenset[int]:
    """Indices ``i`` of the words that punctuation (a comma, a full stop...) parts from word ``i + 1``."""
    spans = word_spans(command)
    pairs = enumerate(itertools.pairwise(spans))
    return frozenset(i for i, ((_, end), (start, _)) in pairs if _BREAK.search(command[end:start]))


def _units_of_quantities(
    params: list[_Param],
    mentions: list[Mention],
    values: dict[tuple[str, ...], Any],
    taken: list[tuple[int, int]],
) -> None:
    """A unit parameter that names the quantity it measures takes that quantity's unit, and back.

    "The unit of measurement for the radius": in "a radius of 4 inches" the unit is "inches"; "the
    unit of the quantity" with "2 kg" gives the quantity 2 once the unit took "kg". Only a number
    written right before its unit counts.
    """
    by_name = {p.path[-1]: p for p in params}
    units = {m.start: m for m in mentions if m.kind == "unit"}
    for unit_param in params:
        if _hint(unit_param) != "unit" or "string" not in _types(unit_param.schema):
            continue
        described = set(words(str(unit_param.schema.get("description") or "")))
        measured = [
            p
            for name, p in by_name.items()
            if p is not unit_param
            and _types(p.schema) & {"number", "integer"}
            and set(name_words(name).split()) <= described
        ]
        if len(measured) != 1:
            continue
        quantity = measured[0]
        for number in mentions:
            unit = units.get(number.end)
            if number.kind != "number" or unit is None:
                continue
            if values.get(quantity.path) == _coerce(quantity, number) and unit_param.path not in values:
                if not _overlaps(unit, taken):
                    values[unit_param.path] = unit.value
                    taken.append((unit.start, unit.end))
            elif values.get(unit_param.path) == unit.value and quantity.path not in values:
                if not _overlaps(number, taken):
                    values[quantity.path] = _coerce(quantity, number)
                    taken.append((number.start, number.end))


def _qualify_places(command: str, params: list[_Param], values: dict[tuple[str, ...], Any]) -> None:
    """Cities in the form their parameter documents: "San Jose" as "San Jose, CA" (:mod:`.places`)."""
    for param in params:
        value = values.get(param.path)
        if not isinstance(value, str) or "string" not in _types(param.schema):
            continue
        if "country" in param.path[-1].lower() and not is_country(value):
            value = values[param.path] = country_of(value) or value  # "German history": Germany's
        code = coded(value, name_words(param.path[-1]), str(param.schema.get("description") or ""))
        if code is not None:  # "California" for "the state abbreviation, such as 'CA'"
            values[param.path] = code
            continue
        style = place_style(str(param.schema.get("description") or ""))
        if style is None:
            continue
        written = written_qualified(command, value)
        if written is not None:
            values[param.path] = written
        elif "," not in value:
            values[param.path] = qualified(value, style) or value


def _listed_names(
    param: _Param, tokens: list[str], mentions: list[Mention], chosen: list[tuple[int, int]]
) -> list[Mention] | None:
    """Two or more names listed right after a list parameter's name, or ``None``.

    "with stops at Santa Barbara and Monterey" gives ``stops`` both; the names are no one's else.
    """
    items = param.schema.get("items")
    if _types(param.schema) != {"array"} or not isinstance(items, dict) or _types(items) != {"string"}:
        return None
    cues = {cue for cue, weight in param.cues if weight == 1.0}
    names = [m for m in mentions if m.kind == "name" and not _overlaps(m, chosen)]
    for index, token in enumerate(tokens):
        after = [m for m in names if m.start > index]
        if stem(token) not in cues or not after or after[0].start > index + 3:
            continue
        listed = after[:1]
        for mention in after[1:]:
            if not set(tokens[listed[-1].end : mention.start]) <= {"and", "or"}:
                break
            listed.append(mention)
        if len(listed) >= 2:
            return listed
    return None


def _read_kinds(
    command: str,
    pending: list[_Param],
    cased: list[str],
    stems: list[str],
    mentions: list[Mention],
    tool_name: str,
    values: dict[tuple[str, ...], Any],
    taken: list[tuple[int, int]],
) -> None:
    """A kind of thing, written as the small word before the thing: "a luxury room" for ``room_type``.

    Only a text parameter named ``<thing>_type`` with no choices, and a lower-case word that is no
    function word, no value found otherwise and no word of the tool's own name ("a hotel room" for
    ``hotel.book`` says nothing of the room's type).
    """
    spans = word_spans(command)
    for param in pending:
        name = name_words(param.path[-1]).split()
        if (
            len(name) != 2
            or name[1] != "type"
            or _types(param.schema) != {"string"}
            or "enum" in param.schema
        ):
            continue
        for index in range(1, len(stems)):
            word, start = cased[index - 1], spans[index - 1][0]
            if stems[index] != stem(name[0]) or not (word.isalpha() and word.islower()):
                continue
            if command[start - 1 : start] == "-":
                continue  # "a gas-powered vehicle": the kind is not "powered"
            if word in STOPWORDS or names_the_tool(word, tool_name):
                continue
            if any(m.start <= index - 1 < m.end for m in mentions) or _overlaps(
                Mention("", None, index - 1, index), taken
            ):
                continue
            values[param.path] = word
            taken.append((index - 1, index))
            break


def _without_title(mention: Mention, tool_name: str) -> Mention:
    """A name less a first word that names the tool: "a Lawyer John Doe" for ``lawyer.get_experience``."""
    if mention.kind != "name":
        return mention  # a quoted value is as written (and may be blank: "call '  ' now")
    first, *rest = str(mention.value).split()
    if len(rest) < 2 or not all(word[0].isupper() for word in rest):
        return mention  # "Battle of Stalingrad" for battle_details keeps its "Battle"
    if not names_the_tool(first, tool_name):
        return mention
    return replace(mention, value=" ".join(rest), start=mention.start + 1)


def _looks_like_year(mention: Mention) -> bool:
    return (
        mention.kind == "number"
        and not mention.unit
        and isinstance(mention.value, int)
        and 1500 <= mention.value <= 2100
    )


def _within(inner: Mention, outer: Mention) -> bool:
    """Whether ``inner`` lies inside ``outer`` and is shorter."""
    inside = outer.start <= inner.start and inner.end <= outer.end
    return inside and (inner.start, inner.end) != (outer.start, outer.end)


def _overlaps(mention: Mention, taken: list[tuple[int, int]]) -> bool:
    return any(s < mention.end and mention.start < e for s, e in taken)


def _read_named(
    params: list[_Param],
    tokens: list[str],
    cased: list[str],
    mentions: list[Mention],
    values: dict[tuple[str, ...], Any],
) -> tuple[list[_Param], list[tuple[int, int]]]:
    """Fill lists of named choices and booleans at once; add choice mentions for enum parameters.

    Returns:
        The parameters still to fill from mentions, and the word ranges the lists' choices used.
    """
    pending: list[_Param] = []
    chosen: list[tuple[int, int]] = []  # words naming the choices of list parameters
    for param in params:
        choices = _item_choices(param.schema)
        if "enum" in param.schema:
            mentions.extend(_choice_mentions(cased, param))
            pending.append(param)
        elif choices is not None:
            named = _choice_mentions(cased, _Param(param.path, {"enum": choices}, False, []), each=True)
            if named:  # "lock the front and back doors": every choice named, in order, once
                values[param.path] = list(
                    dict.fromkeys(m.value for m in sorted(named, key=lambda m: m.start))
                )
                chosen += [(m.start, m.end) for m in named]
        elif (listed := _listed_names(param, tokens, mentions, chosen)) is not None:
            values[param.path] = [str(m.value) for m in listed]
            chosen += [(m.start, m.end) for m in listed]
        elif _types(param.schema) == {"boolean"}:
            value, ok = _boolean(tokens, param)
            if ok:
                values[param.path] = value
        else:
            if param.examples:  # only as written: a description's examples are no closed set
                offered = _Param(param.path, {"enum": list(param.examples)}, False, [])
                named = [  # "milk" as an example does not cut 'oat milk' short
                    m
                    for m in _choice_mentions(cased, offered, fuzzy_too=False)
                    if not any(_within(m, q) for q in mentions if q.kind == "quoted")
                ]
                if named and "array" in _types(param.schema):
                    values[param.path] = list(
                        dict.fromkeys(m.value for m in sorted(named, key=lambda m: m.start))
                    )
                    chosen += [(m.start, m.end) for m in named]
                    continue
                mentions.extend(named)
            pending.append(param)
    return pending, chosen


def _with_places(
    command: str, tokens: list[str], params: list[_Param], pending: list[_Param], mentions: list[Mention]
) -> list[Mention]:
    """The mentions plus place names (when a text parameter wants one), each once, in command order."""
    if any(_is_place(p) and "string" in _types(p.schema) for p in pending):
        stop = {cue for p in params for cue, _ in p.cues} | {
            w for p in params for o in p.schema.get("enum") or () for w in words(str(o))
        }
        # Lower-case words after "in"/"to" are places only in a command that names none with a
        # capital ("weather in paris"); else they are mostly verbs and filler ("an event in
        # Fresno to attend", "at least"), unless the gazetteer knows the city ("sushi in boston").
        named = any(m.kind == "name" for m in mentions)
        mentions.extend(
            m for m in _place_mentions(command, tokens, stop) if not named or is_city(str(m.value))
        )
    # One word can be a choice of two parameters ("from celsius to kelvin"): keep each once.
    unique = {(m.kind, repr(m.value), m.start, m.end): m for m in mentions}
    return sorted(unique.values(), key=lambda m: (m.start, m.kind != "choice", repr(m.value)))


def _assign_by_score(
    pending: list[_Param],
    mentions: list[Mention],
    stems: list[str],
    values: dict[tuple[str, ...], Any],
    taken: list[tuple[int, int]],
    shared: Mapping[str, int],
    breaks: frozenset[int],
    owned: Mapping[int, tuple[str, ...]],
) -> list[tuple[_Param, Mention]]:
    """Give each parameter its best-fitting free mention, best pairs first; fills ``values``, ``taken``.

    Returns:
        The values placed by type and order alone, with no cue word (candidates for ambiguity).
    """
    pairs = []
    years = any(_is_year(param) for param in pending)
    for p_index, param in enumerate(pending):
        for m_index, mention in enumerate(mentions):
            fit = _compatible(param, mention)
            if fit > 0:
                closeness = _proximity(param, mention, stems, shared, breaks, owned)
                agreement = _unit_agreement(param, mention)
                if agreement == -2:  # "20 kg of water" is no temperature "(Celsius)"
                    continue
                if agreement > 0:  # "a heat capacity of 5J/K" for the capacity "in J/K"
                    closeness += 0.25
                elif agreement < 0:  # "500 g" for "(kg)", "3 m/s" for "(km/h)": perhaps
                    fit *= 0.5
                if years and not _is_year(param) and _looks_like_year(mention):
                    fit *= 0.5  # "revenues of $1M in 2019": 2019 is year1's, not an amount
                country = mention.kind == "name" and "country" in param.path[-1].lower()
                if country and is_country(str(mention.value)):
                    closeness += 0.5  # "between Apple and Samsung occurred in USA": a country by name
                pairs.append((fit * (0.2 + closeness), closeness, p_index, m_index))
    guessed: list[tuple[_Param, Mention]] = []
    for score, closeness, p_index, m_index in sorted(pairs, key=lambda t: (-t[0], t[3], t[2])):
        param, mention = pending[p_index], mentions[m_index]
        if param.path in values or _overlaps(mention, taken):
            continue
        # Optional parameters need a word of evidence; required ones may take what is left, in order.
        # A named choice, or a date for a date, is its own evidence: "... seventy two fahrenheit"
        # sets the unit, "tomorrow" the day of a forecast.
        hint = _hint(param)
        evident = mention.kind == "choice" or _HINT_KIND.get(hint or "", hint) == mention.kind
        if not evident and mention.kind in ("number", "numword") and isinstance(mention.value, int):
            # "ten major historical events" for the "Number of events to return".
            evident = bool(set(stems[mention.end : mention.end + 3]) & _counts(param))
        if not evident and _is_year(param) and _looks_like_year(mention):
            evident = True  # "turtles in Mississippi river in 2020": the year of the data
        if not evident and mention.kind == "name" and mention.start > 0 and _is_place(param):
            # "sculptures of Michelangelo in Rome": a known city after "in" is where to look.
            evident = stems[mention.start - 1] in _PLACE_PREPOSITIONS and is_city(str(mention.value))
        if mention.kind == "unit" and not param.required:
            # "in Celsius" asks for a unit; "50 kilometers" is the unit of the distance, not the
            # velocity's (or the density's) that the tool's optional unit parameter may mean.
            if mention.start == 0 or stems[mention.start - 1] not in _ASKED_UNIT:
                continue
            evident = True
        if not param.required and not evident and (closeness < 0.25 or score < 0.15):
            continue
        values[param.path] = _coerce(param, mention)
        taken.append((mention.start, mention.end))
        if not evident and closeness < 0.25:
            guessed.append((param, mention))
    return guessed


def _read_rest(
    pending: list[_Param], mentions: list[Mention], stems: list[str], values: dict[tuple[str, ...], Any]
) -> None:
    """A starting speed is 0 where the command says the body starts at rest ("started from rest").

    Read before the numbers are placed, so that a cue word elsewhere ("the final velocity ... at
    3 m/s^2") does not take the place; only a command that writes the parameter's name out ("dropped
    with an initial speed of 5 m/s") leaves it to the numbers.
    """
    if not any(m.kind == "rest" for m in mentions):
        return
    for param in pending:
        if param.path in values or not is_starting_speed(param.path[-1]):
            continue
        if not _types(param.schema) & {"integer", "number"}:
            continue
        name = [stem(word) for word in name_words(param.path[-1]).split()]
        if any(stems[i : i + len(name)] == name for i in range(len(stems))):
            continue  # "an initial speed of 5 m/s": the number said for it decides
        values[param.path] = 0 if "integer" in _types(param.schema) else 0.0


def _fill_required(
    command: str,
    pending: list[_Param],
    mentions: list[Mention],
    values: dict[tuple[str, ...], Any],
    taken: list[tuple[int, int]],
    choose: Chooser | None,
) -> None:
    """Last resorts for required parameters still empty: a choice by meaning, a list of free numbers."""
    for param in pending:
        if not param.required or param.path in values:
            continue
        if "enum" in param.schema:
            value, ok = _by_meaning(command, param, choose)
            if ok:
                values[param.path] = value
        elif _types(param.schema) == {"array"} and _types(param.schema.get("items") or {}) & {
            "number",
            "integer",
        }:
            # "sum 1 and 2": too short to read as a list, yet these numbers are the list asked for.
            free = [m for m in mentions if m.kind == "number" and not _overlaps(m, taken)]
            if free:
                values[param.path] = [m.value for m in free]
                taken.extend((m.start, m.end) for m in free)


def _ambiguous(
    guessed: list[tuple[_Param, Mention]], mentions: list[Mention], taken: list[tuple[int, int]]
) -> list[str]:
    """Parameters whose value is a guess among rivals of the same kind.

    "between Apple and Samsung in USA" gives three names for three text parameters, and nothing in
    the command says which is which.
    """

    def rivalry(kind: str) -> str | None:
        return "text" if kind in ("name", "place") else "number" if kind in ("number", "numword") else None

    placed = {id(m) for _, m in guessed}
    out = []
    for param, mention in guessed:
        group = rivalry(mention.kind)
        if group is None:
            continue
        rivals = [
            m
            for m in mentions
            if m is not mention and rivalry(m.kind) == group and (id(m) in placed or not _overlaps(m, taken))
        ]
        if rivals:
            out.append(".".join(param.path))
    return out


def _nest(params: list[_Param], values: dict[tuple[str, ...], Any], unplaced: list[str]) -> Filled:
    filled = Filled(required=sum(p.required for p in params), unplaced=unplaced)
    for param in params:
        if param.path not in values:
            if param.required:
                filled.missing.append(".".join(param.path))
            continue
        node = filled.arguments
        for key in param.path[:-1]:
            node = node.setdefault(key, {})
        node[param.path[-1]] = values[param.path]
    return filled
