"""Is parsed data plain, bounded JSON? Depth, finite numbers, string keys, clean text."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

__all__ = ["json_problem"]


class _Unusable(Exception):
    """A candidate that parsed but breaks a limit; skipped, and reported if nothing else works."""


_SCALARS = (int, bool, type(None))


def _text_ok(text: str) -> bool:
    """Whether ``text`` can be written as UTF-8 (no lone surrogates from JSON escapes)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check(node: Any, max_depth: int, depth: int = 1, *, fix_keys: bool = True) -> None:
    """Refuse deep nesting, non-finite numbers, lone surrogates and non-JSON values.

    With ``fix_keys``, non-string keys (YAML ``200: ok``) become strings; otherwise they are refused.
    Recursive on purpose: recursion stops at ``max_depth``, and plain calls beat an explicit stack
    on the tiny trees of typical replies (this runs on every parse).
    """
    if isinstance(node, dict):
        if depth > max_depth:
            raise _Unusable(f"nesting deeper than {max_depth} levels")
        for key in node:
            if type(key) is not str:
                if not fix_keys:
                    raise _Unusable(f"a mapping key of type {type(key).__name__}")
                fixed = {_key(k): v for k, v in node.items()}
                node.clear()
                node.update(fixed)
                break
        for key in node:
            if not key.isascii() and not _text_ok(key):
                raise _Unusable("text with a lone surrogate (not valid Unicode)")
        children: Any = node.values()
    elif isinstance(node, list):
        if depth > max_depth:
            raise _Unusable(f"nesting deeper than {max_depth} levels")
        children = node
    elif isinstance(node, str):
        if not _text_ok(node):
            raise _Unusable("text with a lone surrogate (not valid Unicode)")
        return
    elif isinstance(node, float):
        if not math.isfinite(node):
            raise _Unusable("a non-finite number (NaN or Infinity)")
        return
    elif isinstance(node, _SCALARS):
        return
    else:
        raise _Unusable(f"a value of unsupported type {type(node).__name__}")
    for child in children:
        kind = type(child)
        if kind is str:
            if not child.isascii() and not _text_ok(child):
                raise _Unusable("text with a lone surrogate (not valid Unicode)")
        elif kind not in _SCALARS:
            _check(child, max_depth, depth + 1, fix_keys=fix_keys)


def json_problem(value: Any, max_depth: int) -> str | None:
    """Why ``value`` is not plain JSON data (for arguments given by hand), or ``None`` if it is."""
    try:
        _check(value, max_depth, fix_keys=False)
    except _Unusable as exc:
        return str(exc)
    except RecursionError:
        return f"nesting deeper than {max_depth} levels"
    return None


def _key(key: Any) -> str:
    if isinstance(key, (dict, list)):
        raise _Unusable("a mapping key that is itself a mapping or list")
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)


# strict=False: models put raw newlines in strings. One decoder, built once: json.loads with options
# builds a new decoder per call, which costs more than parsing a typical reply.
_DECODER = json.JSONDecoder(strict=False)


def _loads_json(text: str) -> Any:
    return _DECODER.decode(text)


def _refuse_constant(name: str) -> Any:
    raise _Unusable("a non-finite number (NaN or Infinity)")


def _finite_float(text: str) -> float:
    value = float(text)
    if value - value != 0.0:  # inf - inf is nan: 1e999 overflows to Infinity
        raise _Unusable("a non-finite number (NaN or Infinity)")
    return value


# For whole-reply JSON: refuses NaN/Infinity/overflowing floats while decoding, so that most texts
# need no walk of the decoded tree (see :func:`_decode_checked`).
_CHECKED_DECODER = json.JSONDecoder(strict=False, parse_constant=_refuse_constant, parse_float=_finite_float)
_SCAN: Callable[[str, int], tuple[Any, int]] = _CHECKED_DECODER.scan_once  # type: ignore[attr-defined]


def _decode_checked(text: str, max_depth: int) -> Any:
    r"""``text`` (stripped) as JSON, with every check of :func:`_check`; the tree walked only if needed.

    The decoder refuses non-finite numbers itself. JSON gives only string keys and JSON types, so
    what is left to refuse is nesting (bounded above by the number of opening brackets, those
    inside strings included) and lone surrogates (only from ``\u`` escapes, or already in text
    that cannot be written as UTF-8): when the text rules both out, the tree is not walked.

    The decoder's scanner is called directly: ``JSONDecoder.decode`` would only add two whitespace
    regex matches around it, and ``text`` has none at either end.

    Raises:
        ValueError: not JSON.
        RecursionError: nested too deep to decode.
        _Unusable: it breaks a limit (depth, non-finite numbers, lone surrogates).
    """
    try:
        doc, end = _SCAN(text, 0)
    except StopIteration:
        raise ValueError("not JSON") from None
    if end != len(text):
        raise ValueError("extra data after the JSON value")
    if (
        "\\u" in text
        or not (text.isascii() or _text_ok(text))
        or text.count("{") + text.count("[") > max_depth
    ):
        _check(doc, max_depth)
    return doc
