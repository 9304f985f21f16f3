"""Where a generated reply ends: the stop-string and ``stop_when`` rule every backend applies.

One rule for all backends, so a reply is cut the same way whether a server honoured ``stop``
(OpenAI-compatible), the text grew token by token (llama.cpp) or row by row in a batch
(transformers): the reply ends before the earliest stop string, or earlier where the request's
``stop_when`` detector says. The detector only sees the text before the first stop string (what a
server that honours ``stop`` returns), and its answer is clamped into that text.
"""

from __future__ import annotations

from collections.abc import Iterable

from funcroute.backends.base import StopDetector

__all__ = ["stop_index"]


def stop_index(text: str, stops: Iterable[str], stop_when: StopDetector | None = None) -> int | None:
    """Index where the reply in ``text`` ends, or ``None`` when nothing says it has ended.

    Args:
        text: the text generated so far.
        stops: stop strings; empty ones are ignored.
        stop_when: optional detector of a complete answer, given the text before the first stop.

    Returns:
        The cut point (``text[:index]`` is the reply), or ``None`` to keep the whole text.

    Example:
        >>> stop_index("call USER: more", ("USER:",))
        5
        >>> stop_index("abc", (), lambda text: 1)
        1
    """
    found = [i for i in (text.find(s) for s in stops if s) if i >= 0]
    end = min(found) if found else None
    if stop_when is not None:
        head = text if end is None else text[:end]
        detected = stop_when(head)
        if detected is not None:
            return max(0, min(detected, len(head)))
    return end
