"""Values mentioned in a command: numbers, quoted text, addresses, files, dates, names, lists, formulas.

:func:`find_mentions` returns them in order with their position in words, for
:mod:`funcroute.offline.extract` to hand to the parameters they are nearest to. Where finds overlap, the
most specific kind wins (an e-mail address is not also a name, a date is not three numbers); a list
keeps its numbers available, since ``"coefficients 2, 3 and -4"`` may be three parameters or one.
"""

from __future__ import annotations

import ast
import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from funcroute.offline.units import readings as read_units
from funcroute.offline.words import STOPWORDS, stem, word_spans

__all__ = ["Mention", "find_mentions", "unwrapped", "without_counts", "word_spans"]

_MONTHS = {m: i for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), 1)}
# Whole month names or their abbreviations ("dec" but not "decimal").
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?"
    r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)(?![a-z])\.?"
)
_DATES = (
    re.compile(r"\b(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})\b"),
    re.compile(r"\b(?P<y>\d{4})([./])(?P<m>\d{1,2})\2(?P<d>\d{1,2})\b"),  # 2023.10.02, 2022/08/16
    re.compile(r"\b(?P<m>\d{1,2})/(?P<d>\d{1,2})/(?P<y>\d{4})\b"),
    # "March 11, 2022", "March.11, 2022", "Jun.20,2023", "April 9th of 2023"
    re.compile(
        rf"\b(?P<mn>{_MONTH})\s*(?P<d>\d{{1,2}})(?:st|nd|rd|th)?(?:,\s*|\s+)(?:of\s+)?(?P<y>\d{{4}})\b", re.I
    ),
    # "15th October,2023", "the 12th of March 2023"
    re.compile(
        rf"\b(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<mn>{_MONTH})(?:,\s*|\s+)(?P<y>\d{{4}})\b", re.I
    ),
    # The year first: "2023 April 4th", "2023, April 4th".
    re.compile(rf"\b(?P<y>\d{{4}}),?\s+(?P<mn>{_MONTH})\s*(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\b", re.I),
    # A day of a month with no year, "April 15th", "the 4th of July": the year is filled in later.
    re.compile(
        rf"\b(?=(?-i:[A-Z]))(?P<mn>{_MONTH})\s*(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\b(?!\s*[,:]?\s*\d)", re.I
    ),
    re.compile(rf"\b(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<mn>{_MONTH})(?![a-z])(?!,?\s*\d)", re.I),
    # A month of a year, "April 2022": an ISO year-month ("2022-04"), read after the full dates.
    re.compile(
        rf"\b(?=(?-i:[A-Z]))(?P<mn>{_MONTH})\s+(?:of\s+)?(?P<y>\d{{4}})\b", re.I
    ),  # "may 2023" is no month
)
_WEEKDAYS = {d: i for i, d in enumerate("monday tuesday wednesday thursday friday saturday sunday".split())}
# "today is Monday April 25th 2023", "Today is monday 2022-10-20", "today April 25th 2023": what
# today is, by the command's own word (its weekday, when given, counts for relative days).
_TODAY_IS = re.compile(
    r"\btoday(?:\s+is|,)?\s+(?:(?P<wd>monday|tuesday|wednesday|thursday|friday|saturday|sunday),?\s+)?$", re.I
)
_WEEKDAY = re.compile(
    r"\b(?:(?:the\s+)?(?:next|upcoming|coming|this(?:\s+coming)?)\s+|on\s+)"
    r"(?P<wd>monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b",
    re.I,
)
_RELATIVE_DAYS = {"today": 0, "tomorrow": 1, "yesterday": -1}
# A stretch of time ahead named without a number: "for the next week" is 1 week, 7 days to a
# parameter counted in days (:mod:`funcroute.constrain.grounding` converts it).
_DURATION = re.compile(r"\b(?:next|coming|upcoming|following)\s+(week|fortnight)\b", re.I)
# A body that starts still, said without a number: "started from rest", "at a standstill", "an
# object dropped from 100 m" all say its starting speed is 0 (offered only to a parameter named for
# one, :func:`funcroute.offline.fit.is_starting_speed`).
_AT_REST = re.compile(r"\b(?:from|at)\s+(?:a\s+)?(?:rest|standstill|dead\s+stop)\b|\bdropped\b", re.I)
_URL = re.compile(r"\bhttps?://[^\s'\"<>`]+[^\s'\"<>`.,;:!?)]")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
# Lower-case extensions only: "Washington D.C." is not a C source file.
_FILE = re.compile(
    r"(?<![\w@/])(?:[\w\-.~]*/)*[\w\-]+\.(?:txt|csv|tsv|json|jsonl|ya?ml|xml|html?|md|pdf|docx?|xlsx?|"
    r"pptx?|png|jpe?g|gif|svg|mp3|mp4|wav|zip|tar|gz|log|py|js|ts|java|cpp|go|rs|sh|sql|db|ini|cfg|toml)\b"
)
# The closing quote for each opening one, for a command wholly in quotes (:func:`unwrapped`).
_ENCLOSING = {"'": "'", '"': '"', "“": "”", "`": "`"}
# Single quotes may hold an apostrophe between letters: 'Let's meet at 10'.
_QUOTED = re.compile(
    r"(?<![A-Za-z])'((?:[^'\n]|(?<=[A-Za-z])'(?=[A-Za-z])){1,200})'(?![A-Za-z])|\"([^\"\n]{1,200})\"|“([^”\n]{1,200})”|`([^`\n]{1,200})`"
)
# A number may carry a unit glued to it ("6cm", "100g", "50mH"); the mention keeps it as written.
_NUMBER = re.compile(
    r"(?<![\w.^])(?P<sign>[-−]?)\$?(?P<num>(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?)"
    r"(?P<pct>%)?(?:(?P<unit>[A-Za-zµ°Ω]{1,4})\b)?(?![\w^])"
)
# The unit written after a number and a space: "450 meters", "30 degree Celsius", "25 °C".
_UNIT_AFTER = re.compile(
    r"\s*(°\s?[CFK]\b|degrees? (?:celsius|fahrenheit|kelvin)\b|(?:square |sq\.? ?)?[A-Za-zµΩ]+)", re.I
)
# A formula: terms such as 3x^2, 2x, x, 5 joined by + - * /, with at least one power.
_TERM = r"(?:\d+(?:\.\d+)?\s*\*?\s*)?[a-z](?![A-Za-z])(?:\s*(?:\^|\*\*)\s*\d+(?:\.\d+)?)?|\d+(?:\.\d+)?"
_FORMULA = re.compile(rf"(?<![A-Za-z])(?:[a-z]\s*=\s*)?-?\s*(?:{_TERM})(?:\s*[-+*/]\s*(?:{_TERM}))*")
# A number, a space, then a unit with a power and no + or -: "4 m/s^2", "10 m^3" are quantities.
_QUANTITY = re.compile(r"-?\d+(?:\.\d+)?\s+[a-zA-Z][a-zA-Z/*^\d\s]*$")
# "$1.2M", "$5k", "$3bn": an amount of money with its scale glued on (only after a currency sign:
# "0.5M" alone may be a molarity, "5k" a distance in kilometres' shorthand).
_MONEY_SIGNS = frozenset("$€£¥")
_MONEY_SCALES = {
    "k": 1_000,
    "K": 1_000,
    "M": 1_000_000,
    "m": 1_000_000,
    "B": 1_000_000_000,
    "bn": 1_000_000_000,
}
# "213 million", "8.5 billion": the number times its scale word.
_SCALE = re.compile(r"\s+(thousand|million|billion|trillion)\b", re.I)
# Units of measure, as a unit parameter takes them: after a number ("4 inches") or after
# "in"/"to"/"into"/"from" ("in Celsius", "to kilometers").
_UNIT_NAMES = (
    "millimeters? millimetres? mm centimeters? centimetres? cm meters? metres? km kilometers? kilometres? "
    "inch inches ft foot feet yards? miles? nautical_miles? light_years? "
    "milligrams? mg grams? kg kilograms? lbs? pounds? ounces? oz tons? tonnes? "
    "celsius fahrenheit kelvin "
    "milliliters? millilitres? ml liters? litres? gallons? quarts? pints? cups? teaspoons? tablespoons? "
    "mph kph km/h m/s knots? joules? calories? kcal kwh watts? kilowatts? volts? amperes? hz hertz "
    "bytes? kb mb gb tb acres? hectares? units?"
).split()
_UNIT = re.compile(
    r"(?:(?<=\d)|(?<=\d )|(?<=\bin )|(?<=\bto )|(?<=\binto )|(?<=\bfrom ))(?:"
    + "|".join(name.replace("_", " ").replace("/", "\\/") for name in _UNIT_NAMES)
    + r")(?![\w/^])",
    re.I,
)
# Colours by name, for a colour parameter ("draw it in red"); capitalised colours inside a name
# ("Sea Green", "Blue Origin") stay part of the name, which is read first.
_COLOR = re.compile(
    r"\b(?:red|orange|yellow|green|blue|purple|violet|pink|brown|black|white|gr[ae]y|cyan|magenta|teal|navy"
    r"|maroon|olive|lime|indigo|gold|golden|silver|beige|turquoise|crimson|scarlet|lavender|ivory|coral"
    r"|khaki|burgundy|amber|aqua|charcoal|cream|tan)\b",
    re.I,
)
# Currencies by name (any case) or ISO code (upper case only: "cad" and "rub" are words), as codes.
_CURRENCY_NAMES = {
    "USD": r"(?:u\.?s\.?|united states|american) dollars?|dollars?",
    "EUR": r"euros?",
    "GBP": r"british pounds?|pounds? sterling",
    "JPY": r"(?:japanese )?yen",
    "CAD": r"canadian dollars?",
    "AUD": r"australian dollars?",
    "NZD": r"new zealand dollars?",
    "HKD": r"hong kong dollars?",
    "SGD": r"singapore dollars?",
    "CHF": r"swiss francs?",
    "CNY": r"(?:chinese )?yuan|renminbi",
    "INR": r"(?:indian )?rupees?",
    "MXN": r"mexican pesos?",
    "KRW": r"(?:south )?korean won",
    "BRL": r"brazilian reals?",
}
# Longest names first, so that "Canadian dollars" is CAD and not "dollars" (USD).
_CURRENCY = re.compile(
    r"\b(?:"
    + "|".join(
        f"(?P<{code}>{pattern})"
        for code, pattern in sorted(_CURRENCY_NAMES.items(), key=lambda item: item[0] == "USD")
    )
    + r")\b",
    re.I,
)
_CURRENCY_CODE = re.compile(r"\b(?:" + "|".join(_CURRENCY_NAMES) + r"|RMB)\b")
# A coordinate pair: (33.4484 N, 112.0740 W) or (40.7, -74.0).
_PAIR = re.compile(r"\(\s*(-?\d+(?:\.\d+)?)\s*°?\s*([NS])?\s*,\s*(-?\d+(?:\.\d+)?)\s*°?\s*([EW])?\s*\)")
_BRACKETS = re.compile(r"\[[^\[\]]*(?:\[[^\[\]]*\][^\[\]]*)*\]")
_RUN = re.compile(r"-?\d+(?:\.\d+)?(?:\s*(?:,\s*(?:and\s+)?|\s+and\s+)-?\d+(?:\.\d+)?){2,}")
_UNIT_WORDS = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen".split()
    )
}
_TEN_WORDS = {
    w: 10 * i for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), 2)
}
_SCALE_WORDS = {
    "hundred": 100,
    "thousand": 1000,
    "million": 1_000_000,
    "billion": 1_000_000_000,
    "trillion": 10**12,
    "dozen": 12,
}
_TIMES_WORDS = {"twice": 2, "thrice": 3}  # counts of times, read as small number words
_NUMWORD = re.compile(r"[a-z]+(?:-[a-z]+)?", re.I)
# Nouns after which "one" is an idiom, not a count ("a one time fee", "one way or another").
_ONE_IDIOMS = frozenset({"time", "way"})
# Words before "one" that make it a pronoun ("the one", "which one", "each one").
_DETERMINERS = frozenset(
    "the this that which any each every no another some last next only same other such".split()
)
_SIGN_WORDS = re.compile(r"\b(?:minus|negative)\s+$", re.I)
_NAME = re.compile(
    r"\b[A-Z][\w'&.-]*(?:\s+(?:(?:of|the|de|del|della|da|di|du|la|le|von|van|der|bin)\s+)?[A-Z][\w'&.-]*)*"
)
# An identifier: letters and digits mixed in one token ("B1004", "rs6034464", "SK123", "12345XYZ"),
# not a number with its unit or an ordinal ("6cm", "16th", "300K"), which the number reading takes.
_IDENTIFIER = re.compile(r"(?<![\w.@/:-])(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[A-Za-z0-9][\w-]{2,}(?![\w@/]|\.\w)")
# Mixed tokens that are no identifiers: formula terms ("x2", "3x"), "2-bedroom", "1e-9", chemical
# formulas ("C6H12O6", which the name reading keeps).
_NOT_IDENTIFIER = re.compile(
    r"\d?[a-z]\d?|\d+(?:-[A-Za-z]+)+|\d+(?:\.\d+)?[eE][-+]?\d+|(?:[A-Z][a-z]?\d{0,2}){2,}"
)
# An acronym and its spelled-out form in parentheses, either way round: "SNP (Single Nucleotide
# Polymorphism)", "Compound Annual Growth Rate (CAGR)".
_GLOSS_AFTER = re.compile(r"\b([A-Z]{2,6})\s*\(([A-Za-z][\w\s-]{2,80}?)\)")
_GLOSS_BEFORE = re.compile(r"[A-Za-z]\s*\(([A-Z]{2,6})\)")
# Lower-case nouns of geography that end a place's name: "the Amazon rainforest", "Mississippi river".
_FEATURE_AFTER = re.compile(
    r" (?:rainforest|river|lake|mountains?|desert|ocean|sea|bay|valley|island|canyon|glacier|peninsula"
    r"|gulf|delta|basin|reef|volcano|strait|forest|jungle|savanna|plateau|coast)\b"
)
_YEAR = re.compile(r"1[5-9]\d\d|20\d\d")
_NUMBER_WITH_UNIT = re.compile(r"[-−]?\d+(?:[.,]\d+)*(?P<suffix>[A-Za-zµ°Ω]{1,4})?")


def _is_quantity(token: str) -> bool:
    """A number with a unit or an ordinal glued to it ("6cm", "300K", "16th"), not an id ("12345XYZ")."""
    found = _NUMBER_WITH_UNIT.fullmatch(token)
    if found is None:
        return False
    suffix = found.group("suffix") or ""
    return not suffix or suffix.lower() in ("st", "nd", "rd", "th") or bool(read_units(suffix))


_LEADING_VERBS = frozenset("find calculate compute get show tell give list search send what who how".split())
# A full stop after a word of three small letters, then a capital, ends a sentence ("Mr. X" does
# not); after an abbreviation ("F.C.") only when a request word opens the next ("Liverpool F.C.
# Include its statistics").
_OPENING_WORDS = sorted(
    _LEADING_VERBS | {"include", "also", "please", "then", "provide", "return", "make", "add"}
)
_SENTENCE_END = re.compile(
    r"(?<=[a-z]{3})\.\s+(?=[A-Z])|(?<=\.)\s+(?=(?:" + "|".join(w.title() for w in _OPENING_WORDS) + r")\b)"
)
# Capitalised words that are units or filler, not names of things.
_NOT_NAMES = frozenset(
    "joules joule kelvin celsius fahrenheit hz newton newtons watts volts i i'm i'd i'll i've "
    "monday tuesday wednesday thursday friday saturday sunday".split()  # days are dates, not names
)


@dataclass(frozen=True)
class Mention:
    """A value found in the command.

    Attributes:
        kind: ``number``, ``numword`` (a number written as a word), ``quoted``, ``email``, ``url``,
            ``file``, ``date``, ``name``, ``formula``, ``list``, ``unit`` (of measure: "inches",
            "Celsius"), ``currency`` (an ISO code: "US dollars" is ``USD``), ``color``, ``identifier``
            (letters and digits mixed: "B1004"), ``choice``, ``duration`` (a stretch of time
            named without a number: "the next week" is 1 with the unit ``week``) or ``rest`` (a
            starting speed of 0 said in words: "started from rest", "dropped"; see
            :func:`funcroute.offline.fit.is_starting_speed`).
        value: the value (a number, text, a list, or an ISO date).
        start: first word index of the mention in the command's words.
        end: one past its last word index.
        percent: the number was written with ``%``.
        unit: the unit a number was written with, as written ("300K", "450 meters": ``K``,
            ``meters``; :mod:`funcroute.offline.units` reads it), ``""`` when none.
    """

    kind: str
    value: Any
    start: int
    end: int
    percent: bool = False
    unit: str = ""


def _word_index(spans: list[tuple[int, int]], start: int, end: int) -> tuple[int, int]:
    first = next((i for i, (_, e) in enumerate(spans) if e > start), len(spans))
    last = next((i for i, (s, _) in enumerate(spans) if s >= end), len(spans))
    return first, max(last, first + 1)


def _iso_date(match: re.Match[str], year: int | None = None) -> str | None:
    """The ISO date a match names; ``year`` fills in one the command does not write."""
    parts = match.groupdict()
    if "y" not in parts:
        if year is None:
            return None
        parts = {**parts, "y": str(year)}
    month = _MONTHS.get(parts["mn"][:3].lower(), 0) if parts.get("mn") else int(parts["m"])
    if "d" not in parts:
        return f"{int(parts['y']):04d}-{month:02d}" if 1 <= month <= 12 else None
    try:
        return dt.date(int(parts["y"]), month, int(parts["d"])).isoformat()
    except ValueError:
        return None


def _number(text: str) -> int | float | None:
    cleaned = text.replace("−", "-").replace(",", "")
    try:
        value = float(cleaned)
    except ValueError:
        return None
    return int(value) if value.is_integer() and "." not in cleaned and "e" not in cleaned.lower() else value


def _list_value(text: str) -> list[Any] | None:
    """``[1, 2, 3]`` / ``['a', 'b']`` / ``1, 2 and 3`` as a Python list (bare words become strings)."""
    body = text.strip()
    if not body.startswith("["):
        body = "[" + re.sub(r"\s+and\s+|,\s*and\s+", ", ", body) + "]"
    try:
        value = ast.literal_eval(body)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        items = [i.strip().strip("'\"") for i in body[1:-1].split(",") if i.strip()]
        value = [_number(i) if _number(i) is not None else i for i in items]
    return value if isinstance(value, list) and value else None


def _formula(text: str) -> str:
    """``y = 3x^2 + 2x - 1`` -> ``3x**2 + 2x - 1`` (the form BFCL and Python tools expect)."""
    body = re.sub(r"^\s*[a-z]\s*=\s*", "", text.strip().rstrip(".,"))
    return re.sub(r"\s*\^\s*", "**", body).strip()


def _spelled_numbers(command: str) -> list[tuple[str, int, int, int]]:
    """Numbers written in words, read whole: ``seventy two`` is 72, ``minus five`` is -5.

    Returns ``(kind, value, start, end)``: a single small word is a ``numword`` (often a count,
    "two numbers"; "twice" is one too), a compound or signed one a ``number``. A lone "one" is a
    pronoun ("the one with a pool", "one of them"), not a value, unless it counts a noun that
    follows (:func:`_counts_one`).
    """
    words = [(m.group(0).lower(), m.start(), m.end()) for m in _NUMWORD.finditer(command)]
    found: list[tuple[str, int, int, int]] = []
    index = 0
    while index < len(words):
        times = _TIMES_WORDS.get(words[index][0])
        if times is not None:  # "rolling a six twice": a count of 2
            found.append(("numword", times, words[index][1], words[index][2]))
            index += 1
            continue
        parts: list[str] = []
        end_index = index
        for word, _, _ in words[index:]:
            pieces = word.split("-")
            if not all(
                p in _UNIT_WORDS or p in _TEN_WORDS or p in _SCALE_WORDS or p == "and" for p in pieces
            ):
                break
            if pieces == ["and"] and not (parts and parts[-1] in _SCALE_WORDS):
                break  # "and" joins only "two hundred and five"
            if not _continues(parts, pieces):
                break
            parts += pieces
            end_index += 1
        while parts and parts[-1] == "and":
            parts.pop()
            end_index -= 1
        lone_one = parts == ["one"] and not _counts_one(command, words, index)
        if not parts or lone_one or parts[0] in _SCALE_WORDS.keys() - {"dozen"}:
            index = max(end_index, index + 1)
            continue
        value = _words_value(parts)
        start, end = words[index][1], words[end_index - 1][2]
        sign = _SIGN_WORDS.search(command[:start])
        if sign is not None:
            value, start = -value, sign.start()
        compound = len(parts) > 1 or sign is not None
        found.append(("number" if compound else "numword", value, start, end))
        index = end_index
    return found


def _counts_one(command: str, words: list[tuple[str, int, int]], index: int) -> bool:
    """Whether the lone "one" at ``words[index]`` counts the noun right after it ("one child").

    It does when the next word follows it directly and is no function word ("one of", "one more",
    "one that" are pronouns) and no determiner stands before it ("the one", "which one").
    """
    _, _, end = words[index]
    if index + 1 >= len(words):
        return False
    following, start, _ = words[index + 1]
    if command[end:start].strip() or following in STOPWORDS or following in _ONE_IDIOMS:
        return False
    if index > 0:
        before, _, before_end = words[index - 1]
        if not command[before_end : words[index][1]].strip() and before in _DETERMINERS:
            return False
    return True


def _continues(parts: list[str], pieces: list[str]) -> bool:
    """Whether number words ``pieces`` may follow ``parts`` in one number ("twenty" then "two")."""
    for piece in pieces:
        last = parts[-1] if parts else None
        if piece == "and" or last is None or last == "and":
            parts = [*parts, piece]
            continue
        if piece in _SCALE_WORDS:
            ok = last in _UNIT_WORDS or last in _TEN_WORDS or (last == "hundred" and piece != "hundred")
        elif piece in _UNIT_WORDS:
            ok = (last in _TEN_WORDS and 0 < _UNIT_WORDS[piece] < 10) or last in _SCALE_WORDS
        else:  # a tens word
            ok = last in _SCALE_WORDS
        if not ok:
            return False
        parts = [*parts, piece]
    return True


def _words_value(parts: list[str]) -> int:
    total, current = 0, 0
    for part in parts:
        if part in _UNIT_WORDS:
            current += _UNIT_WORDS[part]
        elif part in _TEN_WORDS:
            current += _TEN_WORDS[part]
        elif part == "hundred":
            current = max(current, 1) * 100
        elif part in _SCALE_WORDS:
            total += max(current, 1) * _SCALE_WORDS[part]
            current = 0
    return total + current


class _Found:
    """The mentions found so far, and the character ranges they claim."""

    def __init__(self, command: str) -> None:
        self.spans = word_spans(command)
        self.taken: list[tuple[int, int]] = []
        self.found: list[tuple[int, Mention]] = []

    def overlaps(self, start: int, end: int) -> bool:
        return any(s < end and start < e for s, e in self.taken)

    def add(
        self,
        kind: str,
        value: Any,
        start: int,
        end: int,
        *,
        overlap: bool = False,
        pct: bool = False,
        unit: str = "",
    ) -> None:
        """Add a mention unless its range is claimed; with ``overlap`` it claims no range itself."""
        if not overlap and self.overlaps(start, end):
            return
        if not overlap:
            self.taken.append((start, end))
        first, last = _word_index(self.spans, start, end)
        self.found.append((start, Mention(kind, value, first, last, pct, unit)))

    def in_order(self) -> list[Mention]:
        return [mention for _, mention in sorted(self.found, key=lambda item: item[0])]


def unwrapped(command: str) -> str:
    """``command`` with the quotes around the whole of it blanked, when it is one quoted text.

    A command pasted in quotes (``'Get the stock price of Apple for the last 5 days.'``) is a
    command, not a quoted value to pass on; read as a value it fills a text parameter with the
    whole command and hides what it asks for from the tool choice. The two quote characters become
    spaces, so every offset into the command stays where it was. A command that only starts and
    ends with quoted values (``"Hi" to 'Bob'``) is left as it is.

    Example:
        >>> unwrapped("'Get the stock price of Apple.'")
        ' Get the stock price of Apple. '
        >>> unwrapped("Say 'hi'")
        "Say 'hi'"
    """
    text = command.strip()
    close = _ENCLOSING.get(text[:1])
    if close is None or len(text) < 3 or text[-1] != close:
        return command
    inner = text[1:-1]
    if close == "'":
        if re.search(r"(?<![A-Za-z])'|'(?![A-Za-z])", inner):  # an apostrophe between letters is no quote
            return command
    elif close in inner or text[0] in inner:
        return command
    start = command.index(text)
    end = start + len(text) - 1
    return f"{command[:start]} {command[start + 1 : end]} {command[end + 1 :]}"


def find_mentions(command: str, *, today: dt.date | None = None) -> list[Mention]:
    """Every value mentioned in ``command``, in order of position."""
    command = unwrapped(command)
    # Order matters: what is found first claims its characters (a URL's digits are no number).
    found = _Found(command)
    for pattern, kind in ((_URL, "url"), (_EMAIL, "email"), (_FILE, "file")):
        for m in pattern.finditer(command):
            found.add(kind, m.group(0), *m.span())
    for m in _QUOTED.finditer(command):
        found.add("quoted", next(g for g in m.groups() if g is not None).strip(), *m.span())
    _add_dates(command, today, found)
    for m in _DURATION.finditer(command):
        fortnight = m.group(1).lower() == "fortnight"
        found.add("duration", 2 if fortnight else 1, *m.span(), unit="week")
    for m in _AT_REST.finditer(command):
        found.add("rest", 0, *m.span())
    for m in _FORMULA.finditer(command):
        text = m.group(0).rstrip()
        if re.search(r"\^|\*\*", text) and not _QUANTITY.match(text):
            found.add("formula", _formula(text), m.start(), m.start() + len(text))
    for m in _IDENTIFIER.finditer(command):
        token = m.group(0)
        squared = token[-1] in "23" and bool(read_units(token[:-1]))  # "km2", "m3": units with a power
        if not _is_quantity(token) and not _NOT_IDENTIFIER.fullmatch(token) and not squared:
            found.add("identifier", m.group(0), *m.span())
    _add_numbers(command, found)
    for m in _CURRENCY.finditer(command):
        found.add("currency", m.lastgroup, *m.span())
    for m in _CURRENCY_CODE.finditer(command):
        found.add("currency", "CNY" if m.group(0) == "RMB" else m.group(0), *m.span())
    for m in _UNIT.finditer(command):
        found.add("unit", m.group(0), *m.span())
    _claim_glosses(command, found)
    _add_names(command, found)
    for m in _COLOR.finditer(command):
        found.add("color", m.group(0), *m.span())
    return found.in_order()


def _add_dates(command: str, today: dt.date | None, found: _Found) -> None:
    base, weekday, today_said = today or dt.date.today(), None, False
    stated: list[tuple[int, int, str]] = []  # the dates the command writes out
    yearless: list[re.Match[str]] = []
    for pattern in _DATES:
        for m in pattern.finditer(command):
            if "y" not in pattern.groupindex:
                yearless.append(m)
                continue
            iso = _iso_date(m)
            if iso is not None and not any(s < m.end() and m.start() < e for s, e, _ in stated):
                stated.append((m.start(), m.end(), iso))
    dated = False  # the command writes out a date that is not today's
    for start, end, iso in stated:
        said = _TODAY_IS.search(command, max(start - 40, 0), start)
        # "for today April 25th 2023": today is that date, and one date is mentioned, not two.
        if said is not None and len(iso) == 10:
            base, today_said = dt.date.fromisoformat(iso), True
            weekday = _WEEKDAYS.get((said.group("wd") or "").lower())
            found.add("date", iso, said.start(), end)
        else:
            dated = True
    for start, end, iso in stated:
        found.add("date", iso, start, end)
    for m in yearless:
        if any(s < m.end() and m.start() < e for s, e, _ in stated):
            continue  # a part of a date written out whole
        # "April 15th": of the year of the date the command writes before it ("from 2023 April 4th
        # to April 8th"), else of the year today is in, by the command's word if it says ("today is
        # 2023.3.1"), else the next such day from today.
        before = [iso for start, _, iso in stated if start < m.start()]
        if before:
            iso = _iso_date(m, int(before[-1][:4]))
            if iso is not None:
                found.add("date", iso, *m.span())
            continue
        iso = _iso_date(m, base.year)
        if iso is not None and not today_said and iso < base.isoformat():
            iso = _iso_date(m, base.year + 1)
        if iso is not None:
            found.add("date", iso, *m.span())
    for m in re.finditer(r"\b(today|tomorrow|yesterday)\b", command, re.I):
        if any(start >= m.end() and not command[m.end() : start].strip(" ,") for start, _, _ in stated):
            continue  # "for tomorrow, June 1 2023": the date written out is the day meant
        found.add(
            "date", (base + dt.timedelta(days=_RELATIVE_DAYS[m.group(1).lower()])).isoformat(), *m.span()
        )
    # "this coming Saturday 2023-09-30": the date written out is the day meant.
    for m in () if dated else _WEEKDAY.finditer(command):
        # "the upcoming Wednesday" after "today is Monday April 25th": two days on (by the weekday
        # the command says today is, else the calendar's).
        now = base.weekday() if weekday is None else weekday
        ahead = (_WEEKDAYS[m.group("wd").lower()] - now - 1) % 7 + 1
        found.add("date", (base + dt.timedelta(days=ahead)).isoformat(), *m.span())


def _add_numbers(command: str, found: _Found) -> None:
    """Coordinate pairs, lists, digits and spelled-out numbers."""
    for m in _PAIR.finditer(command):
        lat, north, lon, east = m.groups()
        first, second = _number(lat), _number(lon)  # as written: "(3,4)" is [3, 4]
        if first is None or second is None:
            continue
        pair = [-first if north == "S" else first, -second if east == "W" else second]
        found.add("list", pair, *m.span(), overlap=True)
    # Lists overlap the numbers inside them on purpose: the assignment decides which reading wins.
    for pattern in (_BRACKETS, _RUN):
        for m in pattern.finditer(command):
            items = _list_value(m.group(0))
            if items is not None and not found.overlaps(m.start(), m.end()):
                found.add("list", items, *m.span(), overlap=True)
    for m in _NUMBER.finditer(command):
        value = _number(m.group("sign") + m.group("num"))
        if value is not None:
            start = m.start()
            sign = _SIGN_WORDS.search(command[: m.start()])
            if sign is not None and not m.group("sign"):  # "minus 5 degrees" is -5
                value, start = -value, sign.start()
            end = m.end()
            scale = _SCALE.match(command, end)
            if scale is not None and not m.group("pct"):  # "213 million" is 213000000
                scaled = value * _SCALE_WORDS[scale.group(1).lower()]
                value = int(scaled) if float(scaled).is_integer() else scaled
                end = scale.end()
            unit = _unit_of(command, m)
            money = command[max(m.start("num") - 1, 0) : m.start("num")] in _MONEY_SIGNS
            if money and unit in _MONEY_SCALES and not m.group("pct"):  # "$1.2M" is 1200000
                scaled = round(value * _MONEY_SCALES[unit], 6)  # 1.1 * 10**6 is 1100000.0000000002
                value, unit = (int(scaled) if float(scaled).is_integer() else scaled), ""
            found.add("number", value, start, end, pct=bool(m.group("pct")), unit=unit)
    for kind, value, start, end in _spelled_numbers(command):
        found.add(kind, value, start, end)


def _unit_of(command: str, number: re.Match[str]) -> str:
    """The unit a number is written with: glued ("300K", "50mH") or the next word ("450 meters")."""
    if number.group("unit"):
        return number.group("unit")
    after = _UNIT_AFTER.match(command, number.end())
    if after is None or not read_units(after.group(1)):
        return ""
    written = after.group(1)
    # One letter after a space is a unit only where it cannot be a word or a label: "300 K".
    return written if len(written) > 1 or written.startswith("°") or written in ("K", "J") else ""


def _initials(words: list[str]) -> str:
    return "".join(w[0] for w in words if w.lower() not in STOPWORDS).upper()


def _claim_glosses(command: str, found: _Found) -> None:
    """Claim an acronym's spelled-out form, so that it is no value: the acronym stands for both.

    "SNP (Single Nucleotide Polymorphism) ID rs6034464" names one thing twice; read as two names,
    the gloss filled the species. The acronym, left as written, is the mention.
    """
    for m in _GLOSS_AFTER.finditer(command):
        if _initials(m.group(2).split()) == m.group(1):
            found.taken.append(m.span(2))
    for m in _GLOSS_BEFORE.finditer(command):
        acronym, before = m.group(1), command[: m.start(1) - 1].rstrip()
        spelled = list(re.finditer(r"[A-Za-z][\w-]*", before))[-2 * len(acronym) :]
        for first in range(len(spelled)):  # the shortest run of words before "(" with those initials
            run = spelled[len(spelled) - 1 - first :]
            if _initials([w.group(0) for w in run]) == acronym:
                found.taken.append((run[0].start(), run[-1].end()))
                break


def _add_names(command: str, found: _Found) -> None:
    for m in _NAME.finditer(command):
        # A name ends with its sentence: "in Texas. Don't return..." names Texas.
        whole = _SENTENCE_END.split(m.group(0))[0]
        # The full stop of an abbreviation stays ("Liverpool F.C."); a sentence's goes.
        kept = whole if re.search(r"(?:\b[A-Z]\.){2,}$", whole) else whole.rstrip(".")
        text = re.sub(r"(?:'s|')$", "", kept)
        text = text.removesuffix(" I")  # "directed by Quentin Tarantino I think"
        head = text.split()[0].lower()
        before = command[: m.start()].rstrip()  # leading blanks (an unwrapped quote) open it too
        opening = not before or before[-1] in (".", "!", "?")
        # "The" written with a capital inside a sentence is part of the name: "The Weeknd's concert".
        titled = head == "the" and text.startswith("The ") and not opening
        if (opening and " " not in text) or (head in STOPWORDS and not titled) or head in _LEADING_VERBS:
            # A capital that only opens the sentence ("Solve ...", "Find Paris") is not a name.
            text = " ".join(text.split()[1:])
        start = m.start() + m.group(0).find(text)
        feature = _FEATURE_AFTER.match(command, m.end()) if start + len(text) == m.end() else None
        if feature is not None:  # "the Amazon rainforest", "Mississippi river": one place
            text += feature.group(0)
        number = re.search(r"(\d[\d.,]*)\s?$", command[:start])
        if number and re.fullmatch(r"[A-Z]{2,4}", text) and not _YEAR.fullmatch(number.group(1)):
            continue  # "25 MPG", "80 BPM": capitals right after a number are its unit ("2023 NBA" no)
        if len(text) > 1 and not all(w.lower() in STOPWORDS or w.lower() in _NOT_NAMES for w in text.split()):
            found.add("name", text, start, start + len(text))


def without_counts(
    mentions: list[Mention], tokens: list[str], counted: frozenset[str] = frozenset()
) -> list[Mention]:
    """The mentions less the counts, when the command has numbers in digits.

    A number word before a plural or a measure word ("two charges of 5C and 7C", "its three sides:
    3, 4 and 5", "two set of variables") counts the values that follow in digits; it is not one of
    them. With no digits it is the value ("add two apples"), and so it is where a parameter counts
    that plural (``counted``: stems of the things the tool's count parameters count, "Number of
    events to return" gives "event"): "ten major events in the 16th century".
    """
    if not any(m.kind == "number" for m in mentions):
        return mentions

    def is_count(m: Mention) -> bool:
        # "two set of variables", "three pairs of shoes": a measure word and "of" count too.
        measured = m.end + 1 < len(tokens) and tokens[m.end + 1] == "of"
        # "two charged bodies": a plural within two words.
        plural = any(w.endswith("s") and stem(w) != w for w in tokens[m.end : m.end + 2])
        if m.kind != "numword" or not (measured or plural):
            return False
        counts = tokens[m.end : m.end + 3]  # "ten events", "ten major historical events"
        return not any(stem(word) in counted for word in counts if word.endswith("s"))

    return [m for m in mentions if not is_count(m)]
