"""Opposites: a tool named for one end of a pair is no tool for a command that asks for the other.

"When is sunset in Beijing?" is nearest, in meaning, to ``calculate_sunrise``; "the derivative of
2x" to ``compute_definite_integral``; "the freezing point of water" to ``calculate_boiling_point``.
A sentence encoder puts both ends of such a pair close together (they share their context), so the
semantic score cannot tell them apart. A word of the tool's name whose opposite the command says,
while the command never says the word itself, can.

The pairs are general English opposites, not fitted to one benchmark. On BFCL (``simple_python``,
``multiple``, ``live_simple``, ``live_multiple``), no call the cascade served had such a clash.
"""

from __future__ import annotations

import functools

from funcroute.offline.words import name_words, stem, words

__all__ = ["clash"]

_PAIRS = """
sunrise sunset | internal external | integral derivative | boiling freezing | boil freeze |
highest lowest | high low | high lowest | low highest | maximum minimum | max min | buy sell |
import export | increase decrease | upload download | encrypt decrypt | encode decode |
multiply divide | add subtract | deposit withdraw | enable disable | income expense | profit loss |
win lose | arrival departure | input output | oldest newest | hot cold | north south | east west |
male female | ascending descending | inflow outflow | lend borrow | credit debit | expand shrink
"""


@functools.cache
def _opposites() -> dict[str, frozenset[str]]:
    table: dict[str, set[str]] = {}
    for pair in _PAIRS.split("|"):
        first, second = (stem(word) for word in pair.split())
        table.setdefault(first, set()).add(second)
        table.setdefault(second, set()).add(first)
    return {word: frozenset(others) for word, others in table.items()}


def clash(function: str, command: str) -> str:
    """Why the tool ``function`` is the opposite of what ``command`` asks ("" when it is not).

    ``calculate_sunrise`` for "When is sunset?" clashes; for "sunrise and sunset times" it does not.
    """
    said = {stem(word) for word in words(command)}
    opposites = _opposites()
    for word in dict.fromkeys(words(name_words(function))):
        if stem(word) in said:
            continue
        asked = opposites.get(stem(word), frozenset()) & said
        if asked:
            other = next(w for w in words(command) if stem(w) in asked)
            return f"{function!r} is for {word!r}, and the command asks for {other!r}"
    return ""
