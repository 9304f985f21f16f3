"""Where a call being generated is complete, so generation can stop there."""

from __future__ import annotations

from funcroute.parsing.safe_yaml import YAML_CALL_START

__all__ = ["closing_index", "end_of_first_call", "end_of_first_yaml_call"]


def end_of_first_yaml_call(text: str) -> int | None:
    """Like :func:`end_of_first_call` for YAML replies: a closing fence, or a blank line after keys."""
    fence = text.find("```")
    if fence != -1:
        body_start = text.find("\n", fence)
        close = text.find("```", body_start) if body_start != -1 else -1
        return close + 3 if close != -1 else None
    match = YAML_CALL_START.search(text)
    if match is None:
        return None
    blank = text.find("\n\n", match.end())
    return blank if blank != -1 else None


def end_of_first_call(text: str) -> int | None:
    """Index just past the first complete call in ``text`` generated so far, else ``None``.

    A JSON call ends at the brace that closes its first ``{``; a fenced block ends at its closing
    fence. Used as a stop detector so generation ends with the call, not at ``max_new_tokens``.
    """
    fence = text.find("```")
    brace = text.find("{")
    if fence != -1 and (brace == -1 or fence < brace):
        body_start = text.find("\n", fence)
        if body_start == -1:
            return None
        close = text.find("```", body_start)
        if close != -1:
            return close + 3
        if brace == -1:
            return None
    if brace == -1:
        return None
    return closing_index(text, brace, "{", "}")


def closing_index(text: str, start: int, opening: str = "{[", closing: str = "}]") -> int | None:
    """Index just past the bracket that closes ``text[start]``, or ``None`` while it is open.

    Brackets inside JSON strings (escapes honoured) do not count; ``opening`` and ``closing`` are
    the characters that nest (braces only for a call object, braces and brackets for any value).
    """
    depth = 0
    in_string = escaped = False
    for index in range(start, len(text)):
        char = text[index]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in opening:
            depth += 1
        elif char in closing:
            depth -= 1
            if depth == 0:
                return index + 1
    return None
