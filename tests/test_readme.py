"""The README's examples run as written: the 30-second example, the pytest example, the tool file."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import pytest
import yaml

from funcroute import ToolSet
from funcroute.testing.guard import is_real

pytest_plugins = ["pytester"]

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def block(language: str, containing: str) -> str:
    """The README's first fenced ``language`` block that contains ``containing``."""
    for body in re.findall(rf"^```{language}\n(.*?)^```$", README, re.S | re.M):
        if containing in body:
            return str(body)
    raise AssertionError(f"no {language} block with {containing!r} in the README")


def test_the_30_second_example_runs() -> None:
    source = block("python", "tools = ToolSet()")
    namespace: dict[str, object] = {}
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        exec(compile(source, "README.md", "exec"), namespace)
    assert "Available functions:\nfile_analytics:" in printed.getvalue()


def test_the_custom_selector_example_runs() -> None:
    source = block("python", "class Keywords(Selector):")
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        exec(compile(source, "README.md", "exec"), {})
    assert printed.getvalue() == "lights on keywords\n"


def test_the_pytest_example_runs_as_written(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nfilterwarnings = error\n")
    pytester.makepyfile(test_readme_example=block("python", "def test_weather(tools)"))
    result = pytester.runpytest_inprocess()
    result.assert_outcomes(passed=2)


def test_the_tool_file_example_loads_as_documented(tmp_path: Path) -> None:
    text = block("yaml", "confirm: true")
    path = tmp_path / "tools.yaml"
    path.write_text(re.sub(r"\n\s*handler:.*", "", text), encoding="utf-8")
    tool = ToolSet.from_file(path)["set_thermostat"]
    assert tool.confirm is True and tool.timeout == 5.0
    assert tool.schema["required"] == ["room", "temperature"]
    assert tool.schema["properties"]["days"]["items"] == {"enum": ["mon", "tue", "wed"]}
    assert "start" in tool.schema["properties"]["schedule"]["properties"]
    assert yaml.safe_load(text)["set_thermostat"]["handler"] == "handlers:set_thermostat"


def test_the_record_example_has_the_documented_keys() -> None:
    record = json.loads(block("json", '"refused"'))
    assert set(record) == {
        "line", "input", "ok", "refused", "call", "dispatched", "result",
    "attempts", "replies", "timings", "error",
    }  # fmt: skip


def test_the_offline_router_is_not_a_real_backend_for_the_plugin() -> None:
    pytest.importorskip("numpy")
    from funcroute.backends.base import Backend
    from funcroute.backends.transformers import TransformersBackend
    from funcroute.offline.selector import SemanticSelector

    assert not issubclass(SemanticSelector, Backend)  # a selector: the guard has nothing to block
    assert is_real(TransformersBackend)
