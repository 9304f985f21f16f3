"""BFCL conformance: every function doc loads, every question renders, every ground truth validates.

For each entry of every ``BFCL_v4_*.json`` file: build a ToolSet with ``ToolSet.from_bfcl``, render
the prompt for every user message, and, where a possible_answer file gives ground truth, render the
first acceptable value of each parameter as an Airoboros JSON reply and as a YAML reply, parse both
and compare, then check that four mutations (a dropped required parameter, a wrong type, an unknown
function, an extra parameter) are rejected with the right error.

``EXCLUSIONS`` lists the entries whose ground truth contradicts the entry's own schema; the test
fails if one of them starts passing, or if any other entry fails.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from funcroute import ToolSet
from funcroute.errors import (
    CallValidationError,
    FuncRouteError,
    PartialCallsError,
    UnknownFunctionError,
    UsageError,
)

# Entries whose ground truth contradicts the entry's own function docs. Each must keep failing: the
# category test fails when an excluded entry passes, so the list cannot go stale.
_OMITTABLE = "ground truth lets required parameter {!r} be omitted ('' among its acceptable values)"
EXCLUSIONS: dict[str, str] = {
    # A required parameter whose acceptable values include "" (so the rendered call leaves it out).
    "live_multiple_68-29-0": _OMITTABLE.format("port"),
    "live_multiple_69-30-0": _OMITTABLE.format("port"),
    "live_multiple_77-35-1": _OMITTABLE.format("port"),
    "live_multiple_114-44-1": _OMITTABLE.format("port"),
    "live_multiple_144-56-0": _OMITTABLE.format("perPage"),
    "live_multiple_507-149-4": _OMITTABLE.format("origin_airport") + "; '' is its only value",
    "live_multiple_834-178-9": _OMITTABLE.format("track"),
    "live_multiple_905-186-2": _OMITTABLE.format("number_of_adults"),
    "live_multiple_906-186-3": _OMITTABLE.format("number_of_adults"),
    "parallel_88": _OMITTABLE.format("initial_velocity") + " in the first call",
    "parallel_multiple_87": _OMITTABLE.format("initial_velocity") + " in kinematics.distance",
    "parallel_multiple_119": _OMITTABLE.format("league_name"),
    "simple_python_17": _OMITTABLE.format("formatted"),
    "simple_python_200": _OMITTABLE.format("fuel_efficiency"),
    # A required parameter with no acceptable value at all (an empty list; probably meant [[]]).
    "live_simple_106-63-0": "ground truth gives no acceptable value ([]) for required "
    "auto_loan_payment_start and bank_hours_start",
    "live_simple_112-68-0": "ground truth gives no acceptable value ([]) for five required parameters "
    "(acc_routing_start, atm_finder_start, ...)",
    # A value outside the parameter's own enum.
    "live_multiple_87-38-4": "ground truth type='openai' is not in its enum (all, postgres, openapi, ...)",
    "live_multiple_750-169-5": "ground truth genre='Any' is not in the genre enum",
    "live_multiple_756-169-11": "ground truth genre='horror' is not in the enum (which has 'Horror')",
    "live_multiple_835-178-10": "ground truth genre='Reggaeton' is not in the genre enum",
    "live_multiple_871-182-8": "ground truth genre='Play' is not in the genre enum",
    "live_multiple_947-197-0": "ground truth duration='5 minutes' is not in the duration enum",
    "live_parallel_multiple_2-2-0": "ground truth command '침실, 공기청정기, 중지' is not in its enum",
    # A value of a type the parameter does not declare.
    "live_multiple_552-153-1": "ground truth is_unisex=true, but the parameter is a string enum "
    "['True', 'False', 'dontcare']",
    "live_multiple_595-158-1": "ground truth number_of_rooms=2 (an integer), but the parameter is a string "
    "enum ['1', '2', '3', 'dontcare']",
    "live_multiple_596-158-2": "ground truth number_of_rooms=1 (an integer), but the parameter is a string "
    "enum ['1', '2', '3', 'dontcare']",
    "live_multiple_731-167-2": "ground truth in_unit_laundry=true, but the parameter is a string enum "
    "['True', 'False', 'dontcare']",
    "live_multiple_733-167-4": "ground truth in_unit_laundry=true, but the parameter is a string enum "
    "['True', 'False', 'dontcare']",
    "live_multiple_735-167-6": "ground truth in_unit_laundry=true, but the parameter is a string enum "
    "['True', 'False', 'dontcare']",
    "parallel_multiple_21": "ground truth x/y are strings (\"data['sales']\"), but the parameters are arrays",
    "parallel_multiple_94": "ground truth sorts fruit names, but sort_list's elements are integers",
    # Parameters the function does not have.
    "live_multiple_862-181-3": "ground truth passes journey_start_time, which Trains_1_FindTrains lacks",
    "live_multiple_964-207-0": "ground truth passes 'question', but transfer_to_human_agent takes (and "
    "requires) 'statement'",
}


def _corpus_dir() -> Path | None:
    candidates = [Path(__file__).resolve().parents[2] / "shared" / "corpora" / "bfcl"]
    if os.environ.get("FUNCROUTE_BFCL_DIR"):
        candidates.append(Path(os.environ["FUNCROUTE_BFCL_DIR"]))
    for candidate in candidates:
        if candidate.is_dir() and any(candidate.glob("BFCL_v4_*.json")):
            return candidate
    return None


CORPUS = _corpus_dir()
CATEGORIES = (
    sorted(p.name.removeprefix("BFCL_v4_").removesuffix(".json") for p in CORPUS.glob("BFCL_v4_*.json"))
    if CORPUS is not None
    else []
)
SKIP_REASON = (
    "BFCL corpus not found: expected ../shared/corpora/bfcl next to the repository or a directory "
    "named by FUNCROUTE_BFCL_DIR holding BFCL_v4_*.json files"
)
SUMMARY: dict[str, tuple[int, int, int]] = {}
CHECKS: Counter[str] = Counter()  # how often each kind of check ran, for the summary
EXTRA = "funcroute_extra_param"
MISSING = object()


def _lines(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


# ------------------------------------------------------------------------------ ground truth


def _render_map(acceptable: dict[str, Any]) -> dict[str, Any]:
    """``{param: [acceptable...]}`` → ``{param: first value}``, leaving out omittable parameters."""
    out: dict[str, Any] = {}
    for key, values in acceptable.items():
        if not isinstance(values, list):
            out[key] = _render_value(values)
        elif values and "" not in values:
            out[key] = _render_value(values[0])
        # "" means "may be omitted"; an empty list gives no value at all (see EXCLUSIONS).
    return out


def _render_value(value: Any) -> Any:
    if isinstance(value, dict):
        return _render_map(value)  # dicts in ground truth map keys to acceptable values again
    if isinstance(value, list):
        return [_render_value(item) for item in value]
    return value


def _types(schema: Any) -> list[str]:
    kinds = schema.get("type") if isinstance(schema, dict) else None
    return [kinds] if isinstance(kinds, str) else list(kinds or [])


def _same(a: Any, b: Any, schema: Any) -> bool:
    """Equality that keeps bool apart from numbers and lets int == float only where the schema says number."""
    schema = schema if isinstance(schema, dict) else {}
    if isinstance(a, dict) and isinstance(b, dict):
        props = schema.get("properties") or {}
        return a.keys() == b.keys() and all(_same(a[k], b[k], props.get(k)) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y, schema.get("items")) for x, y in zip(a, b, strict=True))
    numeric = (int, float)
    if (
        "number" in _types(schema)
        and isinstance(a, numeric)
        and isinstance(b, numeric)
        and not isinstance(a, bool)
        and not isinstance(b, bool)
    ):
        return a == b
    return type(a) is type(b) and a == b


def _admits(kinds: list[str], value: Any) -> bool:
    if isinstance(value, bool):
        return "boolean" in kinds
    if isinstance(value, int):
        return "integer" in kinds or "number" in kinds
    if isinstance(value, float):
        return "number" in kinds
    if isinstance(value, str):
        return "string" in kinds
    return ("array" if isinstance(value, list) else "object") in kinds


def _wrong_value(schema: Any) -> Any:
    """A value of a JSON type ``schema`` does not admit (a list for strings, "abc" for numbers...)."""
    kinds = _types(schema)
    if not kinds:
        return MISSING
    first: list[Any] = [["a", "list"], {"an": "object"}] if "string" in kinds else ["abc"]
    for value in [*first, ["a", "list"], {"an": "object"}, 12345.5, True]:
        if not _admits(kinds, value):
            return value
    return MISSING


# ---------------------------------------------------------------------------------- checking


def _reply(calls: list[tuple[str, dict[str, Any]]], many: bool, fmt: str) -> str:
    docs: Any = [{"function": f, "params": a} for f, a in calls]
    if not many:
        docs = docs[0]
    if fmt == "json":
        return "```json\n" + json.dumps(docs, indent=2, ensure_ascii=False) + "\n```"
    return "```yaml\n" + yaml.safe_dump(docs, sort_keys=False, allow_unicode=True) + "```"


def _expect(
    problems: list[str], what: str, action: Callable[[], Any], error: type[Exception], path: str | None
) -> None:
    CHECKS[what.split(":")[0] if ":" in what else what] += 1
    try:
        try:
            action()
        except PartialCallsError as partial:
            # Parallel replies report each failed call with its index: the mutated call comes first.
            index, inner = partial.errors[0]
            if index != 0 or len(partial.errors) != 1:
                problems.append(f"{what}: failures reported at {[i for i, _ in partial.errors]}, not [0]")
                return
            raise inner from None
    except error as exc:
        if path is not None and isinstance(exc, CallValidationError):
            paths = [p.path for p in exc.problems]
            if not any(p == path or p.startswith(path + ".") for p in paths):
                problems.append(f"{what}: problems name {paths}, not {path!r}")
        return
    except FuncRouteError as exc:
        problems.append(f"{what}: expected {error.__name__}, got {type(exc).__name__}: {exc}")
        return
    problems.append(f"{what}: expected {error.__name__}, nothing was raised")


def _check_entry(entry: dict[str, Any], answer: dict[str, Any] | None, many: bool) -> list[str]:
    try:
        tools = ToolSet.from_bfcl(entry["function"])
    except FuncRouteError as exc:
        return [f"from_bfcl: {exc}"]
    problems: list[str] = []
    if not entry["function"]:  # a few irrelevance entries offer no tool: there is no prompt to render
        _expect(problems, "empty prompt", lambda: tools.prompt("hi"), UsageError, None)
        return problems
    for turn in entry["question"]:
        for message in turn:
            if message["role"] == "user":
                prompt = tools.prompt(message["content"])
                CHECKS["prompt"] += 1
                if f"Input: {message['content']}" not in prompt:
                    problems.append("prompt: the user input is missing")
                problems.extend(
                    f"prompt: no block for {n!r}" for n in tools.names if f"\n{n}:\n" not in prompt
                )
    if answer is None:
        return problems
    calls = [(name, _render_map(params)) for call in answer["ground_truth"] for name, params in call.items()]
    parse: Callable[[str], list[Any]] = tools.parse_many if many else (lambda r: [tools.parse(r)])
    for fmt in ("json", "yaml"):
        CHECKS[f"{fmt} reply"] += 1
        try:
            parsed = parse(_reply(calls, many, fmt))
        except FuncRouteError as exc:
            problems.append(f"{fmt} reply: {type(exc).__name__}: {exc}")
            continue
        got = [(c.function, c.arguments) for c in parsed]
        if len(got) != len(calls) or not all(
            f == g and _same(a, b, tools[f].schema) for (f, a), (g, b) in zip(calls, got, strict=True)
        ):
            problems.append(f"{fmt} reply: parsed {got!r:.300}, expected {calls!r:.300}")
    if problems:
        return problems
    name, arguments = calls[0]
    schema = tools[name].schema

    def mutated(new_name: str, new_arguments: dict[str, Any]) -> Callable[[], Any]:
        return lambda: parse(_reply([(new_name, new_arguments), *calls[1:]], many, "json"))

    dropped = next((r for r in schema.get("required") or () if r in arguments), None)
    if dropped is not None:
        rest = {k: v for k, v in arguments.items() if k != dropped}
        _expect(problems, f"drop required: {dropped!r}", mutated(name, rest), CallValidationError, dropped)
    properties = schema.get("properties") or {}
    for key in arguments:
        wrong = _wrong_value(properties.get(key))
        if wrong is not MISSING:
            bad = {**arguments, key: wrong}
            _expect(
                problems, f"wrong type: {key!r} = {wrong!r}", mutated(name, bad), CallValidationError, key
            )
            break
    unknown = mutated("funcroute_no_such_function", arguments)
    _expect(problems, "unknown function", unknown, UnknownFunctionError, None)
    extra = mutated(name, {**arguments, EXTRA: 1})
    _expect(problems, "extra parameter", extra, CallValidationError, EXTRA)
    return problems


# ------------------------------------------------------------------------------------- tests


@pytest.mark.skipif(CORPUS is None, reason=SKIP_REASON)
@pytest.mark.parametrize("category", CATEGORIES or ["(none)"])
def test_category(category: str) -> None:
    assert CORPUS is not None
    entries = _lines(CORPUS / f"BFCL_v4_{category}.json")
    answer_file = CORPUS / "possible_answer" / f"BFCL_v4_{category}.json"
    answers = {a["id"]: a for a in _lines(answer_file)} if answer_file.exists() else {}
    many = "parallel" in category
    failures: dict[str, list[str]] = {}
    for entry in entries:
        found = _check_entry(entry, answers.get(entry["id"]), many)
        if found:
            failures[entry["id"]] = found
    ids = {e["id"] for e in entries}
    SUMMARY[category] = (len(entries) - len(failures), len(entries), len(ids & EXCLUSIONS.keys()))
    unexpected = {i: p for i, p in failures.items() if i not in EXCLUSIONS}
    healed = sorted(i for i in ids & EXCLUSIONS.keys() if i not in failures)
    report = [f"{i}: {'; '.join(p)[:600]}" for i, p in sorted(unexpected.items())]
    report += [f"{i}: excluded ({EXCLUSIONS[i]}) but passes now: remove it from EXCLUSIONS" for i in healed]
    assert not report, f"{len(report)} entries of {category}:\n" + "\n".join(report[:40])


@pytest.mark.skipif(CORPUS is None, reason=SKIP_REASON)
def test_exclusions_name_real_entries() -> None:
    assert CORPUS is not None
    ids = {e["id"] for path in CORPUS.glob("BFCL_v4_*.json") for e in _lines(path)}
    assert sorted(EXCLUSIONS.keys() - ids) == []
    assert all(reason.strip() for reason in EXCLUSIONS.values())


def test_summary(capsys: pytest.CaptureFixture[str]) -> None:
    """Print the per-category counts gathered by the tests above (runs last in this module)."""
    if not SUMMARY:
        pytest.skip("no BFCL category ran")
    width = max(map(len, SUMMARY))
    lines = [f"{'category':<{width}}  passed / entries  (excluded)"]
    for category, (passed, total, excluded) in sorted(SUMMARY.items()):
        lines.append(f"{category:<{width}}  {passed:>6} / {total:<7}  ({excluded})")
    passed = sum(p for p, _, _ in SUMMARY.values())
    total = sum(t for _, t, _ in SUMMARY.values())
    lines.append(f"{'all':<{width}}  {passed:>6} / {total:<7}  ({len(EXCLUSIONS)})")
    lines.append("checks run: " + ", ".join(f"{k} {v}" for k, v in sorted(CHECKS.items())))
    with capsys.disabled():
        print("\n\nBFCL conformance\n" + "\n".join(lines))
