"""Fill a tool's parameters from a command, by type, only where the command says so.

Values are found as mentions (:mod:`funcroute._mentions`: numbers, quoted text, e-mail addresses,
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
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from funcroute._mentions import Mention, find_mentions, word_spans
from funcroute.retrieval import STOPWORDS, content_words, name_words, stem, words

__all__ = ["Chooser", "Filled", "fill_arguments"]

#: ``choose(command, options) -> similarities``: how close in meaning the command is to each option.
Chooser = Callable[[str, Sequence[str]], Sequence[float]]
#: A choice the command does not name is taken by meaning only when this close...
_MEANING_MIN = 0.3
#: ...and this much closer than the runner-up: "set the oven to 200 degrees" is not the kitchen.
_MEANING_MARGIN = 0.1

_FILLER = frozenset("a an the of is are and or".split())
_NEGATION = re.compile(r"\b(?:no|not|without|exclude|excluding|don ?t|do not|never|disable)\b", re.I)
_HINTS = {
    "email": ("email", "mail", "recipient", "sender"),
    "url": ("url", "uri", "link", "website", "endpoint", "href"),
    "file": ("file", "path", "filename", "document", "attachment"),
    "date": ("date", "day", "birthday", "deadline"),
    "formula": ("function", "equation", "expression", "polynomial", "formula"),
}
_CODE_WORDS = frozenset(
    "id ids code codes zip zipcode postal postcode phone number numbers pin year version account isbn "
    "serial sku ticket order flight".split()
)
_PLACE_WORDS = frozenset("city location place town country destination origin address region area".split())
_PLACE_PREPOSITIONS = frozenset("in at for to from near around".split())
# Words that follow "in"/"for" without being places: times, amounts, units, filler.
_NOT_PLACES = frozenset(
    "today tomorrow yesterday tonight now weekend morning afternoon evening night week month year "
    "minutes minute hours hour seconds second days day celsius fahrenheit kelvin degrees me us you it "
    "them here there".split()
)
_HINT_KIND = {"person": "name", "text": "quoted"}  # the mention kind each name-only hint expects
_NAME_HINTS = {
    "person": ("to", "recipient", "contact", "person", "who", "friend", "attendee", "assignee"),
    "text": ("text", "message", "body", "content", "note", "query", "label", "comment", "title", "subject"),
}
# How well a mention kind suits a plain string parameter; names and numbers only as a last resort.
_STRING_PRIOR = {
    "quoted": 1.0,
    "email": 0.9,
    "url": 0.9,
    "file": 0.9,
    "formula": 0.6,
    "date": 0.6,
    "name": 0.5,
    "number": 0.2,
}


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


@dataclass
class _Param:
    path: tuple[str, ...]
    schema: dict[str, Any]
    required: bool
    cues: list[tuple[str, float]]


def _leaves(schema: dict[str, Any], prefix: tuple[str, ...] = (), required: bool = True) -> Iterator[_Param]:
    needed = set(schema.get("required") or ())
    for name, spec in (schema.get("properties") or {}).items():
        if not isinstance(spec, dict):
            continue
        spec = _unwrap(spec)
        path = (*prefix, name)
        is_required = required and name in needed
        if isinstance(spec.get("properties"), dict) and "enum" not in spec:
            yield from _leaves(spec, path, is_required)
            continue
        # Every word of the name is a cue, even "from"/"to": they tell from_unit and to_unit apart.
        cues = [(stem(w), 1.0) for w in words(name_words(" ".join(path))) if w not in _FILLER]
        cues += [(w, 0.5) for w in content_words(str(spec.get("description") or ""))[:8]]
        yield _Param(path, spec, is_required, cues)


def _unwrap(spec: dict[str, Any]) -> dict[str, Any]:
    """``Optional[X]`` (``anyOf: [X, null]``) read as ``X``, keeping the outer description and default."""
    options = [o for o in spec.get("anyOf") or spec.get("oneOf") or () if isinstance(o, dict)]
    kept = [o for o in options if o.get("type") != "null"]
    if len(kept) != 1 or len(options) > 2:
        return spec
    outer = {k: v for k, v in spec.items() if k not in ("anyOf", "oneOf")}
    return {**kept[0], **outer}


def _item_choices(spec: dict[str, Any]) -> list[Any] | None:
    """The choices of a list-of-choices parameter (``list[Enum]``, ``list[Literal[...]]``)."""
    if "array" not in _types(spec) or not isinstance(spec.get("items"), dict):
        return None
    items = _unwrap(spec["items"])
    return list(items["enum"]) if isinstance(items.get("enum"), list) and items["enum"] else None


def _types(spec: dict[str, Any]) -> set[str]:
    declared = spec.get("type")
    types = set(declared) if isinstance(declared, list) else {declared} if declared else set()
    for option in spec.get("anyOf") or spec.get("oneOf") or ():
        if isinstance(option, dict):
            types |= _types(option)
    return types - {"null"} or {"string"}


def _hint(param: _Param) -> str | None:
    fmt = str(param.schema.get("format") or "")
    name = name_words(param.path[-1]).split()
    described = words(str(param.schema.get("description") or ""))[:6]  # its head names the kind
    for source in (name, described):
        for kind, hints in _HINTS.items():
            if kind in fmt or any(h in source for h in hints):
                return kind
    # Who and what, by the parameter's own name only ("to" and "text" are common in descriptions).
    for kind, hints in _NAME_HINTS.items():
        if any(h in name for h in hints):
            return kind
    return None


def _proximity(param: _Param, mention: Mention, stems: list[str]) -> float:
    """Closeness in words between the parameter's cue words and the mention (cues before count more)."""
    best = 0.0
    for index, word in enumerate(stems):
        for cue, weight in param.cues:
            if word == cue:
                gap = mention.start - index - 1 if index < mention.start else (index - mention.end) * 1.5 + 1
                best = max(best, weight / (1.0 + max(gap, 0.0)))
    return best


def _compatible(param: _Param, mention: Mention) -> float:
    """How well a mention's kind suits a parameter's type (0: not at all)."""
    if mention.kind == "choice" or "enum" in param.schema:
        return 1.5 if mention.kind == "choice" and mention.value in param.schema.get("enum", ()) else 0.0
    types = _types(param.schema)
    if mention.kind == "list":
        if "array" not in types:
            return 0.0
        items = _types(param.schema.get("items") or {})
        numeric = all(isinstance(v, int | float) for v in mention.value)
        return 1.2 if numeric == bool(items & {"number", "integer"}) or "array" in items else 0.3
    if mention.kind == "place":
        return 1.0 if "string" in types and _is_place(param) else 0.0
    if mention.kind in ("number", "numword"):
        # Counts written as words ("two numbers") are usually not values: digits go first.
        weight = 0.6 if mention.kind == "numword" else 1.0
        if ("integer" in types and isinstance(mention.value, int)) or "number" in types:
            return weight
        # "2 kg of apples": a number is not a name; only a code-like text parameter takes one.
        return weight * _STRING_PRIOR["number"] if "string" in types and _is_code(param) else 0.0
    if "string" not in types:
        return 0.0
    hint = _hint(param)
    if hint == "person":  # a contact is a name (or an address); quoted text is more likely a message
        return {"name": 1.3, "email": 1.0, "quoted": 0.6}.get(mention.kind, 0.0)
    if hint == "text":  # free text: what is quoted, else whatever the command holds
        return 1.3 if mention.kind == "quoted" else 0.4 * _STRING_PRIOR.get(mention.kind, 0.0)
    if hint is not None:
        if hint == mention.kind:
            return 1.3
        return 0.8 if mention.kind == "quoted" else 0.1 if mention.kind == "name" else 0.0
    if mention.kind in ("date", "formula"):
        return 0.0  # a date is never a city, a formula never a name: only where the parameter asks
    return _STRING_PRIOR.get(mention.kind, 0.0)


def _is_code(param: _Param) -> bool:
    """Whether a text parameter holds digits by nature (an id, a zip code, a phone number...)."""
    named = set(name_words(param.path[-1]).split()) | set(
        words(str(param.schema.get("description") or ""))[:6]
    )
    return bool(named & _CODE_WORDS)


def _is_place(param: _Param) -> bool:
    return bool(set(name_words(param.path[-1]).split()) & _PLACE_WORDS)


def _place_mentions(command: str, tokens: list[str], stop: set[str]) -> list[Mention]:
    """Lower-case place names after ``in``/``at``/``for``...: "weather in paris" gives "Paris".

    Only words that are no other parameter's cue, no choice and no common word are read, at most
    three ("new york city"); a place written with capitals is already a ``name`` mention.
    """
    spans = word_spans(command)
    found: list[Mention] = []
    for index, token in enumerate(tokens[:-1]):
        if token not in _PLACE_PREPOSITIONS:
            continue
        end = index + 1
        while (
            end < len(tokens)
            and end - index <= 3
            and tokens[end].isalpha()
            and command[spans[end][0]].islower()
            and tokens[end] not in stop
            and tokens[end] not in STOPWORDS
            and tokens[end] not in _NOT_PLACES
        ):
            end += 1
        if end > index + 1:
            found.append(Mention("place", " ".join(tokens[index + 1 : end]).title(), index + 1, end))
    return found


def _format_date(iso: str, description: str) -> str:
    for pattern in ("YYYY-MM-DD", "MM/DD/YYYY", "DD/MM/YYYY", "MM-DD-YYYY", "DD-MM-YYYY"):
        if pattern in description:
            year, month, day = iso.split("-")
            return pattern.replace("YYYY", year).replace("MM", month).replace("DD", day)
    return iso


def _choice_mentions(tokens: list[str], param: _Param) -> list[Mention]:
    """Where the command names one of the parameter's choices: exactly, else fuzzily."""
    found: list[Mention] = []
    labels = [(o, " ".join(words(str(o)))) for o in param.schema["enum"]]
    for fuzzy in (False, True):
        for option, label in labels:
            size = len(label.split())
            if not label or (fuzzy and len(label) < 4):
                continue
            for i in range(max(len(tokens) - size + 1, 0)):
                gram = " ".join(tokens[i : i + size])
                if gram == label or (fuzzy and difflib.SequenceMatcher(None, gram, label).ratio() >= 0.85):
                    found.append(Mention("choice", option, i, i + size))
        if found:
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


def _boolean(tokens: list[str], param: _Param) -> tuple[Any, bool]:
    cues = [c for c, weight in param.cues if weight == 1.0]
    hits = [i for i, token in enumerate(tokens) if stem(token) in cues]
    if not cues or not hits:
        return None, False
    before = " ".join(tokens[max(hits[0] - 3, 0) : hits[0]])
    return not _NEGATION.search(before), True


def _coerce(param: _Param, mention: Mention) -> Any:
    types = _types(param.schema)
    if mention.kind in ("number", "numword"):
        if not types & {"number", "integer"}:
            return str(mention.value)
        described = str(param.schema.get("description") or "").lower()
        if mention.percent and "number" in types and ("decimal" in described or "fraction" in described):
            return round(mention.value / 100, 10)  # "5%" for a rate given as a decimal is 0.05
    if mention.kind == "date":
        return _format_date(mention.value, str(param.schema.get("description") or ""))
    return mention.value


def fill_arguments(
    command: str, schema: dict[str, Any], *, choose: Chooser | None = None, today: dt.date | None = None
) -> Filled:
    """Arguments for a tool with JSON Schema ``schema``, read from ``command``.

    Args:
        command: the user's command.
        schema: JSON Schema of the tool's arguments.
        choose: picks a choice by meaning when no option is named (see :data:`Chooser`).
        today: the date ``today``/``tomorrow`` are relative to (default: the real today).
    """
    params = list(_leaves(schema))
    mentions = find_mentions(command, today=today)
    tokens = [command[s:e].lower() for s, e in word_spans(command)]
    stems = [stem(t) for t in tokens]
    values: dict[tuple[str, ...], Any] = {}
    pending: list[_Param] = []
    chosen: list[tuple[int, int]] = []  # words naming the choices of list parameters
    for param in params:
        choices = _item_choices(param.schema)
        if "enum" in param.schema:
            mentions.extend(_choice_mentions(tokens, param))
            pending.append(param)
        elif choices is not None:
            named = _choice_mentions(tokens, _Param(param.path, {"enum": choices}, False, []))
            if named:  # "lock the front and back doors": every choice named, in order, once
                values[param.path] = list(
                    dict.fromkeys(m.value for m in sorted(named, key=lambda m: m.start))
                )
                chosen += [(m.start, m.end) for m in named]
        elif _types(param.schema) == {"boolean"}:
            value, ok = _boolean(tokens, param)
            if ok:
                values[param.path] = value
        else:
            pending.append(param)
    if any(_is_place(p) and "string" in _types(p.schema) for p in pending):
        stop = {cue for p in params for cue, _ in p.cues} | {
            w for p in params for o in p.schema.get("enum") or () for w in words(str(o))
        }
        mentions.extend(_place_mentions(command, tokens, stop))
    # One word can be a choice of two parameters ("from celsius to kelvin"): keep each once.
    unique = {(m.kind, repr(m.value), m.start, m.end): m for m in mentions}
    mentions = sorted(unique.values(), key=lambda m: (m.start, m.kind != "choice", repr(m.value)))
    pairs = []
    for p_index, param in enumerate(pending):
        for m_index, mention in enumerate(mentions):
            fit = _compatible(param, mention)
            if fit > 0:
                closeness = _proximity(param, mention, stems)
                pairs.append((fit * (0.2 + closeness), closeness, p_index, m_index))
    taken: list[tuple[int, int]] = list(chosen)  # word ranges already used: a list's numbers, a name...
    guessed: list[tuple[_Param, Mention]] = []  # values placed by type and order alone, no cue word
    for score, closeness, p_index, m_index in sorted(pairs, key=lambda t: (-t[0], t[3], t[2])):
        param, mention = pending[p_index], mentions[m_index]
        if param.path in values or any(s < mention.end and mention.start < e for s, e in taken):
            continue
        # Optional parameters need a word of evidence; required ones may take what is left, in order.
        # A named choice, or a date for a date, is its own evidence: "... seventy two fahrenheit"
        # sets the unit, "tomorrow" the day of a forecast.
        hint = _hint(param)
        evident = mention.kind == "choice" or _HINT_KIND.get(hint or "", hint) == mention.kind
        if not param.required and not evident and (closeness < 0.25 or score < 0.15):
            continue
        values[param.path] = _coerce(param, mention)
        taken.append((mention.start, mention.end))
        if not evident and closeness < 0.25:
            guessed.append((param, mention))
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
            free = [
                m
                for m in mentions
                if m.kind == "number" and not any(s < m.end and m.start < e for s, e in taken)
            ]
            if free:
                values[param.path] = [m.value for m in free]
                taken.extend((m.start, m.end) for m in free)
    unplaced = [
        str(m.value)
        for m in mentions
        if m.kind == "quoted" and not any(s < m.end and m.start < e for s, e in taken)
    ]
    filled = _nest(params, values, unplaced)
    filled.ambiguous = _ambiguous(guessed, mentions, taken)
    return filled


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
            if m is not mention
            and rivalry(m.kind) == group
            and (id(m) in placed or not any(s < m.end and m.start < e for s, e in taken))
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
