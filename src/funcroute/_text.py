"""Clipping long text for logs, prompts and error messages: one rule, one marker style.

A clipped text keeps its first ``limit`` characters and ends with a marker saying that (and how much)
was cut, so a reader (or a model reading tool output fed back to it) never mistakes a cut value for
the whole one.
"""

from __future__ import annotations

__all__ = ["TRUNCATION_MARKER", "clip"]

#: The default marker; ``{count}`` is the number of characters cut, ``{total}`` the original length.
TRUNCATION_MARKER = " [... truncated {count} characters]"


def clip(text: str, limit: int | None, marker: str = TRUNCATION_MARKER) -> str:
    """``text`` cut to ``limit`` characters, with ``marker`` appended when anything was cut.

    Args:
        text: the text.
        limit: the most characters kept (the marker comes on top); ``None`` keeps everything.
        marker: appended after a cut; ``{count}`` and ``{total}`` in it are filled in.

    Returns:
        ``text`` itself when it fits, else its first ``limit`` characters and the marker.

    Raises:
        ValueError: ``limit`` is negative.

    Example:
        >>> clip("abcdef", 3)
        'abc [... truncated 3 characters]'
        >>> clip("abcdef", 3, "...")
        'abc...'
        >>> clip("abc", 3)
        'abc'
    """
    if limit is None or len(text) <= limit:
        return text
    if limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    return text[:limit] + marker.format(count=len(text) - limit, total=len(text))
