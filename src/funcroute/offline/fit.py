"""How well a value found in a command fits a tool's parameter: by type, by kind, by nearness.

:mod:`funcroute.offline.extract` pairs mentions (:mod:`funcroute.offline.mentions`) with parameters using the
scores here. A value fills a parameter only where its type fits: a date fits a date-like text
parameter and never a city, a number fits numbers and code-like text (ids, zip codes) and never a
name, a lower-case place after "in"/"for" fits only place parameters.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from funcroute.offline.mentions import Mention, word_spans
from funcroute.offline.places import is_city, place_style
from funcroute.offline.units import counted_as, units_of
from funcroute.offline.words import STOPWORDS, content_words, name_words, stem, words

__all__ = [
    "HINT_KIND",
    "PLACE_PREPOSITIONS",
    "Param",
    "asks_for_date",
    "compatible",
    "counted_words",
    "counts",
    "described_choices",
    "format_date",
    "hint",
    "is_maker",
    "is_place",
    "is_starting_speed",
    "item_choices",
    "json_types",
    "leaves",
    "percent_is_fraction",
    "place_mentions",
    "proximity",
    "shared_cues",
]

# Words of a parameter's name that cue nothing: "period_in_years" is no cue for "in" ("$3000 in a
# period of 4 years" gave the period 3000). "from"/"to" stay: they tell from_unit and to_unit apart.
_FILLER = frozenset("a an the of is are and or in at on for with".split())
_STARTS = frozenset("origin departure depart start source pickup begin".split())
_ENDS = frozenset("destination arrival arrive end dropoff".split())
_HINTS = {
    "email": ("email", "mail", "recipient", "sender"),
    "url": ("url", "uri", "link", "website", "endpoint", "href"),
    "file": ("file", "path", "filename", "document", "attachment"),
    "date": ("date", "day", "birthday", "deadline"),
    "formula": ("function", "equation", "expression", "polynomial", "formula"),
    "unit": ("unit", "units"),
    "currency": ("currency",),
    "color": ("color", "colour"),
}
_CODE_WORDS = frozenset(
    "id ids code codes zip zipcode postal postcode phone number numbers pin year version account isbn "
    "serial sku ticket order flight".split()
)
_PLACE_WORDS = frozenset("city location place town country destination origin address region area".split())
PLACE_PREPOSITIONS = frozenset("in at for to from near around".split())
# Words that follow "in"/"for" without being places: times, amounts, units, filler.
_NOT_PLACES = frozenset(
    "today tomorrow yesterday tonight now weekend morning afternoon evening night week month year "
    "minutes minute hours hour seconds second days day celsius fahrenheit kelvin degrees me us you it "
    "them here there".split()
)
HINT_KIND = {"person": "name", "text": "quoted"}  # the mention kind each name-only hint expects
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
    "identifier": 0.5,
    "formula": 0.6,
    "date": 0.6,
    "name": 0.5,
    "number": 0.2,
}


# A value the description quotes as an option ('trapezoid' or 'simpson'), quotes at word edges only
# (so "the user's name and the city's" quotes nothing).
_QUOTED_OPTION = re.compile(r"""(?:(?<=^)|(?<=[\s(\[,:=/]))(['"])([^'"\n]{1,30}?)\1(?=[\s).,;:\]/]|$)""")
# Unquoted examples: "e.g. vegan, gluten-free." / "such as Boston or Paris".
_EXAMPLES = re.compile(r"\b(?:e\.g\.?|eg\.|for example|such as)[,:]?\s+([^.;()\n]+)", re.I)
_EXAMPLE_SPLIT = re.compile(r"\s*,\s*|\s+or\s+|\s+and\s+")


@dataclass
class Param:
    """One leaf parameter of a tool: its path, schema, whether required, and its cue words.

    ``examples`` are the values its description offers without an ``enum`` ("Choices are
    'trapezoid' or 'simpson'", "e.g. vegan, gluten-free"): a command that names one gives it.
    """

    path: tuple[str, ...]
    schema: dict[str, Any]
    required: bool
    cues: list[tuple[str, float]]
    examples: tuple[str, ...] = ()


def leaves(schema: dict[str, Any], prefix: tuple[str, ...] = (), required: bool = True) -> Iterator[Param]:
    """Every leaf parameter of ``schema`` (nested objects flattened into paths)."""
    needed = set(schema.get("required") or ())
    for name, spec in (schema.get("properties") or {}).items():
        if not isinstance(spec, dict):
            continue
        spec = _unwrap(spec)
        path = (*prefix, name)
        is_required = required and name in needed
        if isinstance(spec.get("properties"), dict) and "enum" not in spec:
            yield from leaves(spec, path, is_required)
            continue
        # Every word of the name is a cue, even "from"/"to": they tell from_unit and to_unit apart.
        cues = [(stem(w), 1.0) for w in words(name_words(" ".join(path))) if w not in _FILLER]
        named = set(words(name_words(name)))
        # "from Atlanta, GA to Boston, MA": where a journey starts and ends, by its preposition.
        if named & _STARTS and "from" not in named:
            cues.append(("from", 0.8))
        if named & _ENDS and "to" not in named:
            cues.append(("to", 0.8))
        cues += [(w, 0.5) for w in content_words(str(spec.get("description") or ""))[:8]]
        param = Param(path, spec, is_required, cues)
        if not is_place(param):  # "e.g. San Francisco, CA" is a form, and places.py reads it
            param.examples = described_choices(spec)
        yield param


def described_choices(spec: dict[str, Any]) -> tuple[str, ...]:
    """The options a text parameter's description names, in its own spelling (none for an enum).

    Quoted ones ("'list' for a list, 'dictionary' for a mapping") and those after "e.g."/"such
    as", one to three words each; an item list's description counts for its items.
    """
    if "enum" in spec or item_choices(spec) is not None:
        return ()
    kinds = json_types(spec)
    if "array" in kinds:
        kinds = json_types(_unwrap(spec.get("items") or {})) if isinstance(spec.get("items"), dict) else kinds
    if "string" not in kinds:
        return ()
    described = str(spec.get("description") or "")
    if place_style(described) is not None:
        return ()  # "formatted as 'City, State', e.g. 'Austin, TX'" documents a form (places.py)
    found = [m.group(2).strip() for m in _QUOTED_OPTION.finditer(described)]
    for listed in _EXAMPLES.finditer(described):
        if not any(q in listed.group(1) for q in "'\""):  # quoted examples are read above, whole
            found += [item.strip() for item in _EXAMPLE_SPLIT.split(listed.group(1))]
    options = (o for o in found if 0 < len(o.split()) <= 3 and _is_option(o))
    return tuple(dict.fromkeys(options))


def _is_option(text: str) -> bool:
    """Not a format template ('YYYY-MM-DD', 'HH:MM', 'mm-yyyy'), not "etc", not a bare number."""
    letters = {c for c in text if c.isalpha()}
    template = bool(letters) and letters <= set("YMDHSymdhs") and any(c in text for c in "-/:.")
    return bool(letters) and not template and text.lower().rstrip(".") != "etc"


def _unwrap(spec: dict[str, Any]) -> dict[str, Any]:
    """``Optional[X]`` (``anyOf: [X, null]``) read as ``X``, keeping the outer description and default."""
    options = [o for o in spec.get("anyOf") or spec.get("oneOf") or () if isinstance(o, dict)]
    kept = [o for o in options if o.get("type") != "null"]
    if len(kept) != 1 or len(options) > 2:
        return spec
    outer = {k: v for k, v in spec.items() if k not in ("anyOf", "oneOf")}
    return {**kept[0], **outer}


def item_choices(spec: dict[str, Any]) -> list[Any] | None:
    """The choices of a list-of-choices parameter (``list[Enum]``, ``list[Literal[...]]``)."""
    if "array" not in json_types(spec) or not isinstance(spec.get("items"), dict):
        return None
    items = _unwrap(spec["items"])
    return list(items["enum"]) if isinstance(items.get("enum"), list) and items["enum"] else None


def json_types(spec: dict[str, Any]) -> set[str]:
    """The JSON types a parameter accepts (``null`` left out; untyped counts as string)."""
    declared = spec.get("type")
    found = set(declared) if isinstance(declared, list) else {declared} if declared else set()
    for option in spec.get("anyOf") or spec.get("oneOf") or ():
        if isinstance(option, dict):
            found |= json_types(option)
    return found - {"null"} or {"string"}


def percent_is_fraction(name: str, spec: dict[str, Any]) -> bool:
    """Whether "5%" given to parameter ``name`` (JSON Schema ``spec``) is 0.05 rather than 5.

    A rate, probability or yield of type ``number`` is a fraction in most tools: in BFCL's expected
    calls 75 of the 80 percentages given to ``number`` parameters are fractions, and this rule reads
    74 of the 80 right. An integer, or a parameter that says it wants a percentage (and not a
    decimal), takes the number as written.
    """
    if "number" not in json_types(spec):
        return False
    described = f"{name} {spec.get('description') or ''}".lower()
    if "decimal" in described or "fraction" in described:
        return True
    return "percent" not in described


def hint(param: Param) -> str | None:
    """The kind of value a parameter asks for, read from its format, name and description."""
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


def proximity(
    param: Param,
    mention: Mention,
    stems: list[str],
    shared: Mapping[str, int] | None = None,
    breaks: frozenset[int] = frozenset(),
    owned: Mapping[int, tuple[str, ...]] | None = None,
) -> float:
    """Closeness in words between the parameter's cue words and the mention (cues before count more).

    A number also binds to the word right after it ("3 bedrooms, 2 bathrooms") when that word is in
    this parameter's name and no other's (``shared``: how many of the tool's parameters have each
    cue) and no punctuation parts them (``breaks``: the indices ``i`` where punctuation parts word
    ``i`` from word ``i + 1``): "a=1, b=-3" keeps ``b`` for -3. A word inside another parameter's
    name written out (``owned``, see :func:`written_names`) cues that parameter only.
    """
    best = 0.0
    number = mention.kind in ("number", "numword")
    for index, word in enumerate(stems):
        if number and mention.start <= index < mention.end:
            continue  # the "e" and "1" of "1e-9" cue no constant "e" and no charge1
        if owned and owned.get(index, param.path) != param.path:
            continue  # "initial investment of $2000, final value of $3000": "value" is final_value's
        for cue, weight in param.cues:
            if word == cue or _abbreviates(cue, word) or _misspells(word, cue) or _heads(word, cue, weight):
                if cue in ("from", "to") and weight < 1.0 and index >= mention.start:
                    continue  # a journey's "from"/"to" comes before its place, never after
                if cue.isdigit() and (
                    index == 0
                    or stems[index - 1] not in {c for c, _ in param.cues}
                    or "".join(stems[index + 1 : index + 2])[:1].isdigit()
                ):
                    continue  # side3's "3" is in "side 3 is 5", not in "sides: 3, 4, and 5"
                if index < mention.start:
                    gap = float(mention.start - index - 1)
                    if "and" in stems[index + 1 : mention.start]:  # "the director and include Alex King"
                        gap += 2
                elif (
                    index == mention.end
                    and mention.kind == "number"
                    and weight == 1.0
                    and (shared or {}).get(cue, 1) == 1
                    and mention.end - 1 not in breaks
                ):
                    gap = 0.0
                elif mention.kind == "name":  # "Rhys Ifans in the cast": a name's role may follow it
                    gap = index - mention.end + 0.5
                else:
                    gap = (index - mention.end) * 1.5 + 1
                    if (
                        any(b in breaks for b in range(mention.end - 1, index))
                        or "and" in stems[mention.end : index]
                    ):
                        # "'PrimaryDB', host is ...", "12, 24, 36 and dataset_B with ...": a cue
                        # past a comma or an "and" opens the next clause.
                        gap += 3
                best = max(best, weight / (1.0 + max(gap, 0.0)))
    return best


def written_names(params: Iterable[Param], stems: list[str]) -> dict[int, tuple[str, ...]]:
    """The word indices where a parameter's name of two or more words is written out, by owner.

    "final value" in the command is ``final_value``'s name; its "value" does not also cue
    ``initial_value``. (Only names that one parameter has: two with the same last name part, such
    as ``location`` under two objects, own nothing.)
    """
    owners: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
    for param in params:
        name = tuple(stem(word) for word in name_words(param.path[-1]).split())
        if len(name) > 1:
            owners.setdefault(name, []).append(param.path)
    owned: dict[int, tuple[str, ...]] = {}
    for name, paths in owners.items():
        if len(paths) > 1:
            continue
        for start in range(len(stems) - len(name) + 1):
            if tuple(stems[start : start + len(name)]) == name:
                owned.update((index, paths[0]) for index in range(start, start + len(name)))
    return owned


_COUNT_NAMES = frozenset("count number num n top limit max total quantity amount size".split())
_COUNTED = re.compile(r"\b(?:number of|how many|count of|amount of)\s+(?:\w+\s+){0,2}?(\w+s)\b", re.I)


def counted_words(params: Iterable[Param]) -> frozenset[str]:
    """Stems of what the tool's count parameters count (see :func:`counts`)."""
    return frozenset(word for param in params for word in counts(param))


def counts(param: Param) -> frozenset[str]:
    """Stems of what an integer count parameter counts: "Number of events to return" -> "event".

    A count parameter is an integer one named like a count (``count``, ``top_n``, ``max_results``)
    or described as one ("number of", "how many"); what it counts is in that phrase or its name.
    """
    if "integer" not in json_types(param.schema):
        return frozenset()
    name = name_words(param.path[-1]).split()
    counted = [m.group(1) for m in _COUNTED.finditer(str(param.schema.get("description") or ""))]
    if not (set(name) & _COUNT_NAMES or counted):
        return frozenset()
    named = (word for word in name if word not in _COUNT_NAMES and len(word) > 2)
    return frozenset(stem(word) for word in (*counted, *named))


def _abbreviates(cue: str, word: str) -> bool:
    """``temp`` for "temperature", ``init`` for "initial": a name's abbreviation of a command word."""
    return 4 <= len(cue) < len(word) and word.startswith(cue)


_COMPOUND_TAILS = ("nam", "name", "id", "type", "code")


def _heads(word: str, cue: str, weight: float) -> bool:
    """The word that a parameter's name compounds: "user" for ``username``, "file" for ``filename``."""
    return weight == 1.0 and len(word) >= 3 and cue[len(word) :] in _COMPOUND_TAILS and cue.startswith(word)


def _misspells(word: str, cue: str) -> bool:
    """One letter added, dropped or changed in a long word: "acceleeration" for "acceleration"."""
    if len(cue) < 7 or abs(len(word) - len(cue)) > 1 or word[:2] != cue[:2]:
        return False
    same = 0
    while same < min(len(word), len(cue)) and word[same] == cue[same]:
        same += 1
    if len(word) == len(cue):
        return word[same + 1 :] == cue[same + 1 :]
    longer, shorter = (word, cue) if len(word) > len(cue) else (cue, word)
    return longer[same + 1 :] == shorter[same:]


def shared_cues(params: Iterable[Param]) -> Counter[str]:
    """For each cue word, how many of the parameters have it."""
    return Counter(cue for param in params for cue in {cue for cue, _ in param.cues})


def compatible(param: Param, mention: Mention) -> float:
    """How well a mention's kind suits a parameter's type (0: not at all)."""
    if mention.kind == "choice" or "enum" in param.schema:
        if mention.kind == "choice" and mention.value in param.schema.get("enum", ()):
            return 1.5
        return 1.3 if mention.kind == "choice" and mention.value in param.examples else 0.0
    kinds = json_types(param.schema)
    if mention.kind == "list":
        if "array" not in kinds:
            return 0.0
        items = json_types(param.schema.get("items") or {})
        numeric = all(isinstance(v, int | float) for v in mention.value)
        return 1.2 if numeric == bool(items & {"number", "integer"}) or "array" in items else 0.3
    if mention.kind == "place":
        return 1.0 if "string" in kinds and is_place(param) else 0.0
    if mention.kind == "duration":
        # "for the next week": a number only for a parameter that counts time ("days": 7)
        described = f"{param.path[-1]} {param.schema.get('description') or ''}"
        counted = counted_as(mention.value, mention.unit, units_of(described))
        return 1.0 if kinds & {"integer", "number"} and counted is not None else 0.0
    if mention.kind in ("number", "numword"):
        if is_year(param) and not (isinstance(mention.value, int) and 0 < mention.value < 10_000):
            return 0.0  # "$1M in 2019": a million is no year (the year 300 is one)
        # Counts written as words ("two numbers") are usually not values: digits go first.
        weight = 0.6 if mention.kind == "numword" else 1.0
        if ("integer" in kinds and isinstance(mention.value, int)) or "number" in kinds:
            return weight
        # "2 kg of apples": a number is not a name; only a code-like text parameter takes one.
        if (
            "string" in kinds
            and _named_year(param)
            and isinstance(mention.value, int)
            and 0 < mention.value < 10_000
        ):
            return weight  # "in 2022" for a year written as text
        return weight * _STRING_PRIOR["number"] if "string" in kinds and _is_code(param) else 0.0
    if "string" not in kinds:
        return 0.0
    if mention.kind == "identifier" and _is_code(param):
        return 1.3  # "building Id B1004", "SNP ID rs6034464"
    kind = hint(param)
    if kind == "person":  # a contact is a name (or an address); quoted text is more likely a message
        return {"name": 1.3, "email": 1.0, "quoted": 0.6}.get(mention.kind, 0.0)
    if kind == "text":  # free text: what is quoted, else whatever the command holds
        return 1.3 if mention.kind == "quoted" else 0.4 * _STRING_PRIOR.get(mention.kind, 0.0)
    if kind is not None:
        if kind == mention.kind:
            return 1.3
        if kind == "date":  # "from New York, NY on April 23rd": "NY" is no date
            return 0.8 if mention.kind == "quoted" else 0.0
        return 0.8 if mention.kind == "quoted" else 0.1 if mention.kind == "name" else 0.0
    if mention.kind in ("date", "formula"):
        return 0.0  # a date is never a city, a formula never a name: only where the parameter asks
    if mention.kind == "name" and is_place(param) and is_city(str(mention.value)):
        return 1.1  # "Mountain View" over "Family Therapist" for the city
    return _STRING_PRIOR.get(mention.kind, 0.0)


def is_starting_speed(name: str) -> bool:
    """Whether a parameter named ``name`` is a starting speed, which "from rest" gives as 0.

    ``initial_velocity``, ``initial_speed``, ``start_speed``; not ``final_velocity`` nor ``speed``
    alone (a body said to start at rest has some other speed later).
    """
    named = set(name_words(name).split())
    return bool(named & {"velocity", "speed"}) and bool(named & {"initial", "start", "starting"})


def is_maker(name: str) -> bool:
    """Whether a parameter named ``name`` is who makes a product (``brand``, ``car_make``, ``manufacturer``).

    A product's name often begins with its maker ("Fender American Professional II Stratocaster"),
    which such a parameter holds apart.
    """
    return bool(set(name_words(name).split()) & {"brand", "make", "maker", "manufacturer", "vendor"})


def is_year(param: Param) -> bool:
    """Whether the parameter is a calendar year by its name (``year``, ``year1``, ``start_year``).

    The year must be its last word (``year1_revenue`` is an amount, ``periods_per_year`` a rate);
    not ``years`` (a duration: "over 5 years"), and not a string code.
    """
    return _named_year(param) and json_types(param.schema) <= {"integer", "number"}


def _named_year(param: Param) -> bool:
    named = re.findall(r"[a-z]+", name_words(param.path[-1]))  # "year1" -> year
    return named[-1:] == ["year"] and named[-2:-1] != ["per"]  # not "compounding_periods_per_year"


def _is_code(param: Param) -> bool:
    """Whether a text parameter holds digits by nature (an id, a zip code, a phone number...)."""
    named = set(name_words(param.path[-1]).split()) | set(
        words(str(param.schema.get("description") or ""))[:6]
    )
    return bool(named & _CODE_WORDS)


def is_place(param: Param) -> bool:
    """Whether the parameter names a place (city, location...)."""
    return bool(set(name_words(param.path[-1]).split()) & _PLACE_WORDS)


def place_mentions(command: str, tokens: list[str], stop: set[str]) -> list[Mention]:
    """Lower-case place names after ``in``/``at``/``for``...: "weather in paris" gives "Paris".

    Only words that are no other parameter's cue, no choice and no common word are read, at most
    three ("new york city"); a place written with capitals is already a ``name`` mention.
    """
    spans = word_spans(command)
    found: list[Mention] = []
    for index, token in enumerate(tokens[:-1]):
        if token not in PLACE_PREPOSITIONS:
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


# A date template in a description: "yyyy-mm-dd", "DD/MM/YYYY", "mm-yyyy", "MM-DD-YYY" (sic), or in
# words, "(month-day-year)".
_DATE_TEMPLATE = re.compile(r"\b(?:y{2,4}|m{1,2}|d{1,2})(?:([-/.])(?:y{2,4}|m{1,2}|d{1,2})){1,2}\b", re.I)
_DATE_IN_WORDS = re.compile(r"\b(year|month|day)-(year|month|day)(?:-(year|month|day))?\b", re.I)


def format_date(iso: str, description: str) -> str:
    """An ISO date (or year-month) written in the template the description gives, else as ISO."""
    template = _DATE_TEMPLATE.search(description)
    if template is not None:
        parts, separator = re.split(r"[-/.]", template.group(0).lower()), template.group(1)
    else:
        worded = _DATE_IN_WORDS.search(description)
        if worded is None:
            return iso
        parts, separator = (
            [{"year": "yyyy", "month": "mm", "day": "dd"}[g.lower()] for g in worded.groups() if g],
            "-",
        )
    fields = dict(zip(("y", "m", "d"), iso.split("-"), strict=False))
    if any(part[0] not in fields for part in parts) or len({part[0] for part in parts}) != len(parts):
        return iso  # the template asks for a day of a month-only date, or is no date template
    return separator.join(
        fields[part[0]][-2:] if part[0] == "y" and len(part) == 2 else fields[part[0]] for part in parts
    )


def asks_for_date(name: str, spec: dict[str, Any]) -> bool:
    """Whether the parameter ``name`` (JSON Schema ``spec``) asks for a date, as :func:`hint` reads it."""
    return hint(Param((name,), spec, required=True, cues=[])) == "date"
