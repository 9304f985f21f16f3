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
from funcroute.retrieval import content_words, name_words, stem, words

__all__ = ["Chooser", "Filled", "fill_arguments"]

#: ``choose(command, options) -> (index, similarity)``: the option the command means most.
Chooser = Callable[[str, Sequence[str]], "tuple[int, float]"]

_FILLER = frozenset("a an the of is are and or".split())
_NEGATION = re.compile(r"\b(?:no|not|without|exclude|excluding|don ?t|do not|never|disable)\b", re.I)
_HINTS = {
    "email": ("email", "mail", "recipient", "sender"),
    "url": ("url", "uri", "link", "website", "endpoint", "href"),
    "file": ("file", "path", "filename", "document", "attachment"),
    "date": ("date", "day", "birthday", "deadline"),
    "formula": ("function", "equation", "expression", "polynomial", "formula"),
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
    """

    arguments: dict[str, Any] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    required: int = 0

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
        path = (*prefix, name)
        is_required = required and name in needed
        if isinstance(spec.get("properties"), dict) and "enum" not in spec:
            yield from _leaves(spec, path, is_required)
            continue
        # Every word of the name is a cue, even "from"/"to": they tell from_unit and to_unit apart.
        cues = [(stem(w), 1.0) for w in words(name_words(" ".join(path))) if w not in _FILLER]
        cues += [(w, 0.5) for w in content_words(str(spec.get("description") or ""))[:8]]
        yield _Param(path, spec, is_required, cues)


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
    if mention.kind in ("number", "numword"):
        # Counts written as words ("two numbers") are usually not values: digits go first.
        weight = 0.6 if mention.kind == "numword" else 1.0
        if ("integer" in types and isinstance(mention.value, int)) or "number" in types:
            return weight
        return weight * _STRING_PRIOR["number"] if "string" in types else 0.0
    if "string" not in types:
        return 0.0
    hint = _hint(param)
    if hint is not None:
        return 1.3 if hint == mention.kind else 0.8 if mention.kind == "quoted" else 0.1
    return _STRING_PRIOR.get(mention.kind, 0.0)


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
    index, similarity = choose(command, [name_words(str(o)) or str(o) for o in options])
    return (options[index], True) if similarity >= 0.2 else (None, False)


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
    for param in params:
        if "enum" in param.schema:
            mentions.extend(_choice_mentions(tokens, param))
            pending.append(param)
        elif _types(param.schema) == {"boolean"}:
            value, ok = _boolean(tokens, param)
            if ok:
                values[param.path] = value
        else:
            pending.append(param)
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
    taken: list[tuple[int, int]] = []  # word ranges already used: a list's numbers, a name...
    for score, closeness, p_index, m_index in sorted(pairs, key=lambda t: (-t[0], t[3], t[2])):
        param, mention = pending[p_index], mentions[m_index]
        if param.path in values or any(s < mention.end and mention.start < e for s, e in taken):
            continue
        # Optional parameters need a word of evidence; required ones may take what is left, in order.
        if not param.required and (closeness < 0.25 or score < 0.15):
            continue
        values[param.path] = _coerce(param, mention)
        taken.append((mention.start, mention.end))
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
    return _nest(params, values)


def _nest(params: list[_Param], values: dict[tuple[str, ...], Any]) -> Filled:
    filled = Filled(required=sum(p.required for p in params))
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
