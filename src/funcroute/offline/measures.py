"""Measures: a tool named for one measure is no tool for a command that asks for another.

"What is the acceleration a ball will reach..." is close, in meaning, to ``calculate_maximum_height``;
"Calculate the volume of the sphere" to ``calculate_park_area``; "the distance from San Francisco to
Los Angeles" to ``get_date``. The commands and the tools share their context (a thrown ball, a round
shape, two places), so a sentence encoder scores them close, and the extractor finds every value
the tool needs. What tells them apart is the measure: the command asks for one ("what is the
acceleration") and the tool's name is for another (height), which the command never says.

The measures are grouped by what they measure (``speed``/``velocity``, the lengths ``height``,
``width``, ``distance``...), so that a synonym is no clash. Both ends must be in the vocabulary: a
tool whose name says no measure (``projectile_motion``), or a command that asks for none ("How high
will it go?"), never clashes. On BFCL's ``simple_python``, ``multiple``, ``live_simple``,
``live_multiple`` and the parallel categories (2,351 commands, 3,152 expected calls), no expected
call clashes (``tests/offline/test_measures.py`` checks it).
"""

from __future__ import annotations

import functools

from funcroute.offline.mentions import find_mentions
from funcroute.offline.words import name_words, stem, words

__all__ = ["asked_measure", "other_measure"]

# Each line one measure (its synonyms side by side). General quantities of geometry, physics,
# statistics and money; "rate" and "current" are left out: "interest rate", "current time". The
# p-value is "p": names and commands split ``get_p_value`` and "p-value" into "p" and "value".
_GROUPS = """
area surface | volume capacity | perimeter circumference |
length width height depth distance displacement radius diameter altitude elevation |
speed velocity | acceleration | force tension | mass weight | momentum | energy work heat | power |
pressure | temperature | density | time duration | date | frequency | wavelength | voltage |
resistance | charge | capacitance | mean average | median | variance deviation | p pvalue |
probability odds chance likelihood | correlation | interest | payment installment |
profit earnings | revenue sales | loss | cost price expense | tax | salary wage | margin |
roi return | population | age
"""

# The words that open a request for a value ("What is the...", "Calculate the...") and how far
# after one the measure asked for may come ("the final velocity", "the rate of return").
_ASKS = frozenset("what calculate compute find determine estimate get".split())
_REACH = 5


@functools.cache
def _measures() -> dict[str, int]:
    return {stem(word): index for index, line in enumerate(_GROUPS.split("|")) for word in line.split()}


def asked_measure(command: str) -> str | None:
    """The measure the command asks for: the first one within a few words of its first request word.

    "What is the rate of return for..." -> ``return``; "How high will it go?" -> ``None``.
    """
    said = words(command)
    measures = _measures()
    for index, word in enumerate(said):
        if word in _ASKS:
            return next((w for w in said[index + 1 : index + 1 + _REACH] if stem(w) in measures), None)
    return None


def other_measure(function: str, command: str) -> str:
    """Why the tool ``function`` measures something other than ``command`` asks for ("" when it does not).

    ``calculate_park_area`` for "Calculate the volume of the sphere" clashes; for "the area of a
    circle" it does not, nor for "Find the park's volume and area" (the command says its measure).
    A date written in the command ("on December 13, 2019") says the measure ``date``.
    """
    measures = _measures()
    tool = {measures[stem(word)] for word in words(name_words(function)) if stem(word) in measures}
    if not tool:
        return ""
    asked = asked_measure(command)
    if asked is None:
        return ""
    said = {measures[stem(word)] for word in words(command) if stem(word) in measures}
    if tool & said:
        return ""
    if measures["date"] in tool and any(m.kind == "date" for m in find_mentions(command)):
        return ""
    named = next(w for w in words(name_words(function)) if stem(w) in measures)
    return f"{function!r} is for {named!r}, and the command asks for {asked!r}"
