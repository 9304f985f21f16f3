"""``funcroute eval`` through the CLI's entry function: case files, BFCL categories, replies, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from funcroute.backends.base import Request
from funcroute.backends.scripted import FunctionBackend
from funcroute.cli import common
from funcroute.cli import main as cli
from funcroute.errors import UsageError
from funcroute.evaluation.cases import bfcl_dir

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "demos" / "plugin_example"

TOOLS_PY = '''
from typing import Literal
from funcroute import ToolSet

tools = ToolSet()


@tools.tool
def convert_temperature(value: float, unit: Literal["celsius", "fahrenheit"]) -> float:
    """Convert a temperature to the other unit.

    Args:
        value: The temperature to convert.
        unit: The unit of the given value.
    """
    return value


@tools.tool
def search_notes(query: str, limit: int = 10) -> list[str]:
    """Search my notes.

    Args:
        query: Words to look for.
        limit: Most results to return.
    """
    return []
'''

CASES = [
    {
        "id": "f2c",
        "input": "Convert 100 degrees fahrenheit to celsius",
        "expected": {"function": "convert_temperature", "params": {"value": 100, "unit": "fahrenheit"}},
    },
    {
        "id": "notes",
        "input": "Find my notes about the budget",
        "expected": {"search_notes": {"query": ["budget", "the budget"], "limit": [10, ""]}},
        "category": "notes",
    },
    {"id": "chitchat", "input": "Tell me a joke", "expected": [], "category": "irrelevance"},
]


def call(function: str, **params: object) -> str:
    return json.dumps({"function": function, "params": params})


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "tools.py").write_text(TOOLS_PY, encoding="utf-8")
    (tmp_path / "cases.jsonl").write_text("".join(json.dumps(c) + "\n" for c in CASES), encoding="utf-8")
    return tmp_path


def write_replies(path: Path, replies: dict[str, str]) -> Path:
    path.write_text(
        "".join(json.dumps({"id": k, "reply": v}) + "\n" for k, v in replies.items()), encoding="utf-8"
    )
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(["eval", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_scores_replies_and_writes_results(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    replies = write_replies(
        files / "replies.jsonl",
        {
            "f2c": call("convert_temperature", value=100, unit="fahrenheit"),
            "notes": call("search_notes", query="Budget", limit=5),
            "chitchat": "Why did the chicken cross the road?",
        },
    )
    out_file = files / "results.jsonl"
    code, out, err = run(
        capsys, "--tools", str(files / "tools.py"), "--cases", str(files / "cases.jsonl"),
        "--replies", str(replies), "--out", str(out_file),
    )  # fmt: skip
    assert code == 0, err
    assert out.splitlines() == [
        "category     cases  correct  accuracy  retried  bad_value",
        "cases            1        1    100.0%        0          0",
        "irrelevance      1        1    100.0%        0          0",
        "notes            1        0      0.0%        0          1",
        "all              3        2     66.7%        0          1",
        "",
        "accuracy: 66.7% (2/3)",
    ]
    records = {r["id"]: r for r in map(json.loads, out_file.read_text(encoding="utf-8").splitlines())}
    assert set(records) == {"f2c", "notes", "chitchat"}
    assert records["notes"]["kind"] == "bad_value"
    assert records["notes"]["detail"] == "search_notes.limit: 5 is not among [10, '']"
    assert records["f2c"]["calls"] == [
        {"function": "convert_temperature", "params": {"value": 100, "unit": "fahrenheit"}}
    ]

    # A results file is a replies file too: re-scoring it gives the same numbers.
    code, again, _ = run(
        capsys,
        "--tools",
        str(files / "tools.py"),
        "--cases",
        str(files / "cases.jsonl"),
        "--replies",
        str(out_file),
    )
    assert code == 0 and again == out


def test_fail_under(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    replies = write_replies(files / "r.jsonl", {"f2c": "no idea", "notes": "no idea", "chitchat": "no idea"})
    args = [
        "--tools",
        str(files / "tools.py"),
        "--cases",
        str(files / "cases.jsonl"),
        "--replies",
        str(replies),
    ]
    code, out, err = run(capsys, *args, "--fail-under", "50")
    assert code == common.EXIT_FAILED
    assert "parse_error" in out.splitlines()[0] and "accuracy: 33.3% (1/3)" in out
    assert "accuracy is below --fail-under 50%" in err
    assert run(capsys, *args, "--fail-under", "30")[0] == common.EXIT_OK


def test_model_options_reach_the_router(
    files: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def model(request: Request) -> str:
        if "previous response" not in request.prompt:
            return "Let me think."  # every first answer is prose: one repair turn each
        if request.user_input.startswith("Convert"):
            return call("convert_temperature", value=100.0, unit="fahrenheit")
        if request.user_input.startswith("Find"):
            return call("search_notes", query="budget")
        return call("none", reason="No function tells jokes.")

    backend = FunctionBackend(model)
    monkeypatch.setattr(common, "backend_from_args", lambda args: backend)
    code, out, _ = run(
        capsys, "--tools", str(files / "tools.py"), "--cases", str(files / "cases.jsonl"),
        "--no-call-tool", "--max-retries", "1", "--format", "json",
    )  # fmt: skip
    assert code == 0
    assert "all              3        3    100.0%        3" in out  # every case needed its one retry
    assert len(backend.requests) == 6
    assert all(
        "none:\n  description: Use this when none of the other functions fits" in p for p in backend.prompts
    )
    monkeypatch.setattr(common, "backend_from_args", lambda args: FunctionBackend(lambda r: "prose"))
    code, out, _ = run(capsys, "--tools", str(files / "tools.py"), "--cases", str(files / "cases.jsonl"))
    assert "accuracy: 33.3% (1/3)" in out  # prose only: the irrelevance case is right


def test_progress_bar_on_request(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(
        capsys,
        "--tools",
        str(files / "tools.py"),
        "--cases",
        str(files / "cases.jsonl"),
        "--ground-truth",
        "--progress",
    )
    assert code == 0 and "3/3" in err and "case" in err


def test_demo_cases_ground_truth(capsys: pytest.CaptureFixture[str]) -> None:
    args = [
        "--tools",
        str(DEMO / "helpdesk.py"),
        "--cases",
        str(DEMO / "tests" / "cases.jsonl"),
        "--ground-truth",
    ]
    code, out, _ = run(capsys, *args, "--no-call-tool")
    assert code == 0 and "accuracy: 100.0% (5/5)" in out


needs_corpus = pytest.mark.skipif(
    not any((REPO.parent / "shared" / "corpora" / "bfcl").glob("BFCL_v4_*.json")),
    reason="BFCL corpus not found",
)


@needs_corpus
def test_bfcl_ground_truth(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    categories = ["--bfcl", "simple_python,parallel", "--bfcl", "irrelevance"]
    code, out, err = run(
        capsys, *categories, "--limit", "20", "--ground-truth", "--out", str(tmp_path / "r.jsonl")
    )
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["category", "cases", "correct", "accuracy", "retried", "missing_param"]
    assert lines[1].split() == ["irrelevance", "20", "20", "100.0%", "0", "0"]
    assert lines[2].split() == ["parallel", "20", "20", "100.0%", "0", "0"]
    assert lines[3].split() == [
        "simple_python",
        "20",
        "19",
        "95.0%",
        "0",
        "1",
    ]  # simple_python_17: corpus anomaly
    assert len((tmp_path / "r.jsonl").read_text(encoding="utf-8").splitlines()) == 60


@needs_corpus
def test_bfcl_all_skips_cases_without_ground_truth(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--bfcl", "all", "--limit", "2", "--ground-truth", "--no-call-tool")
    assert code == 0
    assert "2 cases accept any call and have no ground truth: skipped" in err
    assert "accuracy: 100.0% (20/20)" in out
    assert bfcl_dir() == REPO.parent / "shared" / "corpora" / "bfcl"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "give either --cases (with --tools) or --bfcl"),
        (["--cases", "c.jsonl", "--bfcl", "parallel"], "give either --cases"),
        (["--cases", "c.jsonl"], "--cases needs --tools"),
        (["--bfcl", "parallel", "--tools", "t.py"], "--tools is not used with --bfcl"),
        (["--bfcl", "simple"], "unknown BFCL category 'simple'"),
        (["--bfcl", "parallel", "--limit", "0"], "--limit must be at least 1"),
        (["--bfcl", "parallel", "--replies", "r.jsonl", "--ground-truth"], "not both"),
        (["--bfcl", "parallel", "--ground-truth", "--model", "m"], "drop --model/--endpoint"),
        (["--bfcl", "parallel", "--ground-truth", "--max-new-tokens", "0"], "--max-new-tokens must be >= 1"),
        (["--bfcl", "parallel", "--bfcl-dir", "/nonexistent"], "no BFCL_v4_*.json files in /nonexistent"),
        (["--bfcl", "parallel", "--replies", "missing.jsonl"], "cannot read missing.jsonl"),
        (
            ["--bfcl", "parallel", "--ground-truth", "--out", "/nonexistent/r.jsonl"],
            "cannot write /nonexistent/r.jsonl",
        ),
    ],
)
def test_usage_errors(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    if "--bfcl-dir" not in argv and "--bfcl" in argv:
        try:
            bfcl_dir()
        except UsageError:
            pytest.skip("BFCL corpus not found")
    code, _, err = run(capsys, *argv)
    assert code == common.EXIT_USAGE
    assert message in err and "Traceback" not in err


def test_bad_files_are_usage_errors(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (files / "bad.jsonl").write_text('{"input": "x", "expected": 42}\n', encoding="utf-8")
    code, _, err = run(capsys, "--tools", str(files / "tools.py"), "--cases", str(files / "bad.jsonl"))
    assert code == common.EXIT_USAGE and "bad.jsonl:1: " in err and '"expected" is a call' in err
    (files / "r.jsonl").write_text('{"reply": "x"}\n', encoding="utf-8")
    args = ["--tools", str(files / "tools.py"), "--cases", str(files / "cases.jsonl"), "--replies"]
    code, _, err = run(capsys, *args, str(files / "r.jsonl"))
    assert code == common.EXIT_USAGE and 'r.jsonl:1: expected {"id": ..., "reply": "..."}' in err


def test_help_lists_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    assert "eval" in capsys.readouterr().out
    assert cli.main(["eval", "--help"]) == 0
    text = capsys.readouterr().out
    for option in (
        "--cases",
        "--bfcl",
        "--replies",
        "--ground-truth",
        "--no-call-tool",
        "--fail-under",
        "--model",
    ):
        assert option in text
