"""Evaluate a router on ``{input, expected}`` cases with BFCL's AST rules, and summarise the scores.

Scoring, from BFCL's published rules: the function must be the expected one; every required parameter
of the offered tool must be present; every parameter given must be one the expected call has, with a
value among the acceptable ones (strings compare case-insensitively, ignoring spaces and ``,./-_*^``,
``'`` as ``"``; an int is accepted for a float, a float for an int only where the parameter is a
number; booleans are not numbers; lists compare item by item, mappings key by key); a parameter the
expected call sets may be left out only when ``""`` is acceptable. Parallel cases match calls one to
one in any order. Irrelevance cases expect no call; relevance cases accept any valid call.

"No call" is a reply without a call (after the router's retries), a backend that declines (the semantic
backend's ``NoSuitableFunctionError``), or a call to the ``none`` tool :func:`with_no_call_tool` adds
(``no_call_tool=True``): a valid way for a model to decline, where a repair turn would push it to call.
Parallel cases read all calls of the final reply (a JSON array or YAML list) with
:meth:`ToolSet.parse_many`; other cases score the router's call.
"""

from __future__ import annotations

import functools
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from funcroute import errors as err
from funcroute.routing.router import RouteResult
from funcroute.testing.assertions import _match
from funcroute.tools.declining import NO_CALL_TOOL, no_call_tool
from funcroute.tools.toolset import ToolSet

__all__ = [
    "KINDS", "NO_CALL_TOOL", "Case", "CaseResult", "ExpectedCall", "Report", "evaluate", "score",
    "with_no_call_tool",
]  # fmt: skip

#: Outcome kinds: ``ok`` and the ways a case can fail.
KINDS = (
    "ok", "wrong_function", "missing_param", "unexpected_param", "bad_value", "wrong_count",
    "parse_error", "unexpected_call", "no_call", "error",
)  # fmt: skip
_STRIP = re.compile(r"[ ,./\-_*^]")


@dataclass(frozen=True)
class ExpectedCall:
    """One expected call: acceptable values per parameter (``""`` among them: may be omitted)."""

    function: str
    params: Mapping[str, list[Any]]

    @classmethod
    def exact(cls, function: str, arguments: Mapping[str, Any]) -> ExpectedCall:
        """An expected call whose arguments must be exactly these values (with BFCL's leniency)."""
        return cls(function, {k: [_exact(v)] for k, v in arguments.items()})


def _exact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: [_exact(v)] for k, v in value.items()}
    return [_exact(v) for v in value] if isinstance(value, list) else value


@dataclass(frozen=True)
class Case:
    """One evaluation case.

    Attributes:
        id: unique name (replies files are keyed by it).
        input: the user's command.
        expected: the expected calls; empty means no call is expected (unless ``any_call``).
        any_call: any valid call is correct (BFCL's relevance categories).
        tools: the case's own tools (BFCL entries have them); ``None`` uses the run's tools.
        category: the summary row the case counts in.
        parallel: read every call of the reply; default: when more than one call is expected.
    """

    id: str
    input: str
    expected: tuple[ExpectedCall, ...] = ()
    any_call: bool = False
    tools: ToolSet | None = field(default=None, compare=False, repr=False)
    category: str = "cases"
    parallel: bool | None = None

    @property
    def is_parallel(self) -> bool:
        """Whether all calls of a reply are read and matched in any order."""
        return len(self.expected) > 1 if self.parallel is None else self.parallel


@dataclass
class CaseResult:
    """The score of one case: ``kind`` is ``ok`` or what went wrong (see :data:`KINDS`)."""

    case: Case = field(repr=False)
    kind: str
    detail: str = ""
    calls: list[dict[str, Any]] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)
    retries: int = 0

    @property
    def ok(self) -> bool:
        """Whether the case scored as correct."""
        return self.kind == "ok"

    def to_dict(self) -> dict[str, Any]:
        """The JSON record written for this case."""
        case = self.case
        expected: Any = "any" if case.any_call else [{e.function: dict(e.params)} for e in case.expected]
        return {"id": case.id, "category": case.category, "input": case.input, "ok": self.ok,
                "kind": self.kind, "detail": self.detail, "expected": expected, "calls": self.calls,
                "replies": self.replies, "retries": self.retries}  # fmt: skip


@dataclass
class Report:
    """Every case's result, in case order, with a summary table."""

    results: list[CaseResult]

    @property
    def accuracy(self) -> float:
        """Share of correct cases (0 when there are none)."""
        return sum(r.ok for r in self.results) / len(self.results) if self.results else 0.0

    def counts(self) -> dict[str, Counter[str]]:
        """Per category (and ``all``): cases, correct, retried and each kind."""
        table: dict[str, Counter[str]] = {}
        for r in self.results:
            for row in (r.case.category, "all"):
                count = table.setdefault(row, Counter())
                count.update({"cases": 1, "correct": int(r.ok), "retried": int(r.retries > 0), r.kind: 1})
        return table

    def summary(self) -> str:
        """A text table: a row per category and ``all``; a column per error kind that occurred."""
        table = self.counts()
        kinds = [k for k in KINDS[1:] if table.get("all", Counter())[k]]
        rows = [["category", "cases", "correct", "accuracy", "retried", *kinds]]
        for name, c in sorted(table.items(), key=lambda item: (item[0] == "all", item[0])):
            share = f"{100 * c['correct'] / c['cases']:.1f}%"
            cells = [c["cases"], c["correct"], share, c["retried"], *(c[k] for k in kinds)]
            rows.append([name, *map(str, cells)])
        widths = [max(map(len, column)) for column in zip(*rows, strict=True)]
        line = "  ".join([f"{{:<{widths[0]}}}", *(f"{{:>{w}}}" for w in widths[1:])])  # text, then numbers
        return "\n".join(line.format(*r) for r in rows)

    def write_jsonl(self, path: str | Path) -> None:
        """Write one JSON record per case."""
        lines = [json.dumps(r.to_dict(), ensure_ascii=False, default=str) + "\n" for r in self.results]
        Path(path).write_text("".join(lines), encoding="utf-8")


# ----------------------------------------------------------------------------------- scoring


def _norm(text: str) -> str:
    return _STRIP.sub("", text).lower().replace("'", '"')


def _options(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _value_ok(given: Any, want: Any, schema: Any) -> bool:
    """Whether ``given`` equals one acceptable value ``want`` by BFCL's comparison."""
    schema = schema if isinstance(schema, dict) else {}
    if isinstance(want, dict):
        if not isinstance(given, dict) or not set(given) <= set(want):
            return False
        props = schema.get("properties") or {}
        return all(
            any(_value_ok(given[k], o, props.get(k)) for o in _options(v))
            if k in given
            else "" in _options(v)
            for k, v in want.items()
        )
    if isinstance(want, list):
        return (
            isinstance(given, (list, tuple))
            and len(given) == len(want)
            and all(_value_ok(g, w, schema.get("items")) for g, w in zip(given, want, strict=True))
        )
    if isinstance(want, bool) or isinstance(given, bool):
        return isinstance(given, bool) and given is want
    if isinstance(want, (int, float)) and isinstance(given, (int, float)):
        kinds = _options(schema.get("type"))  # an int is a fine float; a float is an int only for numbers
        integer_only = "integer" in kinds and "number" not in kinds
        return given == want and not (isinstance(given, float) and integer_only)
    if isinstance(want, str) and isinstance(given, str):
        return _norm(given) == _norm(want)
    return bool(given == want) and type(given) is type(want)


def _check(call: tuple[str, dict[str, Any]], want: ExpectedCall, tools: ToolSet) -> tuple[str, str] | None:
    """Why one call fails one expected call (None when it matches)."""
    name, args = call
    if name != want.function:
        return "wrong_function", f"called {name!r}, expected {want.function!r}"
    schema = tools[name].schema if name in tools else {}
    for param in schema.get("required") or ():
        if param not in args:
            return "missing_param", f"{name}: required parameter {param!r} is missing"
    for param in args:
        if param not in want.params:
            return "unexpected_param", f"{name}: parameter {param!r} is not expected"
    props = schema.get("properties") or {}
    for param, value in args.items():
        options = _options(want.params[param])
        if not any(_value_ok(value, o, props.get(param)) for o in options):
            return "bad_value", f"{name}.{param}: {value!r:.120} is not among {options!r:.200}"
    for param, options in want.params.items():
        if param not in args and "" not in _options(options):
            return "missing_param", f"{name}: parameter {param!r} is expected (none of its values omits it)"
    return None


def _compare(case: Case, calls: list[tuple[str, dict[str, Any]]], tools: ToolSet) -> tuple[str, str]:
    names = ", ".join(name for name, _ in calls)
    if case.any_call:
        return ("ok", "") if calls else ("no_call", "expected a call; the model made none")
    if not case.expected:
        return ("unexpected_call", f"expected no call; the model called {names}") if calls else ("ok", "")
    if not calls:
        return "no_call", "the model declined to call a function"
    if len(calls) != len(case.expected):
        return "wrong_count", f"expected {len(case.expected)} calls, got {len(calls)} ({names})"
    fits = [[_check(c, w, tools) for c in calls] for w in case.expected]
    pairing = _match([[f is None for f in row] for row in fits])
    if None not in pairing:
        return "ok", ""
    # Explain the first unmatched expected call by a call no other expected call took, preferring one
    # of the same function: a maximum matching leaves no compatible pair among these.
    i, free = pairing.index(None), [j for j in range(len(calls)) if j not in pairing]
    found = fits[i][next((j for j in free if calls[j][0] == case.expected[i].function), free[0])]
    assert found is not None  # a compatible free pair would have extended the matching
    return found


def _from_error(case: Case, exc: err.ModelOutputError) -> tuple[str, str]:
    """Score a reply the router could not turn into a valid call."""
    if isinstance(exc, err.PartialCallsError) and exc.errors:
        exc = exc.errors[0][1]  # some calls of a parallel reply failed: score by the first failure
    detail = f"{type(exc).__name__}: {exc}"
    declines = not case.expected and not case.any_call
    if not isinstance(exc, (err.UnknownFunctionError, err.CallValidationError)):
        # No call was made: none in the reply, or the backend declined (NoSuitableFunctionError).
        parse_error = isinstance(exc, err.OutputParseError)
        return ("ok", "") if declines else ("parse_error" if parse_error else "no_call", detail)
    if declines:
        return "unexpected_call", detail
    if not isinstance(exc, err.CallValidationError) or all(e.function != exc.function for e in case.expected):
        return "wrong_function", detail  # unknown, or another function (with invalid arguments)
    kinds = {p.kind for p in exc.problems}
    extra = "unexpected_param" if "extra_forbidden" in kinds else "bad_value"
    return ("missing_param" if "missing" in kinds else extra), detail


def score(case: Case, result: RouteResult, tools: ToolSet) -> CaseResult:
    """Score one routed case (``tools``: what the router offered, with the ``none`` tool if any)."""
    replies = result.replies
    retries = max(len(result.attempts) - 1, 0)
    got: list[tuple[str, dict[str, Any]]] = []
    if result.call is not None:
        try:
            calls = tools.parse_many(replies[-1]) if case.is_parallel and replies else [result.call]
        except err.ModelOutputError as exc:
            return CaseResult(case, *_from_error(case, exc), [], replies, retries)
        declined = NO_CALL_TOOL in tools and tools[NO_CALL_TOOL] is no_call_tool()
        got = [(c.function, c.arguments) for c in calls if not (declined and c.function == NO_CALL_TOOL)]
        kind, detail = _compare(case, got, tools)
    elif isinstance(result.error, err.ModelOutputError):
        kind, detail = _from_error(case, result.error)
    elif result.error is not None:
        kind, detail = "error", f"{type(result.error).__name__}: {result.error}"
    else:  # nothing was asked (no tools offered): no call was made
        kind, detail = _compare(case, [], tools)
    return CaseResult(case, kind, detail, [{"function": f, "params": a} for f, a in got], replies, retries)


def with_no_call_tool(tools: ToolSet) -> ToolSet:
    """A copy of ``tools`` that also offers the built-in ``none`` tool, for declining to call."""
    return ToolSet([*tools, no_call_tool()], extra=tools.extra, limits=tools.limits)


def evaluate(
    cases: Iterable[Case],
    backend: Any = None,
    *,
    tools: ToolSet | None = None,
    replies: Mapping[str, str] | None = None,
    no_call_tool: bool = False,
    progress: bool | None = None,
    on_result: Callable[[CaseResult], None] | None = None,
    **router_options: Any,
) -> Report:
    """Route every case (never running handlers) and score it.

    Args:
        cases: the cases.
        backend: the model (``None``: the router's default, unless ``replies`` are given).
        tools: tools for cases that carry none.
        replies: precomputed replies by case id, scored without a model (no retries).
        no_call_tool: offer the ``none`` tool so a model can decline.
        progress: show a progress bar (default: when stderr is a terminal).
        on_result: called with each result as it is scored (for streaming to disk).
        **router_options: passed to :class:`~funcroute.routing.router.Router` (format, max_retries...).
    """
    from tqdm import tqdm

    from funcroute.routing.router import Router

    if replies is not None and backend is not None:
        raise err.UsageError("give a backend or precomputed replies, not both")
    cases = list(cases)
    groups = _by_toolset(cases, tools)
    results: list[CaseResult | None] = [None] * len(cases)
    bar = tqdm(total=len(cases), disable=None if progress is None else not progress, unit="case")

    def done(index: int, result: CaseResult) -> None:
        results[index] = result
        bar.update(1)
        if on_result is not None:
            on_result(result)

    def scored(indexes: list[int], offered: ToolSet, j: int, routed: RouteResult) -> None:
        done(indexes[j], score(cases[indexes[j]], routed, offered))

    try:
        for toolset, indexes in groups:
            offered = with_no_call_tool(toolset) if no_call_tool else toolset
            if not len(offered) or replies is not None:  # one by one: a recorded reply each, or no tools
                for i in indexes:
                    done(i, _one(cases[i], offered, replies, router_options))
                continue
            router = Router(offered, backend, **router_options)
            backend = router.backend  # build the default backend once, not once per tool set
            router.route_many(
                [cases[i].input for i in indexes],
                dry_run=True,
                progress=False,
                on_result=functools.partial(scored, indexes, offered),
            )
    finally:
        bar.close()
    return Report([r for r in results if r is not None])


def _by_toolset(cases: list[Case], tools: ToolSet | None) -> list[tuple[ToolSet, list[int]]]:
    """The cases' indexes grouped by the ToolSet they are routed over (each group is one batch)."""
    groups: dict[int, tuple[ToolSet, list[int]]] = {}
    for index, case in enumerate(cases):
        toolset = case.tools if case.tools is not None else tools
        if toolset is None:
            raise err.UsageError(f"case {case.id!r} has no tools of its own: pass tools=")
        groups.setdefault(id(toolset), (toolset, []))[1].append(index)
    return list(groups.values())


def _one(case: Case, tools: ToolSet, replies: Mapping[str, str] | None, opts: dict[str, Any]) -> CaseResult:
    from funcroute.backends.scripted import ScriptedBackend
    from funcroute.routing.router import Router

    if not len(tools):  # e.g. BFCL entries offering no function: there is nothing to ask
        return score(case, RouteResult(case.input), tools)
    if replies is None or case.id not in replies:
        return CaseResult(case, "error", f"no reply for case {case.id!r}")
    # A recorded reply cannot be repaired: no retries.
    router = Router(tools, ScriptedBackend([replies[case.id]]), **{**opts, "max_retries": 0})
    return score(case, router.route_many([case.input], dry_run=True, progress=False)[0], tools)
