"""Evaluation cases from files: case files, reply files and BFCL categories.

A case file is JSONL (``schemas/cases.schema.json``); every problem names its file and line. BFCL
categories are read from the Berkeley Function Calling Leaderboard data folder (``--bfcl-dir``,
``$FUNCROUTE_BFCL_DIR``, or ``shared/corpora/bfcl`` beside or above the working directory).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from funcroute.errors import UsageError
from funcroute.evaluation.scoring import NO_CALL_TOOL, Case, ExpectedCall
from funcroute.tools.toolset import ToolSet

__all__ = [
    "bfcl_categories",
    "bfcl_dir",
    "ground_truth_reply",
    "load_bfcl",
    "load_cases",
    "read_bfcl",
    "read_cases",
    "read_replies",
]

_IRRELEVANT = ("irrelevance", "live_irrelevance")
_ANY_CALL = ("live_relevance",)


# ------------------------------------------------------------------------------------- files


def _jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    for number, line in enumerate(lines, 1):
        if line.strip():
            try:
                yield number, json.loads(line)
            except ValueError as exc:
                raise UsageError(f"{path}:{number}: not valid JSON: {exc}") from None


def _options(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@cache
def _case_validator() -> jsonschema.Draft202012Validator:
    schema = json.loads((resources.files("funcroute") / "schemas" / "cases.schema.json").read_text("utf-8"))
    return jsonschema.Draft202012Validator(schema)


def _case_problem(row: Any) -> str | None:
    """Why a case line breaks ``schemas/cases.schema.json`` (the most telling reason), or ``None``."""
    errors = list(_case_validator().iter_errors(row))
    if not errors:
        return None
    if not isinstance(row, dict):
        return "expected a JSON object per line"
    text = row.get("input", row.get("command"))
    if not isinstance(text, str) or not text.strip():
        return 'expected an object with a non-empty "input"'
    if isinstance(row, dict):
        allowed: Mapping[str, Any] = _case_validator().schema["properties"]  # type: ignore[index]
        unknown = sorted(set(row) - set(allowed))
        if unknown:
            listed = ", ".join(map(repr, unknown))
            return f"unknown key(s) {listed}; a case has id, input, expected, category, parallel"
        if "expected" not in row:
            return '"expected" is missing: give the expected call, [] or null for "no call", or "any"'
        expected = row["expected"]
        for item in expected if isinstance(expected, list) else [expected]:
            extra = (
                sorted(set(item) - {"function", "params", "alternatives", "optional"})
                if isinstance(item, dict)
                else []
            )
            if isinstance(item, dict) and "function" in item and extra:
                return (
                    f"unknown key(s) {', '.join(map(repr, extra))} in an expected call; it has function, "
                    "params, alternatives, optional"
                )
    error = jsonschema.exceptions.best_match(errors)
    where = "".join(f"[{p!r}]" for p in error.absolute_path) if error is not None else ""
    message = error.message if error is not None else "invalid case"
    return f"{where or 'the case'}: {message[:200]}" + (
        '; "expected" is a call {"function": ..., "params": {...}}, BFCL\'s {"name": {"param": [acceptable '
        'values]}}, a list of calls, [] or null (no call), or "any"'
        if error is not None and error.absolute_path and error.absolute_path[0] == "expected"
        else ""
    )


def _expected(value: Any, where: str, tools: ToolSet | None) -> tuple[tuple[ExpectedCall, ...], bool]:
    """``expected`` of a (schema-valid) case line: a call, a list of calls, ``[]``/``null`` or ``"any"``."""
    if value is None or value == []:
        return (), False
    if value == "any":
        return (), True
    calls: list[ExpectedCall] = []
    for item in value if isinstance(value, list) else [value]:
        if "function" in item:
            calls.append(_explicit_call(item, where))
        else:
            name, params = next(iter(item.items()))  # BFCL's {name: {param: [acceptable...]}}
            calls.append(ExpectedCall(name, {k: _options(v) for k, v in params.items()}))
    for call in calls:
        _check_known(call, where, tools)
    return tuple(calls), False


def _explicit_call(item: Mapping[str, Any], where: str) -> ExpectedCall:
    """``{"function", "params"?, "alternatives"?, "optional"?}``: exact values, explicit alternatives."""
    params: dict[str, Any] = dict(item.get("params") or {})
    alternatives: dict[str, list[Any]] = dict(item.get("alternatives") or {})
    both = sorted(set(params) & set(alternatives))
    if both:
        raise UsageError(f'{where}: {", ".join(both)} in both "params" and "alternatives": give it once')
    optional = list(item.get("optional") or [])
    stray = sorted(set(optional) - set(params) - set(alternatives))
    if stray:
        raise UsageError(f'{where}: "optional" names {", ".join(stray)}, which has no expected value')
    expected = dict(ExpectedCall.exact(item["function"], params).params)
    expected |= {
        k: [ExpectedCall.exact("", {"v": v}).params["v"][0] for v in vs] for k, vs in alternatives.items()
    }
    for name in optional:
        expected[name] = [*expected[name], ""]  # BFCL's mark for "may be left out"
    return ExpectedCall(item["function"], expected)


def _check_known(call: ExpectedCall, where: str, tools: ToolSet | None) -> None:
    """An expected call must name a function, and parameters, that the tools have."""
    if tools is None or call.function == NO_CALL_TOOL:
        return
    if call.function not in tools:
        raise UsageError(
            f"{where}: expects a call of {call.function!r}, which the tools do not have "
            f"(they have: {', '.join(tools.names[:20])})"
        )
    unknown = sorted(set(call.params) - tools[call.function].parameters)
    if unknown:
        raise UsageError(f"{where}: {call.function!r} has no parameter(s) {', '.join(map(repr, unknown))}")


def read_cases(path: Path, tools: ToolSet | None = None, category: str = "cases") -> list[Case]:
    """Cases from JSONL, one per line, as ``schemas/cases.schema.json`` describes.

    ``{"id"?, "input", "expected", "category"?, "parallel"?}``: ``expected`` is required (``[]`` or
    ``null`` for "no call", ``"any"`` for any call); unknown keys, and expected functions or
    parameters the tools lack, are errors.

    Raises:
        UsageError: naming the file and line of the first malformed case.
    """
    cases = []
    seen: set[str] = set()
    for number, row in _jsonl(path):
        where = f"{path}:{number}"
        problem = _case_problem(row)
        if problem is not None:
            raise UsageError(f"{where}: {problem}")
        text = row.get("input", row.get("command"))
        case_id = str(row.get("id", number))
        if case_id in seen:
            raise UsageError(f"{where}: case id {case_id!r} is used twice (reply files are keyed by it)")
        seen.add(case_id)
        expected, any_call = _expected(row["expected"], where, tools)
        cases.append(
            Case(
                case_id,
                text,
                expected,
                any_call,
                tools,
                str(row.get("category", category)),
                row.get("parallel"),
            )
        )
    return cases


def read_replies(path: Path) -> dict[str, str]:
    """Replies by case id from JSONL: ``{"id", "reply"}``, or an eval results file (its last reply)."""
    out: dict[str, str] = {}
    for number, row in _jsonl(path):
        reply = row.get("reply") if isinstance(row, dict) else None
        if (
            reply is None
            and isinstance(row, dict)
            and isinstance(row.get("replies"), list)
            and row["replies"]
        ):
            reply = row["replies"][-1]
        if not isinstance(reply, str) or "id" not in row:
            raise UsageError(f'{path}:{number}: expected {{"id": ..., "reply": "..."}}')
        out[str(row["id"])] = reply
    return out


# -------------------------------------------------------------------------------------- BFCL


def bfcl_dir(directory: str | Path | None = None) -> Path:
    """The BFCL data folder: ``directory``, ``$FUNCROUTE_BFCL_DIR``, or ``shared/corpora/bfcl`` nearby."""
    given = directory or os.environ.get("FUNCROUTE_BFCL_DIR")
    # Beside or above the working directory (a checkout with ../shared beside it); never a path
    # relative to this file, which would tie the library to one checkout's layout.
    bases = [Path.cwd(), Path.cwd().parent]
    for found in [Path(given)] if given else [base / "shared" / "corpora" / "bfcl" for base in bases]:
        if any(found.glob("BFCL_v4_*.json")):
            return found
    raise UsageError(f"no BFCL_v4_*.json files in {given or 'shared/corpora/bfcl'}: pass --bfcl-dir")


def bfcl_categories(directory: str | Path | None = None) -> list[str]:
    """Category names (``simple_python``, ``parallel``...) of the BFCL files present."""
    return sorted(p.name[len("BFCL_v4_") : -len(".json")] for p in bfcl_dir(directory).glob("BFCL_v4_*.json"))


def read_bfcl(category: str, directory: str | Path | None = None) -> list[Case]:
    """The cases of one BFCL category; each entry's functions become its ToolSet.

    The input is the entry's last user message: system messages and earlier turns have no place in
    the selection prompt. Irrelevance categories expect no call; ``live_relevance`` accepts any call.
    Entries repeating a function list share one ToolSet, so a model sees them in one batch.
    """
    root = bfcl_dir(directory)
    known = bfcl_categories(root)
    if category not in known:
        raise UsageError(f"unknown BFCL category {category!r}; known: {', '.join(known)}")
    answers = root / "possible_answer" / f"BFCL_v4_{category}.json"
    truth = {row["id"]: row["ground_truth"] for _, row in _jsonl(answers)} if answers.exists() else {}
    if not truth and category not in _IRRELEVANT + _ANY_CALL:
        raise UsageError(f"BFCL category {category!r} has no possible_answer file to score against")
    toolsets: dict[str, ToolSet] = {}
    cases = []
    for _, row in _jsonl(root / f"BFCL_v4_{category}.json"):
        key = json.dumps(row["function"], sort_keys=True)
        if key not in toolsets:
            toolsets[key] = ToolSet.from_bfcl(row["function"])
        messages = [m for turn in row["question"] for m in turn]
        users = [m["content"] for m in messages if m.get("role") == "user"] or [messages[-1]["content"]]
        expected = tuple(ExpectedCall(n, p) for call in truth.get(row["id"], []) for n, p in call.items())
        parallel = "parallel" in category
        cases.append(
            Case(row["id"], users[-1], expected, category in _ANY_CALL, toolsets[key], category, parallel)
        )
    return cases


def _render(value: Any) -> Any:
    if isinstance(value, dict):
        return _first(value)
    return [_render(v) for v in value] if isinstance(value, list) else value


def _first(params: Mapping[str, Any]) -> dict[str, Any]:
    """The first acceptable value of each parameter, leaving out those that may be omitted."""
    return {k: _render(_options(v)[0]) for k, v in params.items() if _options(v) and "" not in _options(v)}


def ground_truth_reply(case: Case, *, no_call_tool: bool = False) -> str:
    """The case's expected calls as an Airoboros JSON reply (first acceptable values; a list if parallel).

    Raises:
        ValueError: the case accepts any call, so there is nothing to render.
    """
    if case.any_call:
        raise ValueError(f"case {case.id!r} accepts any call: it has no ground truth to render")
    if not case.expected:
        return json.dumps({"function": NO_CALL_TOOL, "params": {}}) if no_call_tool else "No function fits."
    calls = [{"function": e.function, "params": _first(e.params)} for e in case.expected]
    return json.dumps(calls if case.is_parallel else calls[0], ensure_ascii=False)


def load_cases(path: str | Path, tools: ToolSet | None = None, category: str = "cases") -> list[Case]:
    """Cases from JSONL: ``{"id"?, "input", "expected", "category"?, "parallel"?}`` per line.

    ``expected``: a call ``{"function", "params"}`` (exact values), BFCL's ``{name: {param: [values]}}``,
    a list of either (parallel), ``[]``/``null`` (no call) or ``"any"`` (any call).
    """
    return read_cases(Path(path), tools, category)


def load_bfcl(category: str, directory: str | Path | None = None) -> list[Case]:
    """The cases of one BFCL category (``simple_python``, ``parallel``...): entries with their functions."""
    return read_bfcl(category, directory)
