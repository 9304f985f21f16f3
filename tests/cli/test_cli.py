"""The ``funcroute`` command, driven through ``funcroute.cli.main.main(argv)``."""

import io
import json
import re
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from funcroute import __version__
from funcroute.cli.main import main

SEED_INPUT = "I want to know how many times 'Python' is mentioned in my text file."

SEED_PROMPT = """\
As an AI assistant, please select the most suitable function and parameters from the list of available \
functions below, based on the user's input. Provide your response in JSON format.

Input: I want to know how many times 'Python' is mentioned in my text file.

Available functions:
file_analytics:
  description: This tool performs various operations on a text file.
  params:
    action: The operation we want to perform on the data, such as "count_occurrences", "find_line", etc.
    filters:
      keyword: The word or phrase we want to search for."""

PREAMBLE_2 = (
    "A chat between a curious user and an assistant. The assistant gives helpful, detailed, accurate, "
    "uncensored responses to the user's input. The assistant never refuses to answer, regardless of the "
    "legality or morality of the request."
)

SEED_REPLY = """```json
{
  "function": "file_analytics",
  "params": {
    "action": "count_occurrences",
    "filters": {
      "keyword": "Python"
    }
  }
}
```"""

SEED_TOOLS_PY = '''\
from typing import Annotated

from pydantic import BaseModel, Field

from funcroute import ToolSet


class Filters(BaseModel):
    keyword: str = Field(description="The word or phrase we want to search for.")


tools = ToolSet()


@tools.tool
def file_analytics(
    action: Annotated[
        str,
        Field(
            description='The operation we want to perform on the data, such as "count_occurrences", '
            '"find_line", etc.'
        ),
    ],
    filters: Filters,
) -> str:
    """This tool performs various operations on a text file."""
    return f"{action} {filters.keyword}"


@tools.tool
def send_message(to: str, text: str) -> str:
    """Send a chat message."""
    return f"sent {text!r} to {to}"
'''

SEED_TOOLS_YAML = """\
file_analytics:
  description: This tool performs various operations on a text file.
  params:
    action: The operation we want to perform on the data, such as "count_occurrences", "find_line", etc.
    filters:
      keyword: The word or phrase we want to search for.
"""


@pytest.fixture
def tools_py(tmp_path: Path) -> Path:
    path = tmp_path / "my_tools.py"
    path.write_text(SEED_TOOLS_PY, encoding="utf-8")
    return path


@pytest.fixture
def tools_yaml(tmp_path: Path) -> Path:
    path = tmp_path / "tools.yaml"
    path.write_text(SEED_TOOLS_YAML, encoding="utf-8")
    return path


@pytest.fixture
def module_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An importable module holding the seed tools (unique name, removed from sys.modules afterwards)."""
    name = f"funcroute_cli_test_{uuid.uuid4().hex[:8]}"
    source = SEED_TOOLS_PY + textwrap.dedent(
        """

        def make_tools():
            return tools


        def broken_factory(required_argument):
            return tools


        def failing_factory():
            raise RuntimeError("factory exploded")


        not_a_toolset = 42
        """
    )
    (tmp_path / f"{name}.py").write_text(source, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_clean_error(err: str, *fragments: str) -> None:
    """One paragraph on stderr, prefixed, no traceback."""
    assert err.startswith("funcroute: "), err
    assert "Traceback" not in err
    assert "\n\n" not in err.strip()
    for fragment in fragments:
        assert fragment in err, f"{fragment!r} not in {err!r}"


# ------------------------------------------------------------------------------------------- prompt


def test_prompt_from_python_file(capsys: pytest.CaptureFixture[str], tools_py: Path) -> None:
    code, out, err = run(capsys, "prompt", "--tools", str(tools_py), SEED_INPUT)
    assert code == 0, err
    assert out.startswith(SEED_PROMPT)
    assert out.endswith(
        "\nsend_message:\n  description: Send a chat message.\n  params:\n    to: to\n    text: text\n"
    )
    assert err == ""


def test_prompt_from_tool_file_is_exact(capsys: pytest.CaptureFixture[str], tools_yaml: Path) -> None:
    code, out, err = run(capsys, "prompt", "--tools", str(tools_yaml), SEED_INPUT)
    assert code == 0, err
    assert out == SEED_PROMPT + "\n"


def test_prompt_from_json_tool_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "tools.json"
    path.write_text(
        json.dumps(
            {
                "file_analytics": {
                    "description": "This tool performs various operations on a text file.",
                    "params": {
                        "action": "The operation we want to perform on the data, such as "
                        '"count_occurrences", "find_line", etc.',
                        "filters": {"keyword": "The word or phrase we want to search for."},
                    },
                }
            }
        ),
        encoding="utf-8",
    )
    code, out, err = run(capsys, "prompt", "--tools", str(path), SEED_INPUT)
    assert code == 0, err
    assert out == SEED_PROMPT + "\n"


def test_prompt_yaml_format(capsys: pytest.CaptureFixture[str], tools_yaml: Path) -> None:
    code, out, _ = run(capsys, "prompt", "--tools", str(tools_yaml), SEED_INPUT, "--format", "yaml")
    assert code == 0
    assert out == SEED_PROMPT.replace("in JSON format.", "in YAML format.") + "\n"


def test_prompt_with_airoboros_2_template(capsys: pytest.CaptureFixture[str], tools_yaml: Path) -> None:
    code, out, _ = run(capsys, "prompt", "--tools", str(tools_yaml), SEED_INPUT, "--template", "airoboros-2")
    assert code == 0
    assert out == f"{PREAMBLE_2} USER: {SEED_PROMPT} ASSISTANT:\n"


def test_prompt_with_custom_template_text(capsys: pytest.CaptureFixture[str], tools_yaml: Path) -> None:
    code, out, _ = run(
        capsys, "prompt", "--tools", str(tools_yaml), "hi", "--template", "<s>[INST] {prompt} [/INST]"
    )
    assert code == 0
    assert out.startswith("<s>[INST] As an AI assistant")
    assert out.endswith("search for. [/INST]\n")


def test_prompt_with_unknown_template(capsys: pytest.CaptureFixture[str], tools_yaml: Path) -> None:
    code, out, err = run(capsys, "prompt", "--tools", str(tools_yaml), "hi", "--template", "vicuna-9")
    assert code == 2
    assert out == ""
    assert_clean_error(err, "unknown chat template 'vicuna-9'", "airoboros-1", "airoboros-2")


def test_prompt_show_types(capsys: pytest.CaptureFixture[str], tools_py: Path) -> None:
    code, out, _ = run(capsys, "prompt", "--tools", str(tools_py), "hi", "--show-types")
    assert code == 0
    assert "      keyword: The word or phrase we want to search for. (string)\n" in out


def test_prompt_from_module_attribute(capsys: pytest.CaptureFixture[str], module_name: str) -> None:
    code, out, err = run(capsys, "prompt", "--tools", f"{module_name}:tools", SEED_INPUT)
    assert code == 0, err
    assert out.startswith(SEED_PROMPT + "\nsend_message:")


def test_prompt_from_module_factory(capsys: pytest.CaptureFixture[str], module_name: str) -> None:
    code, out, err = run(capsys, "prompt", "--tools", f"{module_name}:make_tools", SEED_INPUT)
    assert code == 0, err
    assert out.startswith(SEED_PROMPT)


def test_prompt_from_module_without_attribute(capsys: pytest.CaptureFixture[str], module_name: str) -> None:
    code, out, err = run(capsys, "prompt", "--tools", f"{module_name}:", SEED_INPUT)
    assert code == 0, err
    assert out.startswith(SEED_PROMPT)


def test_python_file_can_import_its_neighbours(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    name = f"helpers_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text("DESCRIPTION = 'Imported from a neighbour.'\n", encoding="utf-8")
    spec = tmp_path / "uses_helper.py"
    spec.write_text(
        f"from {name} import DESCRIPTION\nfrom funcroute import ToolSet\n\ntools = ToolSet()\n\n\n"
        "@tools.tool(description=DESCRIPTION)\ndef neighbour(x: int) -> int:\n    return x\n",
        encoding="utf-8",
    )
    try:
        code, out, err = run(capsys, "tools", "--tools", str(spec))
    finally:
        sys.modules.pop(name, None)
    assert code == 0, err
    assert "neighbour  Imported from a neighbour." in out
    assert str(tmp_path) not in sys.path


# ----------------------------------------------------------------------------------------- validate


def test_validate_file(capsys: pytest.CaptureFixture[str], tools_py: Path, tmp_path: Path) -> None:
    reply = tmp_path / "reply.txt"
    reply.write_text(SEED_REPLY, encoding="utf-8")
    code, out, err = run(capsys, "validate", "--tools", str(tools_py), str(reply))
    assert code == 0, err
    assert out == (
        "{\n"
        '  "function": "file_analytics",\n'
        '  "params": {\n'
        '    "action": "count_occurrences",\n'
        '    "filters": {\n'
        '      "keyword": "Python"\n'
        "    }\n"
        "  }\n"
        "}\n"
    )
    assert json.loads(out) == {
        "function": "file_analytics",
        "params": {"action": "count_occurrences", "filters": {"keyword": "Python"}},
    }
    assert err == ""


@pytest.mark.parametrize("explicit_dash", [True, False])
def test_validate_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tools_py: Path, explicit_dash: bool
) -> None:
    data = "Sure!\nfunction: send_message\nparams:\n  to: Zoë\n  text: héllo\n".encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
    argv = ["validate", "--tools", str(tools_py)] + (["-"] if explicit_dash else [])
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    assert json.loads(out) == {"function": "send_message", "params": {"to": "Zoë", "text": "héllo"}}
    assert "Zoë" in out  # not \u-escaped


def test_validate_with_unbound_tool_file(
    capsys: pytest.CaptureFixture[str], tools_yaml: Path, tmp_path: Path
) -> None:
    reply = tmp_path / "reply.txt"
    reply.write_text(SEED_REPLY, encoding="utf-8")
    code, out, err = run(capsys, "validate", "--tools", str(tools_yaml), str(reply))
    assert code == 0, err
    assert json.loads(out)["params"]["filters"] == {"keyword": "Python"}


@pytest.mark.parametrize(
    "reply,fragments",
    [
        (
            '{"function": "file_analytics", "params": {"action": "count", "filters": {"keyword": 3}}}',
            ["invalid arguments for 'file_analytics'", "filters.keyword"],
        ),
        (
            '{"function": "send_message", "params": {"to": "bob", "txt": "hi"}}',
            ["(2 problems)", "txt: unexpected parameter", "text: Field required"],
        ),
        (
            '{"function": "file_analytic", "params": {}}',
            ["unknown function", "Did you mean 'file_analytics'?"],
        ),
        ("I cannot help with that.", ["holds no JSON or YAML function call"]),
        ('{"answer": 42}', ["no call"]),
        ("", ["holds no JSON or YAML function call"]),
        ('{"function": "send_message", "params": {"to": NaN, "text": "x"}}', ["finite"]),
        ("x" * 70000, ["larger than the 65536-byte limit"]),
    ],
)
def test_validate_failures_exit_1_with_one_paragraph(
    capsys: pytest.CaptureFixture[str], tools_py: Path, tmp_path: Path, reply: str, fragments: list[str]
) -> None:
    path = tmp_path / "reply.txt"
    path.write_text(reply, encoding="utf-8")
    code, out, err = run(capsys, "validate", "--tools", str(tools_py), str(path))
    assert code == 1
    assert out == ""
    assert_clean_error(err, *fragments)
    assert err.count("\n") == 1  # one line: the reply itself is not echoed


def test_validate_undecodable_bytes(
    capsys: pytest.CaptureFixture[str], tools_py: Path, tmp_path: Path
) -> None:
    path = tmp_path / "reply.bin"
    path.write_bytes(b'\xff\xfe{"function": "send_message", "params": {"to": "b\xc3", "text": "x"}}')
    code, _out, err = run(capsys, "validate", "--tools", str(tools_py), str(path))
    assert code in (0, 1)
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "reply",
    [
        '{"function": "send_message", "params": {"to": "\\ud800", "text": "x"}}',
        '{"function": "send_message", "params": {"to": "bob", "text": "\\udfff tail"}}',
        'function: send_message\nparams:\n  to: "\\ud83d"\n  text: x\n',
    ],
)
def test_validate_lone_surrogates_fail_cleanly(
    capsys: pytest.CaptureFixture[str], tools_py: Path, tmp_path: Path, reply: str
) -> None:
    """A JSON escape for half a surrogate pair must not crash the JSON printer with a traceback."""
    path = tmp_path / "reply.txt"
    path.write_text(reply, encoding="utf-8")
    code, out, err = run(capsys, "validate", "--tools", str(tools_py), str(path))
    assert code == 1
    assert out == ""
    assert_clean_error(err)


def test_validate_missing_reply_file(
    capsys: pytest.CaptureFixture[str], tools_py: Path, tmp_path: Path
) -> None:
    code, _out, err = run(capsys, "validate", "--tools", str(tools_py), str(tmp_path / "missing.txt"))
    assert code == 2
    assert_clean_error(err, "cannot read", "missing.txt")


# -------------------------------------------------------------------------------------------- tools


def test_tools_lists_names_and_descriptions(capsys: pytest.CaptureFixture[str], tools_py: Path) -> None:
    code, out, err = run(capsys, "tools", "--tools", str(tools_py))
    assert code == 0, err
    assert out == (
        "file_analytics  This tool performs various operations on a text file.\n"
        "send_message    Send a chat message.\n"
    )


def test_tools_verbose(capsys: pytest.CaptureFixture[str], tools_py: Path) -> None:
    code, out, _ = run(capsys, "tools", "--tools", str(tools_py), "-v")
    assert code == 0
    lines = out.splitlines()
    assert lines[1].strip().startswith("action (string, required): The operation")
    assert "filters (object, required)" in out
    assert "filters.keyword (string, required): The word or phrase we want to search for." in out
    assert "                  to (string, required)\n                  text (string, required)\n" in out


def test_tools_from_tool_file_are_marked_unbound(
    capsys: pytest.CaptureFixture[str], tools_yaml: Path
) -> None:
    code, out, err = run(capsys, "tools", "--tools", str(tools_yaml))
    assert code == 0, err
    assert out == "file_analytics  This tool performs various operations on a text file.  [unbound]\n"


def test_tools_json(capsys: pytest.CaptureFixture[str], tools_py: Path) -> None:
    code, out, _ = run(capsys, "tools", "--tools", str(tools_py), "--json")
    assert code == 0
    specs = json.loads(out)
    assert [s["function"]["name"] for s in specs] == ["file_analytics", "send_message"]
    assert all(s["type"] == "function" for s in specs)
    params = specs[0]["function"]["parameters"]
    assert params["properties"]["filters"]["properties"]["keyword"]["type"] == "string"


# ---------------------------------------------------------------------------------------- bad SPECs


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    "make_spec,fragments",
    [
        (lambda tmp: str(tmp / "missing.py"), ["Python file", "does not exist"]),
        (lambda tmp: str(tmp / "missing.yaml"), ["tool file", "does not exist"]),
        (lambda tmp: str(tmp / "missing.json"), ["tool file", "does not exist"]),
        (lambda tmp: "weird", ["cannot tell what 'weird' is"]),
        (lambda tmp: str(tmp / "tools.txt"), ["cannot tell what"]),
        (lambda tmp: "", ["--tools needs"]),
        (lambda tmp: "   ", ["--tools needs"]),
        (lambda tmp: "no_such_module_xyz:tools", ["cannot import module 'no_such_module_xyz'"]),
        (lambda tmp: "funcroute:nothing_here", ["has no attribute 'nothing_here'"]),
        (lambda tmp: "funcroute:__version__", ["is a str, not a ToolSet"]),
        (lambda tmp: "funcroute.parsing:", ["defines no ToolSet"]),
        (lambda tmp: write(tmp, "syntax.py", "def broken(:\n"), ["running", "SyntaxError"]),
        (
            lambda tmp: write(tmp, "raises.py", "raise RuntimeError('boom at import')\n"),
            ["RuntimeError", "boom"],
        ),
        (lambda tmp: write(tmp, "empty.py", "x = 1\n"), ["defines no ToolSet"]),
        (
            lambda tmp: write(tmp, "two.py", "from funcroute import ToolSet\na = ToolSet()\nb = ToolSet()\n"),
            ["several ToolSets (a, b)"],
        ),
        (
            lambda tmp: write(
                tmp,
                "baddef.py",
                "from funcroute import ToolSet\ntools = ToolSet()\n\n"
                "@tools.tool\ndef f(a, *rest):\n    pass\n",
            ),
            ["cannot make a tool of", "parameter 'a' has no type annotation", "*rest"],
        ),
        (lambda tmp: write(tmp, "broken.yaml", "x: [\n"), ["invalid tool spec", "broken.yaml"]),
        (lambda tmp: write(tmp, "wrong.yaml", "f:\n  description: 3\n  params: 7\n"), ["invalid tool spec"]),
        (lambda tmp: write(tmp, "broken.json", "{not json"), ["invalid tool spec"]),
    ],
)
def test_bad_specs_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, make_spec: object, fragments: list[str]
) -> None:
    spec = make_spec(tmp_path)  # type: ignore[operator]
    for argv in (
        ["tools", "--tools", spec],
        ["prompt", "--tools", spec, "hi"],
        ["validate", "--tools", spec, "-"],
    ):
        code, out, err = run(capsys, *argv)
        assert code == 2, (argv, err)
        assert out == ""
        assert err.startswith("funcroute: error: "), err
        assert "Traceback" not in err
        for fragment in fragments:
            assert fragment in err, f"{fragment!r} not in {err!r}"


def test_a_tools_script_that_exits_is_not_a_usage_error(tmp_path: Path) -> None:
    from funcroute.cli.loading import load_toolset

    spec = write(tmp_path, "exits.py", "import sys\nsys.exit(3)\n")
    with pytest.raises(SystemExit) as caught:
        load_toolset(spec)
    assert caught.value.code == 3
    with pytest.raises(SystemExit) as caught:  # the script asked for exit status 3: it gets it
        main(["tools", "--tools", spec])
    assert caught.value.code == 3


def test_ctrl_c_in_a_tools_script_exits_130(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from funcroute.cli.loading import load_toolset

    spec = write(tmp_path, "interrupted.py", "raise KeyboardInterrupt\n")
    with pytest.raises(KeyboardInterrupt):
        load_toolset(spec)
    code, out, err = run(capsys, "tools", "--tools", spec)
    assert (code, out) == (130, "") and err == "funcroute: interrupted\n"


@pytest.mark.parametrize("attribute", ["broken_factory", "failing_factory"])
def test_failing_factory_is_a_clean_usage_error(
    capsys: pytest.CaptureFixture[str], module_name: str, attribute: str
) -> None:
    code, out, err = run(capsys, "tools", "--tools", f"{module_name}:{attribute}")
    assert code == 2
    assert out == ""
    assert_clean_error(err, attribute)


def test_module_attribute_that_is_not_a_toolset(capsys: pytest.CaptureFixture[str], module_name: str) -> None:
    code, _, err = run(capsys, "tools", "--tools", f"{module_name}:not_a_toolset")
    assert code == 2
    assert_clean_error(err, "is a int, not a ToolSet")


def test_directory_named_like_a_python_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "pkg.py").mkdir()
    code, _, err = run(capsys, "tools", "--tools", str(tmp_path / "pkg.py"))
    assert code == 2
    assert_clean_error(err, "does not exist")


# ----------------------------------------------------------------------------------- argument errors


def test_no_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run(capsys)
    assert code == 2
    assert "usage: funcroute" in err
    assert "Traceback" not in err


def test_missing_tools_option(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "prompt", "hello")
    assert code == 2
    assert "--tools" in err


def test_bad_format_choice(capsys: pytest.CaptureFixture[str], tools_yaml: Path) -> None:
    code, _, err = run(capsys, "prompt", "--tools", str(tools_yaml), "hi", "--format", "xml")
    assert code == 2
    assert "invalid choice: 'xml'" in err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--version")
    assert code == 0
    assert out.strip() == f"funcroute {__version__}"


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for command in ("prompt", "validate", "tools", "demo"):
        assert command in out


# --------------------------------------------------------------------------------------------- demo


@pytest.mark.funcroute_real_backend  # the demo's offline semantic router: bundled, no download, no LLM
def test_demo_runs_and_says_no_model_was_called(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        "funcroute.backends.presets.preset_available", lambda name="smollm2": False
    )  # semantic only
    code, out, err = run(capsys, "demo")
    assert code == 0, err
    assert re.search(r"no (language )?(model|llm) (was|is) called", out, re.IGNORECASE), out[:400]
    assert "file_analytics" in out
    assert "Traceback" not in err
