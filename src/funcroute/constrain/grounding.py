"""Grounded arguments: a value the grammar allows must be one the user actually said.

For each tool on a shortlist, :func:`grounded_schema` rewrites the reply schema per request so that a
*grounded* parameter can only take a value found in the command by the mention extractor
(:func:`funcroute.offline.mentions.find_mentions`), or its declared default:

* ``integer`` / ``number`` parameters: the numbers of the command (digits or number words; "5%" is
  0.05 for a rate, see :func:`funcroute.offline.fit.percent_is_fraction`);
* e-mail addresses, URLs and file paths (``format`` ``email``/``uri``, or the parameter's name
  saying so): the addresses, URLs and paths the command contains; a currency (a parameter named
  for one): the currencies the command names, as ISO codes ("US dollars" is ``USD``) or as written;
* other strings (names, places, keywords...): a span of the command (up to six words in a row), or
  a quoted string of it; a city also in the form its description asks for ("San Jose, CA", see
  :mod:`funcroute.offline.places`);
* numbers never in another dimension than the parameter's unit ("10 meters" is no weight in
  kilograms); date parameters: the command's dates in the form the description asks for, not the
  bare pieces of a written date;
* lists of any of these (``list[EmailStr]`` recipients, ``list[float]`` data): every item; a list
  of choices (``list[Literal[...]]``): the choices the command names, where it names any, and no
  more items than those;
* nested objects (a pydantic model as a parameter, lists of them): their own parameters, by the
  same rules, at any depth;
* free text (a parameter named like ``body``, ``message``, ``content``, ``text``, ``note``...),
  choices (``enum``) and booleans are left to the model, under the schema.

Override per parameter with the schema key ``x-grounded`` (``true`` or ``false``): in a tool file,
or the markers ``Annotated[str, Grounded()]`` / ``Annotated[str, Free()]`` in Python
(:mod:`funcroute.tools.markers`).

A required grounded parameter with no candidate makes its tool uncallable for this command, and the
tool leaves the schema; an optional one is left out, and so is an optional string grounded to spans
(a small model fills every parameter it is shown; left out, the tool's default applies). The model
then picks *which* value goes where, never invents one. That is also a safety property: with
grounding, a model cannot send mail to an address, or open a path, that the user never wrote.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from funcroute.offline.extract import named_choices
from funcroute.offline.fit import (
    asks_for_date,
    format_date,
    is_starting_speed,
    item_choices,
    percent_is_fraction,
)
from funcroute.offline.mentions import Mention, find_mentions, without_counts, word_spans
from funcroute.offline.places import place_style, qualified, written_qualified
from funcroute.offline.units import convert, counted_as, other_dimension, units_of
from funcroute.offline.words import name_words
from funcroute.offline.words import words as split_words
from funcroute.tools.toolset import ToolSet

__all__ = [
    "Contest",
    "Provenance",
    "contested",
    "deduplicated",
    "grounded_schema",
    "grounding_kind",
    "provenance",
    "unnamed_values",
    "without_values",
]

# The kind a parameter's name says, by its last word (its head noun) or last two: ``image_path`` is
# a path and ``file_type`` is not, ``redirect_uris`` is a URL and ``jurisdiction`` (which holds
# "uri") or ``websiteId`` is not.
_KIND_BY_HEAD = (
    (
        "email",
        frozenset({"email", "emails", "recipient", "recipients", "email address", "e mail", "mail to"}),
    ),
    ("url", frozenset({"url", "urls", "uri", "uris", "link", "links", "website", "websites", "homepage"})),
    ("file", frozenset({"path", "paths", "file", "files", "filename", "filenames", "filepath", "filepaths"})),
    ("currency", frozenset({"currency", "currencies", "currency code"})),
)


#: Parameters whose value is free text the model writes (a message body), never grounded by default.
_FREE_HINTS = ("body", "message", "content", "text", "note", "comment", "description", "prompt", "summary")
_MAX_SPAN_WORDS = 6
_NUMERIC = ("integer", "number")
_EDGE_PUNCTUATION = ".,!?;:\"'()[]{}"
#: Words that never begin or end a value: articles, prepositions, conjunctions, pronouns, and the
#: verbs a request starts with.
_EDGE_WORDS = frozenset(
    """a an the and or but nor of to in on at by for with from into onto over under about as than
    near within is are was were be i me my we us our you your it its this that these those please
    which who whose what find get show tell give fetch retrieve calculate compute""".split()
)


def _spans(command: str) -> list[str]:
    """Every run of up to six consecutive words of ``command``, edge punctuation trimmed.

    A run that begins or ends with a function word or a request verb ("for pasta carbonara", "New
    York in", "Find a recipe") is not offered: no value is written that way, and a small model picks
    such a run over the value inside it. Function words inside a run stay ("Treaty of Lisbon").
    """
    words = [w.strip(_EDGE_PUNCTUATION) for w in command.split()]
    spans: list[str] = []
    for i in range(len(words)):
        for j in range(i + 1, min(i + _MAX_SPAN_WORDS, len(words)) + 1):
            if words[i].lower() in _EDGE_WORDS or words[j - 1].lower() in _EDGE_WORDS:
                continue
            text = " ".join(words[i:j]).strip(_EDGE_PUNCTUATION)
            if text.endswith(("'s", "’s")):  # "Van Gogh's painting": the name is "Van Gogh"
                text = text[:-2]
            if text:
                spans.append(text)
    return list(dict.fromkeys(spans))


def grounding_kind(name: str, spec: dict[str, Any]) -> str | None:
    """How parameter ``name`` (JSON Schema ``spec``) is grounded; ``None``: the model writes it freely.

    The kinds: ``integer``, ``number``, ``email``, ``url``, ``file``, ``date``, ``currency`` (a
    parameter named for one) or ``span``. Choices, booleans and free text (see the module docstring)
    are ``None``.
    """
    if "enum" in spec or "const" in spec or spec.get("x-grounded") is False:
        return None
    kind = spec.get("type")
    if kind in ("integer", "number"):
        return str(kind)
    if kind != "string":
        return None
    fmt = str(spec.get("format", ""))
    if fmt in ("email", "idn-email"):
        return "email"
    if fmt in ("uri", "url", "iri"):
        return "url"
    if fmt == "date":
        return "date"  # the command's dates, as ISO dates
    lowered = name.lower()
    named = name_words(name).split()
    heads = {" ".join(named[-1:]), " ".join(named[-2:])}
    for grounded, hints in _KIND_BY_HEAD:
        if heads & hints:
            return grounded
    description = str(spec.get("description", "")).lower()
    if "e-mail address" in description or "email address" in description:
        return "email"
    if spec.get("x-grounded") is not True and any(hint in lowered for hint in _FREE_HINTS):
        return None
    return "span"


def _candidates(
    name: str, kind: str, mentions: Sequence[Mention], spec: dict[str, Any], command: str, required: bool
) -> list[Any]:
    values: list[Any] = []
    if kind == "currency":
        # "US dollars" is offered as USD and as written; no other words are a currency (a small
        # model otherwise gives ``base_currency: "Tesla"`` for "the price of a Tesla in India").
        named = (m.value for m in mentions if m.kind in ("quoted", "currency"))
        values.extend(value for value in named if isinstance(value, str))
        for mention in mentions:
            chars = _mention_chars(command, mention) if mention.kind == "currency" else None
            if chars is not None:
                values.append(command[chars[0] : chars[1]])
        return list(dict.fromkeys(v for v in values if v))
    if kind == "span":
        values.extend(m.value for m in mentions if m.kind == "quoted" and isinstance(m.value, str))
        spans = _spans(command)
        dates = [m for m in mentions if m.kind == "date" and isinstance(m.value, str)]
        if dates and asks_for_date(name, spec):
            # A date parameter takes the command's dates in the form its description asks for
            # ("Jan 28, 2021" as 2021-01-28); the words of a date written out are no value alone
            # (a small model picks "2021" or "April 4th" from them). Relative phrases stay spans.
            values.extend(format_date(m.value, str(spec.get("description") or "")) for m in dates)
            written = [_mention_words(command, m) for m in dates]
            written = [date for date in written if any(w[0].isdigit() for w in date)]
            spans = [span for span in spans if not any(_within(split_words(span), d) for d in written)]
        values.extend(spans)
        style = place_style(str(spec.get("description") or ""))
        if style is not None:  # "San Jose" is also offered as "San Jose, CA" where that form is asked
            for name in (m.value for m in mentions if m.kind == "name" and isinstance(m.value, str)):
                place = written_qualified(command, name) or qualified(name, style)
                if place is not None:
                    values.append(place)
    measured = units_of(f"{name} {spec.get('description') or ''}") if kind in _NUMERIC else frozenset()
    for mention in mentions:
        if kind in _NUMERIC and mention.kind in ("number", "numword", "duration"):
            value = mention.value
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            if mention.unit and measured and other_dimension(mention.unit, measured):
                continue  # "10 meters" is no weight in kilograms
            # "3 minutes" to a parameter counted in seconds is 180, as the extractor reads it
            if mention.kind == "duration":
                counted = counted_as(value, mention.unit, measured)
                if counted is None:
                    continue  # "the next week" is a number only where time is counted ("days": 7)
                value = counted
            elif mention.unit:
                converted = convert(value, mention.unit, measured)
                value = value if converted is None else converted
            if kind == "integer":
                if float(value) != int(value):
                    continue
                value = int(value)
            elif mention.percent and percent_is_fraction(name, spec):
                value = round(value / 100, 10)  # "5%" is the same value as 0.05: a rate's form
            values.append(value)
        elif kind in _NUMERIC and mention.kind == "rest" and is_starting_speed(name):
            values.append(0)  # "started from rest": the starting speed, whatever its unit
        elif mention.kind == kind and isinstance(mention.value, str):
            values.append(mention.value)
    # A required parameter may still take its default; an optional one gets it by being left out
    # (offering it as an alternative only tempts a small model to write a default it did not mean).
    if required and "default" in spec and spec["default"] is not None:
        values.append(spec["default"])
    return list(dict.fromkeys(values))


def _mention_words(command: str, mention: Mention) -> list[str]:
    """The words of ``command`` a mention covers, as :func:`~funcroute.offline.words.words` splits them."""
    chars = _mention_chars(command, mention)
    return [] if chars is None else split_words(command[chars[0] : chars[1]])


def _within(part: list[str], whole: list[str]) -> bool:
    """Whether the words ``part`` are a run of the words ``whole`` ("2021" of "Jan 28, 2021")."""
    return bool(part) and f" {' '.join(part)} " in f" {' '.join(whole)} "


def _is_object(spec: Any) -> bool:
    return isinstance(spec, dict) and spec.get("type") == "object" and bool(spec.get("properties"))


def _ground_object(obj: dict[str, Any], mentions: Sequence[Mention], command: str) -> bool:
    """Limit the grounded parameters of the object schema ``obj``, in place, nested ones included.

    Returns:
        ``False`` when a required parameter has no value in the command (the object cannot be built).
    """
    properties: dict[str, Any] = obj.get("properties") or {}
    required = set(obj.get("required") or ())
    kinds = {
        name: grounding_kind(name, spec) if isinstance(spec, dict) else None
        for name, spec in properties.items()
    }
    for name, spec in list(properties.items()):
        if not isinstance(spec, dict) or spec.get("x-grounded") is False:
            continue
        items = spec.get("items") if spec.get("type") == "array" else None
        nested = spec if _is_object(spec) else items if _is_object(items) else None
        if nested is not None:  # an object (or a list of them): its own values, grounded alike
            if _ground_object(nested, mentions, command):
                continue
            if name in required:
                return False
            del properties[name]
            continue
        target, kind = spec, kinds[name]
        choices = item_choices(spec)
        if choices is not None and isinstance(items, dict):
            # A list of choices takes those the command names, where it names any ("a patio" is
            # ["Patio"]): a small model otherwise adds the rest of the list ("Wi-Fi", "Fiber"), or
            # writes the one choice left over and over, so the list is as long as the choices named.
            named = named_choices(command, choices)
            if named:
                spec["items"] = {**items, "enum": named}
                spec["maxItems"] = min(len(named), int(spec.get("maxItems", len(named))))
            continue
        if kind is None and isinstance(items, dict):
            # A list of grounded values (recipients, numbers): each item must be one the command gives.
            target, kind = items, grounding_kind(name, {**_overrides(spec), **items})
        if kind is None:
            continue
        if name not in required and kind == "span":
            # An optional string limited to spans is one the model fills anyway (a small model
            # writes every parameter it is shown: ``unit: "kilometers"`` where the default was
            # meant), so it is not offered: its default applies. Measured in bench/cascade.py.
            del properties[name]
            continue
        values = _candidates(name, kind, mentions, target, command, name in required and target is spec)
        if name not in required and values:
            # An optional value is offered only when the command gives more values of its kind
            # than the required parameters take: else a small model copies one of those into
            # the optional parameter (``speed_of_light: 4``) instead of leaving the default.
            # Integers and numbers are one kind here: both take the command's numbers.
            same = _NUMERIC if kind in _NUMERIC else (kind,)
            needed = sum(1 for other, k in kinds.items() if k in same and other in required)
            if len(values) <= needed:
                values = []
        if values:
            limited = {"enum": values, **{k: v for k, v in target.items() if k == "description"}}
            if target is spec:
                properties[name] = limited
            else:
                spec["items"] = limited
        elif name in required:
            return False
        else:
            del properties[name]
    return True


def _overrides(spec: dict[str, Any]) -> dict[str, Any]:
    """What a list's own schema says about its items: ``x-grounded``, and the description."""
    return {k: spec[k] for k in ("x-grounded", "description") if k in spec}


def grounded_schema(tools: ToolSet, names: Sequence[str], command: str) -> dict[str, Any] | None:
    """The reply schema over ``names`` with every grounded parameter limited to the command's values.

    Args:
        tools: the ToolSet.
        names: the tools to offer (a shortlist).
        command: the user's command.

    Returns:
        The JSON Schema, or ``None`` when no tool can be called with values the command gives.
    """
    words = [command[start:end].lower() for start, end in word_spans(command)]
    mentions = without_counts(find_mentions(command), words)  # "two charges of 5C and 7C": not 2
    variants = []
    for variant in tools.subset(list(names)).json_schema()["anyOf"]:
        callable_ = _ground_object(variant["properties"]["params"], mentions, command)
        if callable_:
            variants.append(copy.deepcopy(variant))
    if not variants:
        return None
    return {"anyOf": variants}


@dataclass(frozen=True)
class Provenance:
    """Where one argument's value came from.

    Attributes:
        source: ``span`` (written in the command), ``choice`` (one of the parameter's allowed
            values), ``default`` (its declared default) or ``generated`` (by the model, or filled
            by meaning, with no span to point at).
        start: first character of the span in the command (``span`` only).
        end: one past its last character (``span`` only).
    """

    source: Literal["span", "choice", "default", "generated"]
    start: int | None = None
    end: int | None = None


def _number_forms(value: float) -> list[str]:
    forms = [repr(value), str(value)]
    if float(value).is_integer():
        forms.insert(0, str(int(value)))
    return list(dict.fromkeys(forms))


def _span(command: str, value: Any) -> tuple[int, int] | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        for form in _number_forms(value):
            found = re.search(rf"(?<![\d.]){re.escape(form)}(?![\d])", command)
            if found:
                return found.span()
        for form in _number_forms(round(value * 100, 10)):  # 0.05 written as "5%"
            found = re.search(rf"(?<![\d.]){re.escape(form)}\s?%", command)
            if found:
                return found.span()
        return None
    if isinstance(value, str) and value.strip():
        index = command.lower().find(value.lower())
        if index >= 0:
            return index, index + len(value)
        head = value.split(",")[0].strip()  # "San Jose, CA" written as the command's "San Jose"
        index = command.lower().find(head.lower()) if head and head != value else -1
        if index >= 0:
            return index, index + len(head)
    return None


def _mention_chars(command: str, mention: Mention) -> tuple[int, int] | None:
    """The characters of ``command`` that ``mention`` covers (its offsets are in words)."""
    spans = word_spans(command)
    if 0 <= mention.start < mention.end <= len(spans):
        return spans[mention.start][0], spans[mention.end - 1][1]
    return None


def _read_as(command: str, value: Any, mentions: Sequence[Mention]) -> tuple[int, int] | None:
    """The characters of the mention read as ``value`` ("US dollars" for ``USD``, "from rest" for 0)."""
    for mention in mentions:
        if mention.value == value and type(mention.value) is not bool:
            return _mention_chars(command, mention)
    return None


def provenance(
    command: str, schema: Mapping[str, Any], arguments: Mapping[str, Any]
) -> dict[str, Provenance]:
    """The provenance of each top-level argument of a call.

    Args:
        command: the user's command.
        schema: the tool's parameter schema (``Tool.schema``).
        arguments: the call's validated arguments.

    Returns:
        Argument name to :class:`Provenance`.
    """
    properties: Mapping[str, Any] = schema.get("properties") or {}
    out: dict[str, Provenance] = {}
    mentions: list[Mention] | None = None  # read once, and only for a value not written as such
    for name, value in arguments.items():
        spec = properties.get(name)
        spec = spec if isinstance(spec, Mapping) else {}
        span = _span(command, value)
        if span is None and isinstance(value, (str, int, float)) and not isinstance(value, bool):
            mentions = find_mentions(command) if mentions is None else mentions
            span = _read_as(command, value, mentions)
        if span is not None:
            out[name] = Provenance("span", *span)
        elif value in (spec.get("enum") or ()) or ("const" in spec and spec["const"] == value):
            out[name] = Provenance("choice")
        elif "default" in spec and spec["default"] == value:
            out[name] = Provenance("default")
        else:
            out[name] = Provenance("generated")
    return out


@dataclass(frozen=True)
class Contest:
    """One value of a call given to more parameters than the command says it.

    Attributes:
        value: the value ("acceleration": 300, "distance": 300 for "... at 4 m/s^2 for 300 meters").
        names: the parameters that have it, in the call's order.
        said: how many times the command gives it (at least once, fewer than ``len(names)``).
    """

    value: Any
    names: tuple[str, ...]
    said: int

    def keepers(self, preferred: Mapping[str, Any]) -> tuple[str, ...]:
        """The parameters that keep the value: those ``preferred`` gives it to, then the first written.

        ``preferred`` is another reading of the command (the offline extractor's, which ties
        "300 meters" to ``distance`` by its words).
        """
        chosen = [name for name in self.names if _same_value(preferred.get(name), self.value)]
        chosen += [name for name in self.names if name not in chosen]
        return tuple(chosen[: self.said])


def _times_said(command: str, value: Any, mentions: Sequence[Mention]) -> int:
    """How many times ``command`` gives ``value``: as a number (digits, words, a percentage) or as text."""
    if isinstance(value, (int, float)):
        count = 0
        for mention in mentions:
            if mention.kind in ("number", "numword") and not isinstance(mention.value, bool):
                number = mention.value
                if number == value or (mention.percent and round(number / 100, 10) == value):
                    count += 1
        return count
    return command.lower().count(value.lower())


def contested(command: str, arguments: Mapping[str, Any]) -> list[Contest]:
    """The values a call gives to more of its top-level parameters than the command gives them.

    A small model copies the value it just wrote into the next parameter ("temp": 298, "volume":
    298 for "298K and volume is 10 m^3"); on BFCL ``simple_python`` such a repeat was in 37 of the 82
    wrong model-written calls and in none of the right ones. A value the command gives twice may be
    used twice ("a six on a six-sided die" is not a contest).
    """
    users: dict[tuple[str, Any], list[str]] = {}
    texts = {v.lower() for v in arguments.values() if isinstance(v, str)}
    for name, value in arguments.items():
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            continue
        if isinstance(value, str) and not value.strip():
            continue
        if isinstance(value, str):
            # "Seattle, WA" beside "Seattle": the place as the tool asks for it, and a copy of it.
            head = value.split(",")[0].strip().lower()
            key: tuple[str, Any] = ("text", head if head in texts else value.lower())
        else:
            key = ("number", float(value))
        users.setdefault(key, []).append(name)
    mentions: Sequence[Mention] | None = None
    found = []
    for (kind, said_as), names in users.items():
        if len(names) < 2:
            continue
        if mentions is None:
            mentions = find_mentions(command)
        value = arguments[names[0]]
        said = _times_said(command, said_as if kind == "text" else value, mentions)
        if 0 < said < len(names):
            found.append(Contest(value, tuple(names), said))
    return found


def deduplicated(command: str, arguments: Mapping[str, Any]) -> dict[str, Any] | None:
    """The arguments with list items repeated more often than the command says them dropped.

    A small model repeats the last item of a list it was writing (``["Sam", "Alice", "Jack",
    "Jack"]`` for "['Sam', 'Alice', 'Jack']"); an item the command gives twice may stay twice.

    Returns:
        The new arguments, or ``None`` when no list had such a repeat.
    """
    mentions: Sequence[Mention] | None = None
    changed: dict[str, Any] = {}
    for name, value in arguments.items():
        if not isinstance(value, list) or len(value) < 2:
            continue
        kept: list[Any] = []
        for item in value:
            if isinstance(item, bool) or not isinstance(item, (int, float, str)):
                kept.append(item)
                continue
            repeats = sum(1 for k in kept if _same_value(k, item))
            if repeats:
                if mentions is None:
                    mentions = find_mentions(command)
                if repeats >= max(_times_said(command, item, mentions), 1):
                    continue
            kept.append(item)
        if len(kept) < len(value):
            changed[name] = kept
    return {**arguments, **changed} if changed else None


def without_values(
    variant: Mapping[str, Any], removed: Mapping[str, Any], pinned: Mapping[str, Any]
) -> dict[str, Any] | None:
    """A copy of one tool's grounded reply schema with some values taken away from some parameters.

    Args:
        variant: one entry of :func:`grounded_schema`'s ``anyOf`` (one tool).
        removed: parameter name to the value it may no longer take (for text, nor any span sharing
            a word with it: without "Seattle", not "Seattle that plays jazz" either).
        pinned: parameter name to the only value it may take.

    Returns:
        The narrowed schema, or ``None`` when a required parameter is left with no value (an optional
        one with none leaves the schema: its default applies).
    """
    narrowed = copy.deepcopy(dict(variant))
    params = narrowed["properties"]["params"]
    properties: dict[str, Any] = params.get("properties") or {}
    required = set(params.get("required") or ())
    for name, value in pinned.items():
        if isinstance(properties.get(name), dict):
            properties[name] = {**properties[name], "enum": [value]}
    for name, value in removed.items():
        spec = properties.get(name)
        if not isinstance(spec, dict) or "enum" not in spec:
            continue
        left = [v for v in spec["enum"] if not _same_value(v, value) and not _overlapping(v, value)]
        if left:
            properties[name] = {**spec, "enum": left}
        elif name in required:
            return None
        else:
            del properties[name]
    return narrowed


def _same_value(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.lower() == b.lower()
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return isinstance(a, (int, float)) and isinstance(b, (int, float)) and float(a) == float(b)


def _overlapping(a: Any, b: Any) -> bool:
    """Whether two texts share a word that is not a function word ("Francisco in 2020", "San Francisco")."""
    if not (isinstance(a, str) and isinstance(b, str)):
        return False
    return bool(_content_words(a) & _content_words(b))


def _content_words(text: str) -> set[str]:
    return {w for w in re.findall(r"\w+", text.lower()) if w not in _EDGE_WORDS}


#: Mention kinds that name a value (a phrase of the command that is none of these may be any words).
_NAMING = frozenset("name quoted email url file date unit formula number numword place currency".split())


def unnamed_values(command: str, schema: Mapping[str, Any], arguments: Mapping[str, Any]) -> list[str]:
    """The span-grounded text arguments whose value is no value the command names.

    A span may be any run of the command's words: ``state: "What's"``, ``season: "James"``. A value
    that is a name, a quoted string, a date, a unit... the command gives (or a word run inside a
    name: "France" of "King of France") is named; the rest are phrases a model picked for want of a
    value, which is what a call of a tool that does not fit the command looks like.

    Returns:
        The names of the arguments whose values are unnamed phrases, in the call's order.
    """
    properties: Mapping[str, Any] = schema.get("properties") or {}
    named: list[str] = []
    found = []
    for name, value in arguments.items():
        spec = properties.get(name)
        if not isinstance(value, str) or not isinstance(spec, dict) or grounding_kind(name, spec) != "span":
            continue
        if not named:
            named = [
                f" {' '.join(str(m.value).lower().split())} "
                for m in find_mentions(command)
                if m.kind in _NAMING
            ]
        text = f" {' '.join(value.split(',')[0].lower().split())} "
        if not any(text in mention for mention in named):
            found.append(name)
    return found
