"""Case files that cannot pass by accident: explicit expected calls, alternatives, known names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from funcroute import ToolSet
from funcroute.cli.main import main
from funcroute.errors import UsageError
from funcroute.evaluation import evaluate
from funcroute.evaluation.cases import read_cases

TOOLS_PY = '''
from funcroute import ToolSet

tools = ToolSet()


@tools.tool
def tag(names: list[str], unit: str = "C") -> str:
    """Tag things."""
    return ",".join(names)
'''


@pytest.fixture
def tools(tmp_path: Path) -> ToolSet:
    path = tmp_path / "tools.py"
    path.write_text(TOOLS_PY, encoding="utf-8")
    namespace: dict[str, object] = {}
    exec(compile(TOOLS_PY, str(path), "exec"), namespace)
    toolset = namespace["tools"]
    assert isinstance(toolset, ToolSet)
    return toolset


def cases(tmp_path: Path, *rows: object) -> Path:
    path = tmp_path / "cases.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def score(tools: ToolSet, path: Path, reply: str) -> bool:
    loaded = read_cases(path, tools)
    report = evaluate(loaded, replies={c.id: reply for c in loaded})
    return report.results[0].ok


def test_a_list_in_params_is_a_list_value_and_alternatives_are_explicit(
    tools: ToolSet, tmp_path: Path
) -> None:
    exact = cases(
        tmp_path, {"input": "tag a and b", "expected": {"function": "tag", "params": {"names": ["a", "b"]}}}
    )
    assert score(tools, exact, '{"function": "tag", "params": {"names": ["a", "b"]}}')
    assert not score(tools, exact, '{"function": "tag", "params": {"names": ["a"]}}')
    either = cases(
        tmp_path,
        {
            "input": "tag a",
            "expected": {
                "function": "tag",
                "params": {"names": ["a"]},
                "alternatives": {"unit": ["C", "celsius"]},
            },
        },
    )
    assert score(tools, either, '{"function": "tag", "params": {"names": ["a"], "unit": "celsius"}}')
    assert not score(tools, either, '{"function": "tag", "params": {"names": ["a"], "unit": "K"}}')
    assert not score(tools, either, '{"function": "tag", "params": {"names": ["a"]}}')  # not optional
    optional = cases(
        tmp_path,
        {
            "input": "tag a",
            "expected": {"function": "tag", "params": {"names": ["a"], "unit": "C"}, "optional": ["unit"]},
        },
    )
    assert score(tools, optional, '{"function": "tag", "params": {"names": ["a"]}}')


@pytest.mark.parametrize(
    "row,problem",
    [
        ({"input": "x"}, '"expected" is missing'),
        ({"input": "x", "expect": []}, "unknown key"),
        ({"input": "x", "expected": {"function": "tga", "params": {}}}, "'tga', which the tools do not have"),
        ({"input": "x", "expected": {"function": "tag", "params": {"nmes": []}}}, "no parameter(s) 'nmes'"),
        (
            {"input": "x", "expected": {"function": "tag", "parms": {}}},
            "unknown key(s) 'parms' in an expected call",
        ),
        ({"input": "x", "expected": {"tag": {"names": "a"}}}, "is not of type 'array'"),
        (
            {
                "input": "x",
                "expected": {"function": "tag", "params": {"unit": "C"}, "alternatives": {"unit": ["K"]}},
            },
            "in both",
        ),
        ({"input": "x", "expected": {"function": "tag", "optional": ["unit"]}}, "no expected value"),
    ],
)
def test_mistakes_in_a_case_file_are_errors(
    tools: ToolSet, tmp_path: Path, row: object, problem: str
) -> None:
    with pytest.raises(UsageError) as caught:
        read_cases(cases(tmp_path, row), tools)
    assert problem in str(caught.value)


def test_ground_truth_does_not_claim_to_route_offline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "tools.py"
    spec.write_text(TOOLS_PY, encoding="utf-8")
    path = cases(tmp_path, {"input": "tag a", "expected": {"function": "tag", "params": {"names": ["a"]}}})
    assert main(["eval", "--tools", str(spec), "--cases", str(path), "--ground-truth"]) == 0
    captured = capsys.readouterr()
    assert "offline" not in captured.err.lower() and "100.0%" in captured.out


def test_the_schema_file_ships_with_the_package() -> None:
    from importlib import resources

    schema = json.loads((resources.files("funcroute") / "schemas" / "cases.schema.json").read_text("utf-8"))
    assert schema["oneOf"] and schema["additionalProperties"] is False
