"""The evaluation scorer: every AST rule on hand-made cases, then BFCL's own ground truth.

Ground truth rendered as replies must score 100% in every category except the documented corpus
anomalies (entries whose ground truth contradicts their own function docs), and mutated replies must
score as the matching error kind.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from funcroute import ToolSet
from funcroute.backends.base import Request
from funcroute.backends.scripted import FunctionBackend, ScriptedBackend
from funcroute.errors import BackendError, UsageError
from funcroute.evaluation import (
    NO_CALL_TOOL,
    Case,
    CaseResult,
    ExpectedCall,
    Report,
    evaluate,
    load_bfcl,
    load_cases,
    with_no_call_tool,
)
from funcroute.evaluation.cases import bfcl_categories, bfcl_dir, ground_truth_reply, read_bfcl

WEATHER = {
    "name": "get_weather",
    "description": "Get the weather for a city.",
    "parameters": {
        "type": "dict",
        "properties": {
            "city": {"type": "string", "description": "The city."},
            "days": {"type": "integer", "description": "Days of forecast."},
            "metric": {"type": "boolean", "description": "Metric units.", "default": True},
        },
        "required": ["city"],
    },
}
AREA = {
    "name": "geometry.area_circle",
    "description": "Area of a circle.",
    "parameters": {
        "type": "dict",
        "properties": {
            "radius": {"type": "float", "description": "The radius."},
            "units": {"type": "string", "description": "Units.", "enum": ["cm", "m"]},
            "points": {"type": "array", "items": {"type": "integer"}, "description": "Sample points."},
            "meta": {
                "type": "dict",
                "description": "Extra options.",
                "properties": {"label": {"type": "string"}, "color": {"type": "string"}},
            },
            "value": {"type": "any", "description": "Anything."},
        },
        "required": ["radius"],
    },
}
TOOLS = ToolSet.from_bfcl([WEATHER, AREA])


def call(function: str, **params: Any) -> str:
    return json.dumps({"function": function, "params": params})


def judge(
    reply: str, expected: Any, *, any_call: bool = False, parallel: bool | None = None, no_call: bool = False
) -> CaseResult:
    """Score one reply against one expected BFCL-style answer."""
    calls = tuple(ExpectedCall(n, p) for c in expected for n, p in c.items())
    case = Case("c1", "a command", calls, any_call, TOOLS, "hand", parallel)
    [result] = evaluate([case], replies={"c1": reply}, no_call_tool=no_call).results
    return result


# -------------------------------------------------------------------------------- function name


def test_right_call_scores_ok() -> None:
    result = judge(call("get_weather", city="Paris"), [{"get_weather": {"city": ["Paris"], "days": [""]}}])
    assert (result.kind, result.detail, result.retries) == ("ok", "", 0)
    assert result.calls == [{"function": "get_weather", "params": {"city": "Paris"}}]


def test_wrong_or_unknown_function() -> None:
    wrong = judge(call("geometry.area_circle", radius=2.0), [{"get_weather": {"city": ["Paris"]}}])
    assert (wrong.kind, wrong.detail) == (
        "wrong_function",
        "called 'geometry.area_circle', expected 'get_weather'",
    )
    unknown = judge(call("weather", city="Paris"), [{"get_weather": {"city": ["Paris"]}}])
    assert unknown.kind == "wrong_function" and "unknown function 'weather'" in unknown.detail
    invalid_other = judge(call("geometry.area_circle", city="Paris"), [{"get_weather": {"city": ["Paris"]}}])
    assert (
        invalid_other.kind == "wrong_function"
    )  # an invalid call of another function is still the wrong one


# ------------------------------------------------------------------------------------ parameters


def test_missing_parameters() -> None:
    required = judge(call("get_weather", days=3), [{"get_weather": {"city": ["Paris"], "days": [3]}}])
    assert required.kind == "missing_param" and "city: Field required" in required.detail
    # Optional in the schema, but the expected call sets it and "" is not among its values.
    expected_by_answer = judge(
        call("get_weather", city="Paris"), [{"get_weather": {"city": ["Paris"], "days": [3]}}]
    )
    assert expected_by_answer.kind == "missing_param"
    assert (
        expected_by_answer.detail == "get_weather: parameter 'days' is expected (none of its values omits it)"
    )
    omittable = judge(
        call("get_weather", city="Paris"), [{"get_weather": {"city": ["Paris"], "days": [3, ""]}}]
    )
    assert omittable.kind == "ok"


def test_unexpected_parameters() -> None:
    unknown = judge(call("get_weather", city="Paris", when="now"), [{"get_weather": {"city": ["Paris"]}}])
    assert unknown.kind == "unexpected_param" and "when: unexpected parameter" in unknown.detail
    # Valid for the schema, but not part of the expected call.
    valid = judge(call("get_weather", city="Paris", metric=False), [{"get_weather": {"city": ["Paris"]}}])
    assert (valid.kind, valid.detail) == (
        "unexpected_param",
        "get_weather: parameter 'metric' is not expected",
    )


# ----------------------------------------------------------------------------------------- values


@pytest.mark.parametrize(
    ("given", "acceptable", "kind"),
    [
        ("New York", ["new york"], "ok"),  # case-insensitive
        ("New-York, NY", ["new york ny"], "ok"),  # spaces and , . / - _ * ^ are ignored
        ("St. Louis", ["St Louis"], "ok"),
        ("it's", ['it"s'], "ok"),  # ' and " are the same
        ("Paris", ["Paris", "Paris, France"], "ok"),  # any acceptable value
        ("Lyon", ["Paris", "Paris, France"], "bad_value"),
        ("Pariss", ["Paris"], "bad_value"),
    ],
)
def test_string_values(given: str, acceptable: list[str], kind: str) -> None:
    assert judge(call("get_weather", city=given), [{"get_weather": {"city": acceptable}}]).kind == kind


def test_numbers_and_booleans() -> None:
    area = [{"geometry.area_circle": {"radius": [5.0]}}]
    assert judge(call("geometry.area_circle", radius=5), area).kind == "ok"  # int accepted for a float
    assert judge(call("geometry.area_circle", radius=5.5), area).kind == "bad_value"
    int_answer = [{"geometry.area_circle": {"radius": [5]}}]
    assert judge(call("geometry.area_circle", radius=5.0), int_answer).kind == "ok"  # a number parameter
    days = [{"get_weather": {"city": ["Oslo"], "days": [3]}}]
    float_for_int = judge(call("get_weather", city="Oslo", days=3.0), days)  # JSON Schema accepts 3.0 ...
    assert float_for_int.kind == "bad_value"  # ... BFCL does not, for an integer parameter
    anything = [{"geometry.area_circle": {"radius": [1.0], "value": [1]}}]
    assert judge(call("geometry.area_circle", radius=1.0, value=True), anything).kind == "bad_value"
    assert judge(call("geometry.area_circle", radius=1.0, value=1), anything).kind == "ok"
    flags = [{"get_weather": {"city": ["Oslo"], "metric": [False]}}]
    assert judge(call("get_weather", city="Oslo", metric=False), flags).kind == "ok"
    assert judge(call("get_weather", city="Oslo", metric=True), flags).kind == "bad_value"


def test_lists_compare_item_by_item() -> None:
    answer = [{"geometry.area_circle": {"radius": [1.0], "points": [[1, 2, 3]]}}]
    assert judge(call("geometry.area_circle", radius=1.0, points=[1, 2, 3]), answer).kind == "ok"
    assert judge(call("geometry.area_circle", radius=1.0, points=[3, 2, 1]), answer).kind == "bad_value"
    assert judge(call("geometry.area_circle", radius=1.0, points=[1, 2]), answer).kind == "bad_value"


def test_mappings_compare_key_by_key() -> None:
    answer = [
        {"geometry.area_circle": {"radius": [1.0], "meta": [{"label": ["Big Circle"], "color": ["red", ""]}]}}
    ]
    ok = call("geometry.area_circle", radius=1.0, meta={"label": "big circle"})
    assert judge(ok, answer).kind == "ok"  # "color" may be omitted; strings normalised inside too
    wrong = call("geometry.area_circle", radius=1.0, meta={"label": "big circle", "color": "blue"})
    assert judge(wrong, answer).kind == "bad_value"
    extra = call("geometry.area_circle", radius=1.0, meta={"label": "big circle", "size": 3})
    assert judge(extra, answer).kind == "bad_value"
    missing = call("geometry.area_circle", radius=1.0, meta={"color": "red"})
    assert judge(missing, answer).kind == "bad_value"


def test_enum_violation_is_a_bad_value() -> None:
    result = judge(
        call("geometry.area_circle", radius=1.0, units="km"), [{"geometry.area_circle": {"radius": [1.0]}}]
    )
    assert result.kind == "bad_value" and "'km' is not one of ['cm', 'm']" in result.detail


# ------------------------------------------------------------------------------- parallel calls


PARALLEL = [
    {"get_weather": {"city": ["Paris", "Rome"]}},
    {"get_weather": {"city": ["Paris"]}},
    {"geometry.area_circle": {"radius": [2.0]}},
]


def test_parallel_calls_match_in_any_order() -> None:
    # A greedy matcher pairs the first expected call with Paris and then fails on Rome.
    reply = json.dumps(
        [
            {"function": "geometry.area_circle", "params": {"radius": 2}},
            {"function": "get_weather", "params": {"city": "Paris"}},
            {"function": "get_weather", "params": {"city": "Rome"}},
        ]
    )
    assert judge(reply, PARALLEL).kind == "ok"


def test_parallel_count_and_values() -> None:
    two = json.dumps([{"function": "get_weather", "params": {"city": c}} for c in ("Paris", "Rome")])
    result = judge(two, PARALLEL)
    assert (result.kind, result.detail) == (
        "wrong_count",
        "expected 3 calls, got 2 (get_weather, get_weather)",
    )
    three = [*json.loads(two), {"function": "geometry.area_circle", "params": {"radius": 3.0}}]
    assert judge(json.dumps(three), PARALLEL).kind == "bad_value"
    invalid = [*json.loads(two), {"function": "geometry.area_circle", "params": {}}]
    assert judge(json.dumps(invalid), PARALLEL).kind == "missing_param"  # parse_many validates every call
    # A single expected call read as parallel: a second call is one too many.
    assert judge(two, [{"get_weather": {"city": ["Paris"]}}], parallel=True).kind == "wrong_count"
    # Not parallel: the router's (first valid) call is scored.
    assert judge(two, [{"get_weather": {"city": ["Paris"]}}]).kind == "ok"


# ---------------------------------------------------------------------------- no call, any call


def test_irrelevance_expects_no_call() -> None:
    assert judge("None of these functions can book a table.", []).kind == "ok"
    made = judge(call("get_weather", city="Paris"), [])
    assert (made.kind, made.detail) == ("unexpected_call", "expected no call; the model called get_weather")
    assert judge(call("get_weather"), []).kind == "unexpected_call"  # an invalid call is still an attempt
    declined = call(NO_CALL_TOOL, reason="No function books tables.")
    assert judge(declined, [], no_call=True).kind == "ok"
    assert judge(declined, []).kind == "unexpected_call"  # without the tool, "none" is an unknown function
    refused = judge(declined, [{"get_weather": {"city": ["Paris"]}}], no_call=True)
    assert (refused.kind, refused.detail) == ("no_call", "the model declined to call a function")


def test_relevance_accepts_any_valid_call() -> None:
    assert judge(call("geometry.area_circle", radius=1), [], any_call=True).kind == "ok"
    assert judge("I cannot help.", [], any_call=True).kind == "parse_error"
    assert judge(call(NO_CALL_TOOL), [], any_call=True, no_call=True).kind == "no_call"


def test_a_backend_that_declines_made_no_call() -> None:
    from funcroute.offline.selector import NoSuitableFunctionError

    def decline(request: Request) -> str:
        raise NoSuitableFunctionError(request.user_input or "", "no tool fits well enough")

    cases = [
        Case("irrelevant", "book a table", tools=TOOLS, category="irrelevance"),
        Case(
            "relevant", "weather in Oslo", (ExpectedCall.exact("get_weather", {"city": "Oslo"}),), tools=TOOLS
        ),
    ]
    results = evaluate(cases, FunctionBackend(decline)).results
    assert [(r.kind, r.retries) for r in results] == [("ok", 0), ("no_call", 0)]
    assert results[1].detail == "NoSuitableFunctionError: no suitable function: no tool fits well enough"


def test_prose_is_a_parse_error() -> None:
    result = judge("The weather in Paris is nice.", [{"get_weather": {"city": ["Paris"]}}])
    assert result.kind == "parse_error" and result.detail.startswith("OutputParseError: ")


def test_with_no_call_tool_offers_none_in_the_prompt() -> None:
    offered = with_no_call_tool(TOOLS)
    assert offered.names == ["get_weather", "geometry.area_circle", "none"] and TOOLS.names[-1] != "none"
    assert "none:\n  description: Use this when none of the other functions fits" in offered.prompt("x")


# ----------------------------------------------------------------------- running with a backend


def test_retries_errors_and_the_summary(tmp_path: Path) -> None:
    cases = [
        Case(
            "fixed", "weather in Paris", (ExpectedCall.exact("get_weather", {"city": "Paris"}),), category="w"
        ),
        Case(
            "right", "weather in Rome", (ExpectedCall.exact("get_weather", {"city": "Rome"}),), category="w"
        ),
        Case(
            "lost",
            "area of r=2",
            (ExpectedCall.exact("geometry.area_circle", {"radius": 2.0}),),
            category="a",
        ),
    ]

    def model(request: Request) -> str:
        if request.user_input == "area of r=2":
            raise BackendError("local", "out of memory")
        if request.user_input == "weather in Paris" and "previous response" not in request.prompt:
            return "Paris it is"  # no call: the router asks again
        return call("get_weather", city=request.user_input.split()[-1])

    seen: list[str] = []
    report = evaluate(cases, FunctionBackend(model), tools=TOOLS, on_result=lambda r: seen.append(r.case.id))
    assert [(r.case.id, r.kind, r.retries) for r in report.results] == [
        ("fixed", "ok", 1),
        ("right", "ok", 0),
        ("lost", "error", 0),  # a backend failure, not the model's mistake
    ]
    assert sorted(seen) == ["fixed", "lost", "right"]
    assert report.results[2].detail == "BackendError: local: out of memory"
    assert report.accuracy == pytest.approx(2 / 3)
    assert report.summary().splitlines() == [
        "category  cases  correct  accuracy  retried  error",
        "a             1        0      0.0%        0      1",
        "w             2        2    100.0%        1      0",
        "all           3        2     66.7%        1      1",
    ]
    out = tmp_path / "results.jsonl"
    report.write_jsonl(out)
    first = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
    assert first["replies"] == ["Paris it is", call("get_weather", city="Paris")]
    assert first["retries"] == 1 and first["ok"] is True
    assert first["expected"] == [{"get_weather": {"city": ["Paris"]}}]


def test_missing_replies_tools_and_conflicting_options() -> None:
    case = Case("c9", "weather", (ExpectedCall.exact("get_weather", {"city": "Oslo"}),), tools=TOOLS)
    assert evaluate([case], replies={}).results[0].detail == "no reply for case 'c9'"
    with pytest.raises(UsageError, match="has no tools of its own"):
        evaluate([Case("x", "weather")], replies={})
    with pytest.raises(UsageError, match="not both"):
        evaluate([case], ScriptedBackend([]), replies={})
    empty = Case("e", "hello", (), tools=ToolSet(), category="irrelevance")
    assert evaluate([empty], replies={}).results[0].kind == "ok"  # no tools offered: nothing to call
    assert Report([]).accuracy == 0.0


def test_case_files(tmp_path: Path) -> None:
    lines = [
        {
            "id": "a",
            "input": "weather in Oslo",
            "expected": {"function": "get_weather", "params": {"city": "Oslo"}},
        },
        {"input": "area", "expected": [{"geometry.area_circle": {"radius": [1, 1.0], "units": ["cm", ""]}}]},
        {"id": "n", "input": "book a table", "expected": [], "category": "irrelevance"},
        {"id": "any", "command": "do something", "expected": "any", "parallel": True},
        {
            "id": "p",
            "input": "two cities",
            "expected": [
                {"function": "get_weather", "params": {"city": "Oslo", "days": 2}},
                {"get_weather": {"city": ["Rome"]}},
            ],
        },
    ]
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n\n", encoding="utf-8")
    cases = load_cases(path, TOOLS)
    assert [c.id for c in cases] == ["a", "2", "n", "any", "p"]
    assert cases[0].expected == (ExpectedCall("get_weather", {"city": ["Oslo"]}),)
    assert cases[1].expected[0].params == {"radius": [1, 1.0], "units": ["cm", ""]}
    assert (cases[2].expected, cases[2].any_call, cases[2].category) == ((), False, "irrelevance")
    assert cases[3].any_call and cases[3].is_parallel
    assert cases[4].is_parallel and not cases[0].is_parallel
    for case in cases:
        assert case.tools is TOOLS


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "cases.jsonl:1: not valid JSON"),
        ('{"expected": []}', 'cases.jsonl:1: expected an object with a non-empty "input"'),
        ('{"input": "x", "expected": {"function": 3}}', 'cases.jsonl:1: .*"expected" is a call'),
        ('{"input": "x"}', 'cases.jsonl:1: "expected" is missing'),
        ('{"input": "x", "expect": []}', "cases.jsonl:1: unknown key.*'expect'"),
        (
            '{"input": "x", "expected": [], "parallel": "yes"}',
            "cases.jsonl:1: \\['parallel'\\]: 'yes' is not of type 'boolean'",
        ),
    ],
)
def test_bad_case_files(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "cases.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(UsageError, match=message):
        load_cases(path, TOOLS)


def test_duplicate_case_ids(tmp_path: Path) -> None:
    path = tmp_path / "cases.jsonl"
    path.write_text(
        '{"id": 2, "input": "a", "expected": []}\n{"input": "b", "expected": []}\n', encoding="utf-8"
    )  # line 2's default id
    with pytest.raises(UsageError, match=r"cases\.jsonl:2: case id '2' is used twice"):
        load_cases(path, TOOLS)


# ---------------------------------------------------------------------------------------- BFCL

_OMITTABLE = "ground truth lets required parameter {!r} be omitted ('' among its values)"
#: BFCL entries whose ground truth contradicts the entry's own function docs: scored as failures.
ANOMALIES: dict[str, str] = {
    "live_multiple_68-29-0": _OMITTABLE.format("port"),
    "live_multiple_69-30-0": _OMITTABLE.format("port"),
    "live_multiple_77-35-1": _OMITTABLE.format("port"),
    "live_multiple_114-44-1": _OMITTABLE.format("port"),
    "live_multiple_144-56-0": _OMITTABLE.format("perPage"),
    "live_multiple_507-149-4": _OMITTABLE.format("origin_airport"),
    "live_multiple_834-178-9": _OMITTABLE.format("track"),
    "live_multiple_905-186-2": _OMITTABLE.format("number_of_adults"),
    "live_multiple_906-186-3": _OMITTABLE.format("number_of_adults"),
    "parallel_88": _OMITTABLE.format("initial_velocity"),
    "parallel_multiple_87": _OMITTABLE.format("initial_velocity"),
    "parallel_multiple_119": _OMITTABLE.format("league_name"),
    "simple_python_17": _OMITTABLE.format("formatted"),
    "simple_python_200": _OMITTABLE.format("fuel_efficiency"),
    "live_simple_106-63-0": "required parameters with no acceptable value at all ([])",
    "live_simple_112-68-0": "required parameters with no acceptable value at all ([])",
    "live_multiple_87-38-4": "type='openai' is outside the enum",
    "live_multiple_750-169-5": "genre='Any' is outside the enum",
    "live_multiple_756-169-11": "genre='horror' is outside the enum (which has 'Horror')",
    "live_multiple_835-178-10": "genre='Reggaeton' is outside the enum",
    "live_multiple_871-182-8": "genre='Play' is outside the enum",
    "live_multiple_947-197-0": "duration='5 minutes' is outside the enum",
    "live_parallel_multiple_2-2-0": "command '침실, 공기청정기, 중지' is outside the enum",
    "live_multiple_552-153-1": "is_unisex=true for a string enum ['True', 'False', 'dontcare']",
    "live_multiple_595-158-1": "number_of_rooms=2 (an integer) for a string enum",
    "live_multiple_596-158-2": "number_of_rooms=1 (an integer) for a string enum",
    "live_multiple_731-167-2": "in_unit_laundry=true for a string enum",
    "live_multiple_733-167-4": "in_unit_laundry=true for a string enum",
    "live_multiple_735-167-6": "in_unit_laundry=true for a string enum",
    "parallel_multiple_21": "x/y are strings (\"data['sales']\") for array parameters",
    "parallel_multiple_94": "fruit names for a list of integers",
    "live_multiple_862-181-3": "journey_start_time is not a parameter of Trains_1_FindTrains",
    "live_multiple_964-207-0": "'question' instead of the required 'statement'",
}

try:
    CORPUS: Path | None = bfcl_dir()
except UsageError:
    CORPUS = None
needs_corpus = pytest.mark.skipif(CORPUS is None, reason="BFCL corpus not found (set FUNCROUTE_BFCL_DIR)")


@pytest.fixture(scope="module")
def bfcl() -> dict[str, list[Case]]:
    return {category: read_bfcl(category) for category in bfcl_categories()}


@needs_corpus
def test_bfcl_loader(bfcl: dict[str, list[Case]]) -> None:
    assert sorted(bfcl) == sorted(p.name[8:-5] for p in CORPUS.glob("BFCL_v4_*.json"))  # type: ignore[union-attr]
    simple = bfcl["simple_python"][0]
    assert simple.id == "simple_python_0" and simple.expected and not simple.is_parallel
    assert simple.tools is not None and simple.tools.names == [simple.expected[0].function]
    assert all(c.is_parallel for c in bfcl["parallel_multiple"])
    assert all(not c.expected and not c.any_call for c in bfcl["live_irrelevance"])
    assert all(c.any_call for c in bfcl["live_relevance"])
    system = next(c for c in bfcl["live_simple"] if c.id == "live_simple_58-27-0")  # system + user messages
    assert system.input == "list movies in Mumbai?"  # the system prompt has no place in the selection prompt
    shared = Counter(id(c.tools) for c in bfcl["live_multiple"])
    assert max(shared.values()) > 1  # entries with the same function docs share a ToolSet (one batch)
    assert load_bfcl("multiple")[0].id == "multiple_0"
    with pytest.raises(UsageError, match="unknown BFCL category 'simple'"):
        load_bfcl("simple")


@needs_corpus
def test_bfcl_ground_truth_scores_perfectly_except_anomalies(bfcl: dict[str, list[Case]]) -> None:
    cases = [c for group in bfcl.values() for c in group if not c.any_call]
    report = evaluate(cases, replies={c.id: ground_truth_reply(c) for c in cases})
    failed = {r.case.id: r for r in report.results if not r.ok}
    assert sorted(failed.keys() - ANOMALIES.keys()) == []
    assert sorted(ANOMALIES.keys() - failed.keys()) == []  # each anomaly still fails: the list is live
    by_category = {name: (c["correct"], c["cases"]) for name, c in report.counts().items()}
    assert by_category["simple_python"] == (398, 400)
    assert by_category["irrelevance"] == (240, 240)
    assert by_category["all"] == (len(cases) - len(ANOMALIES), len(cases))
    # With the no-call tool, irrelevance replies are calls to "none": still correct.
    irrelevant = bfcl["irrelevance"][:20]
    declined = {c.id: ground_truth_reply(c, no_call_tool=True) for c in irrelevant}
    assert evaluate(irrelevant, replies=declined, no_call_tool=True).accuracy == 1.0


def _mutations(case: Case) -> list[tuple[str, Any]]:
    """(expected kind, mutated reply document) pairs for one case's ground truth."""
    doc = json.loads(ground_truth_reply(case))
    calls = doc if isinstance(doc, list) else [doc]
    first, want = calls[0], case.expected[0]
    wrap = (lambda c: c) if isinstance(doc, list) else (lambda c: c[0])
    out: list[tuple[str, Any]] = [("parse_error", f"I would call {first['function']} here.")]
    expected = {e.function for e in case.expected}
    others = [n for n in case.tools.names if n not in expected] if case.tools else []
    renamed = dict(first, function=others[0] if others else "funcroute_unknown_function")
    out.append(("wrong_function", wrap([renamed, *calls[1:]])))
    extra = dict(first, params={**first["params"], "funcroute_extra": 1})
    out.append(("unexpected_param", wrap([extra, *calls[1:]])))
    needed = [p for p in first["params"] if "" not in want.params[p]]
    if needed:
        dropped = dict(first, params={k: v for k, v in first["params"].items() if k != needed[0]})
        out.append(("missing_param", wrap([dropped, *calls[1:]])))
    for name, value in first["params"].items():
        changed = _changed(value)
        if changed is not None and changed not in want.params[name]:
            bad = dict(first, params={**first["params"], name: changed})
            out.append(("bad_value", wrap([bad, *calls[1:]])))
            break
    if isinstance(doc, list) and len(calls) > 1:
        out.append(("wrong_count", calls[1:]))
    return out


def _changed(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 7919
    if isinstance(value, float):
        return value + 0.5
    if isinstance(value, str):
        return value + " qzx"
    if isinstance(value, list) and value and not isinstance(value[0], (dict, list)):
        return [*value, copy.deepcopy(value[0])]
    return None


@needs_corpus
def test_bfcl_mutated_replies_score_as_the_right_error(bfcl: dict[str, list[Case]]) -> None:
    cases, replies, wanted = [], {}, {}
    for group in bfcl.values():
        for case in group:
            if case.any_call or case.id in ANOMALIES:
                continue
            if not case.expected:  # irrelevance: any call at all is wrong
                tool = case.tools.names[0] if case.tools and len(case.tools) else None
                mutations = [("unexpected_call", {"function": tool, "params": {}})] if tool else []
            else:
                mutations = _mutations(case)
            for index, (kind, doc) in enumerate(mutations):
                mutated = Case(
                    f"{case.id}#{index}", case.input, case.expected, False, case.tools, kind, case.parallel
                )
                cases.append(mutated)
                replies[mutated.id] = doc if isinstance(doc, str) else json.dumps(doc, ensure_ascii=False)
                wanted[mutated.id] = kind
    report = evaluate(cases, replies=replies)
    wrong = [
        (r.case.id, wanted[r.case.id], r.kind, r.detail[:160])
        for r in report.results
        if r.kind != wanted[r.case.id]
    ]
    assert wrong == []
    counts = Counter(wanted.values())
    assert min(counts.values()) > 100 and len(counts) == 7, counts
