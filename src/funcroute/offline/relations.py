"""Relations: two things a command asks about together ("from Los Angeles to New York").

"What is the fastest route from Los Angeles to New York?" is close, in meaning, to
``get_closest_airport(location)``; "the time difference between Los Angeles and Berlin" to
``get_co_ordinate(location)``. The tool takes one place, and a call of it can use only one of the two
the command relates: it answers something about Los Angeles, not about the route or the difference.
A command that relates two names asks about the pair, so a call that uses one of them and drops
the other is, most often, no call for it. Not always: of the 68 commands of BFCL's ``simple_python``,
``multiple``, ``live_simple`` and ``live_multiple`` that relate two names, the expected call uses
both in 66; the other two are flights whose tool takes the departure alone, or whose origin BFCL
leaves out. So the cascade holds a call to it only where no tool cleared the semantic threshold.
"""

from __future__ import annotations

from funcroute.offline.mentions import find_mentions
from funcroute.offline.words import words

__all__ = ["related_pair"]

#: The words that open a pair and join its two ends: "from X to Y", "between X and Y".
_OPENERS = {"from": "to", "between": "and"}
_ARTICLES = frozenset({"the"})


def related_pair(command: str) -> tuple[str, str] | None:
    """The first two names the command relates ("from X to Y", "between X and Y"), else ``None``.

    A name written with its region is one end ("from New York, NY to Paris" relates New York and
    Paris); an article before either end is skipped ("from the Eiffel Tower to the Louvre").
    """
    said = words(command)
    names = sorted((m for m in find_mentions(command) if m.kind == "name"), key=lambda m: m.start)
    for index, first in enumerate(names):
        before = first.start - 1
        if before >= 0 and said[before] in _ARTICLES:
            before -= 1
        joiner = _OPENERS.get(said[before]) if before >= 0 else None
        if joiner is None:
            continue
        end = first.end
        rest = names[index + 1 :]
        while rest and rest[0].start == end:  # "New York" "NY": one end, written with its region
            end, rest = rest[0].end, rest[1:]
        if not rest or end >= len(said) or said[end] != joiner:
            continue
        second = rest[0]
        if second.start == end + 1 or (second.start == end + 2 and said[end + 1] in _ARTICLES):
            return str(first.value), str(second.value)
    return None
