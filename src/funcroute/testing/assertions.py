"""Assertions about model replies, with failure messages that show what went wrong.

::

    call = assert_valid_call(reply, tools)
    assert_calls(reply, tools, "file_analytics", action="count_occurrences", filters={"keyword": "Python"})
    assert_calls(reply, tools, "get_weather", city=one_of("Paris", "paris"), units=ANY)
    assert_parallel_calls(reply, tools, [("get_weather", {"city": "Paris"}), ("get_time", {"zone": "CET"})])

A reply may be the raw text, a :class:`~funcroute.routing.router.RouteResult`, a
:class:`~funcroute.tools.Call` or a :class:`~funcroute.backends.base.Completion`. Matching is
partial: only the arguments given are compared, recursively into nested mappings; lists compare
element by element. Values compare with ``==`` except that booleans never equal numbers, so
``pytest.approx`` works as an expected value.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, Protocol, runtime_checkable

from funcroute._text import clip
from funcroute.backends.base import Completion
from funcroute.errors import CallValidationError, FuncRouteError, ModelOutputError
from funcroute.tools.call import Call
from funcroute.tools.toolset import ToolSet

__all__ = [
    "ABSENT",
    "ANY",
    "Matcher",
    "assert_calls",
    "assert_parallel_calls",
    "assert_valid_call",
    "one_of",
]

_MAX_REPLY = 2000


@runtime_checkable
class Matcher(Protocol):
    """A custom expected value: ``matches(actual)`` decides; ``repr`` is shown in failure messages."""

    def matches(self, value: Any) -> bool:
        """Whether ``value`` is acceptable."""


class _Any:
    def matches(self, value: Any) -> bool:
        return value is not _MISSING

    def __repr__(self) -> str:
        return "ANY"


class _Absent:
    def matches(self, value: Any) -> bool:
        return value is _MISSING

    def __repr__(self) -> str:
        return "ABSENT"


class _OneOf:
    def __init__(self, values: tuple[Any, ...]) -> None:
        self.values = values

    def matches(self, value: Any) -> bool:
        return any(_problem(v, value, "") is None for v in self.values)

    def __repr__(self) -> str:
        return f"one_of({', '.join(map(repr, self.values))})"


class _Missing:
    def __repr__(self) -> str:
        return "(not given)"


_MISSING: Final = _Missing()
#: Any value, as long as the argument is given.
ANY: Final[Matcher] = _Any()
#: The argument must not be given.
ABSENT: Final[Matcher] = _Absent()


def one_of(*values: Any) -> Matcher:
    """Any of ``values`` (BFCL-style acceptable values); each may itself be a matcher or a partial dict."""
    if not values:
        raise ValueError("one_of() needs at least one value")
    return _OneOf(values)


# ------------------------------------------------------------------------------------- reading


def _reply_text(reply: Any) -> str:
    if isinstance(reply, str):
        return reply
    if isinstance(reply, Completion):
        return reply.text
    if isinstance(reply, Call):
        return reply.reply
    replies = getattr(reply, "replies", None)
    if isinstance(replies, list):
        return str(replies[-1]) if replies else ""
    raise TypeError(f"expected a reply text, RouteResult, Call or Completion, got {type(reply).__name__}")


def _read(reply: Any, tools: ToolSet, many: bool) -> list[Call]:
    """The validated call(s) of ``reply``; an AssertionError with the whole story if there are none."""
    __tracebackhide__ = True
    if isinstance(reply, Call) and not many:
        try:
            return [tools.validate(reply.function, reply.arguments, reply.reply)]
        except ModelOutputError as exc:
            raise AssertionError(_invalid(exc, tools, reply.reply)) from None
    call = getattr(reply, "call", None)
    error = getattr(reply, "error", None)
    if isinstance(call, Call) and not many and error is None:
        return [call]
    text = _reply_text(reply)
    try:
        return tools.parse_many(text) if many else [tools.parse(text)]
    except ModelOutputError as exc:
        raise AssertionError(_invalid(exc, tools, text, error)) from None


def _invalid(exc: ModelOutputError, tools: ToolSet, text: str, route_error: Any = None) -> str:
    lines = [f"the reply is not a valid call for {tools!r}:", f"  {type(exc).__name__}: {exc}"]
    if isinstance(route_error, FuncRouteError) and str(route_error) != str(exc):
        lines.append(f"  the router reported: {type(route_error).__name__}: {route_error}")
    if isinstance(exc, CallValidationError) and exc.problems:
        lines.append("validation problems:")
        lines += [f"  {p.path or '(arguments)'}: {p.message} [{p.kind}]" for p in exc.problems]
    return "\n".join([*lines, *_show_reply(text)])


def _show_reply(text: str) -> list[str]:
    shown = clip(text, _MAX_REPLY, "... ({total} characters)")
    return ["reply:", *(f"  | {line}" for line in (shown.splitlines() or [""]))]


# ------------------------------------------------------------------------------------ matching


def _problem(expected: Any, actual: Any, path: str) -> str | None:
    """Why ``actual`` does not match ``expected`` (None when it does)."""
    where = path or "(value)"
    if isinstance(expected, Matcher) and not isinstance(expected, type):
        return None if expected.matches(actual) else f"{where}: expected {expected!r}, got {actual!r}"
    if actual is _MISSING:
        return f"{where}: expected {_show(expected)}, but it is not given"
    if isinstance(expected, Mapping):
        if not isinstance(actual, Mapping):
            return f"{where}: expected a mapping, got {actual!r}"
        for key, value in expected.items():
            found = _problem(value, actual.get(key, _MISSING), f"{path}.{key}" if path else str(key))
            if found:
                return found
        return None
    if isinstance(expected, (list, tuple)):
        if not isinstance(actual, (list, tuple)) or len(actual) != len(expected):
            return f"{where}: expected {_show(expected)}, got {actual!r}"
        for index, (want, got) in enumerate(zip(expected, actual, strict=True)):
            found = _problem(want, got, f"{path}.{index}" if path else str(index))
            if found:
                return found
        return None
    if isinstance(expected, bool) != isinstance(actual, bool) or not expected == actual:
        return f"{where}: expected {expected!r}, got {actual!r}"
    return None


def _show(value: Any) -> str:
    return json.dumps(_jsonable(value), ensure_ascii=False)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (str, int, float)):
        return value
    return f"<{value!r}>"


def _project(expected: Any, actual: Any) -> Any:
    """``actual`` cut down to the keys ``expected`` names, so a diff shows only compared parts."""
    if isinstance(expected, Mapping) and isinstance(actual, Mapping):
        return {k: _project(v, actual[k]) for k, v in expected.items() if k in actual}
    if isinstance(expected, (list, tuple)) and isinstance(actual, (list, tuple)):
        return [_project(e, a) for e, a in zip(expected, actual, strict=False)] + list(
            actual[len(expected) :]
        )
    return actual


def _call_problems(
    call: Call, function: str, arguments: Mapping[str, Any], tools: ToolSet | None = None
) -> list[str]:
    if call.function != function:
        return [f"function: expected {function!r}, got {call.function!r}"]
    known = tools[function].parameters if tools is not None and function in tools else None
    problems: list[str | None] = []
    for key, value in arguments.items():
        if known is not None and key not in known:
            # A misspelled expectation is the test's mistake, not the model's: say so.
            listed = ", ".join(sorted(known)) or "none"
            problems.append(f"{key}: no such parameter of {function!r} (its parameters: {listed})")
            continue
        problems.append(_problem(value, call.arguments.get(key, _MISSING), key))
    return [p for p in problems if p is not None]


def _diff(function: str, arguments: Mapping[str, Any], call: Call) -> list[str]:
    want = {"function": function, "params": _jsonable(arguments)}
    # Another function: its own arguments are the story, not a projection onto the expected keys.
    shown = call.arguments if call.function != function else _project(arguments, call.arguments)
    got = {"function": call.function, "params": _jsonable(shown)}
    a = json.dumps(want, indent=2, ensure_ascii=False, sort_keys=True).splitlines()
    b = json.dumps(got, indent=2, ensure_ascii=False, sort_keys=True).splitlines()
    return ["diff (- expected, + actual):", *(f"  {line}" for line in difflib.ndiff(a, b) if line[:1] != "?")]


def _not_compared(arguments: Mapping[str, Any], call: Call, function: str) -> list[str]:
    if call.function != function:
        return []  # nothing was compared: the diff shows the whole other call
    extra = sorted(set(call.arguments) - set(arguments))
    return [f"not compared (partial match): {', '.join(extra)}"] if extra else []


# ---------------------------------------------------------------------------------- assertions


def assert_valid_call(reply: Any, tools: ToolSet) -> Call:
    """Assert that ``reply`` holds a valid call for ``tools``; return it.

    Raises:
        AssertionError: with the parse or validation error, every validation problem and the reply.
    """
    __tracebackhide__ = True
    return _read(reply, tools, many=False)[0]


def assert_calls(reply: Any, tools: ToolSet, function: str, /, **arguments: Any) -> Call:
    """Assert that ``reply`` is a valid call of ``function`` whose arguments match ``arguments``.

    Only the arguments given are compared (recursively into mappings). Expected values may be
    :data:`ANY`, :data:`ABSENT`, :func:`one_of` or any object with ``==`` (``pytest.approx``).

    Raises:
        AssertionError: naming each differing argument, with a diff and the raw reply.
    """
    __tracebackhide__ = True
    call = _read(reply, tools, many=False)[0]
    problems = _call_problems(call, function, arguments, tools)
    if problems:
        text = _reply_text(reply)
        lines = ["the call does not match:", *(f"  {p}" for p in problems)]
        lines += (
            _not_compared(arguments, call, function) + _diff(function, arguments, call) + _show_reply(text)
        )
        raise AssertionError("\n".join(lines))
    return call


def assert_parallel_calls(
    reply: Any, tools: ToolSet, expected: Iterable[tuple[str, Mapping[str, Any]]]
) -> list[Call]:
    """Assert that ``reply`` holds exactly these calls, in any order (each matched partially).

    Raises:
        AssertionError: on a different number of calls, or naming the expected calls left unmatched.
    """
    __tracebackhide__ = True
    wanted = list(expected)
    calls = _read(reply, tools, many=True)
    text = _reply_text(reply)
    if len(calls) != len(wanted):
        lines = [f"expected {len(wanted)} calls, the reply holds {len(calls)}:"]
        lines += [f"  got {c.function}({_show(c.arguments)})" for c in calls]
        raise AssertionError("\n".join(lines + _show_reply(text)))
    pairing = _match([[not _call_problems(c, f, a, tools) for c in calls] for f, a in wanted])
    unmatched = [i for i, j in enumerate(pairing) if j is None]
    if unmatched:
        lines = ["no order of the calls matches the expected ones:"]
        for index in unmatched:
            function, arguments = wanted[index]
            lines.append(f"  expected {function}({_show(arguments)}) matches no call; closest:")
            closest = min(
                calls,
                key=lambda c: (c.function != function, len(_call_problems(c, function, arguments, tools))),
            )
            lines += [f"    {p}" for p in _call_problems(closest, function, arguments, tools)]
        lines += [f"  got {c.function}({_show(c.arguments)})" for c in calls]
        raise AssertionError("\n".join(lines + _show_reply(text)))
    return calls


def _match(fits: Sequence[Sequence[bool]]) -> list[int | None]:
    """A maximum matching of expected rows to actual columns (augmenting paths; n is tiny)."""
    owner: dict[int, int] = {}

    def place(row: int, seen: set[int]) -> bool:
        for col, ok in enumerate(fits[row]):
            if ok and col not in seen:
                seen.add(col)
                if col not in owner or place(owner[col], seen):
                    owner[col] = row
                    return True
        return False

    for row in range(len(fits)):
        place(row, set())
    by_row: dict[int, int] = {row: col for col, row in owner.items()}
    return [by_row.get(row) for row in range(len(fits))]
