"""`funcroute mcp serve` against the official SDK's own client: stdio and streamable HTTP, schemas,
confirm marks, errors as MCP tool errors, and approval of confirm=True tools (elicitation, --yes)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mcp")

import mcp_types as types
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError

from funcroute import ToolSet
from funcroute.cli.loading import load_toolset
from funcroute.cli.main import main
from funcroute.errors import UsageError
from funcroute.mcp import mcp_server, tools_from_mcp
from funcroute.mcp._convert import call_result

HERE = Path(__file__).resolve().parents[1] / "mcp_servers"
SERVED = HERE / "served_tools.py"
SRC = str(Path(__file__).resolve().parents[2] / "src")
CLI = [sys.executable, "-c", "import sys; from funcroute.cli.main import main; sys.exit(main())"]


def _env(log: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    env["SERVED_TOOLS_LOG"] = str(log)
    return env


def _stdio(log: Path, *flags: str) -> StdioServerParameters:
    args = [*CLI[1:], "mcp", "serve", "--tools", str(SERVED), *flags]
    return StdioServerParameters(command=CLI[0], args=args, env=_env(log))


def _session(target: Any, body: Callable[[Client], Awaitable[Any]], **options: Any) -> Any:
    async def go() -> Any:
        async with Client(target, read_timeout_seconds=30, **options) as client:
            return await body(client)

    return asyncio.run(go())


def _text(result: types.CallToolResult) -> str:
    return "\n".join(b.text for b in result.content if isinstance(b, types.TextContent))


async def _accept(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
    return types.ElicitResult(action="accept", content={"approve": True})


async def _say_no(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
    return types.ElicitResult(action="accept", content={"approve": False})


async def _decline(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
    return types.ElicitResult(action="decline")


# -------------------------------------------------------------------------------------------- stdio


def test_sdk_client_over_stdio_lists_and_calls_tools(tmp_path: Path) -> None:
    log = tmp_path / "log.txt"

    async def body(client: Client) -> dict[str, Any]:
        listed = (await client.list_tools()).tools
        calls = {
            "analytics": await client.call_tool(
                "file_analytics", {"action": "count_occurrences", "filters": {"keyword": "Python"}}
            ),
            "bad": await client.call_tool("file_analytics", {"action": "shred", "filters": {}}),
            "unknown": await client.call_tool("no_such_tool", {}),
            "convert": await client.call_tool("convert", {"amount": 4.5, "currency": "JPY"}),
            "explode": await client.call_tool("explode", {"message": "boom"}),
            "delete": await client.call_tool("delete_file", {"path": "notes.txt"}),
        }
        return {"tools": listed, **calls}

    got = _session(_stdio(log), body)
    tools = {t.name: t for t in got["tools"]}
    original = load_toolset(str(SERVED))
    assert list(tools) == original.names
    analytics = tools["file_analytics"]
    assert analytics.description == "This tool performs various operations on a text file."
    assert analytics.input_schema == {"type": "object", **original["file_analytics"].schema}
    keyword = analytics.input_schema["properties"]["filters"]["properties"]["keyword"]
    assert keyword["description"] == "The word or phrase we want to search for."
    assert (
        tools["convert"].input_schema["properties"]["currency"]["description"] == "The target currency code."
    )
    # confirm=True is marked for generic clients (annotations) and exactly (_meta).
    delete = tools["delete_file"]
    assert delete.annotations is not None and delete.annotations.destructive_hint is True
    assert delete.annotations.read_only_hint is False
    assert delete.meta == {"funcroute/confirm": True}
    assert tools["convert"].annotations is None and tools["convert"].meta is None

    assert got["analytics"].is_error is False
    assert got["analytics"].structured_content == {
        "action": "count_occurrences",
        "keyword": "Python",
        "count": 3,
    }
    assert got["convert"].structured_content == {"result": "9.00 JPY"}  # wrapped: str return annotation
    assert _text(got["convert"]) == "9.00 JPY"
    bad = _text(got["bad"])
    assert got["bad"].is_error is True and "action" in bad and "filters.keyword: Field required" in bad
    assert got["unknown"].is_error is True and "unknown tool 'no_such_tool'" in _text(got["unknown"])
    assert got["explode"].is_error is True and "boom" in _text(got["explode"])
    # No elicitation support in this client, no --yes: refused, and the handler never ran.
    assert got["delete"].is_error is True
    assert "requires approval" in _text(got["delete"]) and "--yes" in _text(got["delete"])
    assert not log.exists()


def test_yes_approves_confirm_tools_over_stdio(tmp_path: Path) -> None:
    log = tmp_path / "log.txt"
    result = _session(_stdio(log, "--yes"), lambda c: c.call_tool("delete_file", {"path": "a.txt"}))
    assert result.is_error is False and _text(result) == "deleted a.txt"
    assert log.read_text() == "deleted a.txt\n"


# ---------------------------------------------------------------------------------- streamable HTTP


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    for _ in range(600):  # bounded wait for the server to start (not a timing assertion)
        if process.poll() is not None:
            raise AssertionError(
                f"server exited early: {process.stderr.read().decode() if process.stderr else ''}"
            )
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError("the server did not start listening")


def test_streamable_http_with_elicitation_and_clean_ctrl_c(tmp_path: Path) -> None:
    log = tmp_path / "log.txt"
    port = _free_port()
    command = [*CLI, "mcp", "serve", "--tools", str(SERVED), "--transport", "http", "--port", str(port)]
    process = subprocess.Popen(command, env=_env(log), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    try:
        _wait_listening(port, process)
        url = f"http://127.0.0.1:{port}/mcp"

        async def body(client: Client) -> list[Any]:
            names = [t.name for t in (await client.list_tools()).tools]
            ok = await client.call_tool("convert", {"amount": 1})
            bad = await client.call_tool("convert", {"amount": "lots"})
            approved = await client.call_tool("delete_file", {"path": "b.txt"})
            return [names, ok, bad, approved]

        names, ok, bad, approved = _session(url, body, elicitation_callback=_accept)
        assert names == load_toolset(str(SERVED)).names
        assert _text(ok) == "2.00 EUR"
        assert bad.is_error is True and "amount" in _text(bad)
        assert approved.is_error is False and log.read_text() == "deleted b.txt\n"

        declined = _session(
            url, lambda c: c.call_tool("delete_file", {"path": "c.txt"}), elicitation_callback=_decline
        )
        assert declined.is_error is True and "declined" in _text(declined)
        assert log.read_text() == "deleted b.txt\n"

        # tools_from_mcp over HTTP against the same server: funcroute on both ends.
        with tools_from_mcp(url) as remote:
            assert remote["delete_file"].confirm is True
            assert remote.dispatch(remote.validate("convert", {"amount": 2})) == "4.00 EUR"
    finally:
        process.send_signal(signal.SIGINT)  # Ctrl-C
        try:
            returncode = process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise
        if process.stderr is not None:
            process.stderr.close()
    assert returncode == 0


# ------------------------------------------------------------------------- approval, in-process


def _served() -> tuple[ToolSet, list[str]]:
    ran: list[str] = []
    tools = ToolSet()

    @tools.tool(confirm=True)
    def wipe(disk: str) -> str:
        """Wipe a disk."""
        ran.append(disk)
        return f"wiped {disk}"

    @tools.tool
    def count(n: int) -> int:
        """Count to n."""
        return n

    return tools, ran


@pytest.mark.parametrize("mode", ["auto", "legacy"])  # 2026-07-28 input rounds, and elicitation/create
@pytest.mark.parametrize(
    ("answer", "runs"), [(_accept, True), (_say_no, False), (_decline, False), (None, False)]
)
def test_confirm_tools_run_only_when_the_user_approves(mode: str, answer: Any, runs: bool) -> None:
    tools, ran = _served()
    server = mcp_server(tools)
    result = _session(
        server, lambda c: c.call_tool("wipe", {"disk": "sda"}), mode=mode, elicitation_callback=answer
    )
    assert ran == (["sda"] if runs else [])
    assert result.is_error is (not runs)
    if runs:
        assert _text(result) == "wiped sda"
    else:
        assert "was not run: it requires approval" in _text(result)


def test_an_approval_cannot_be_forged_or_replayed_for_other_arguments() -> None:
    tools, ran = _served()
    server = mcp_server(tools)
    yes = {"funcroute_approval": types.ElicitResult(action="accept", content={"approve": True})}

    async def body(client: Client) -> list[types.CallToolResult]:
        forged = await client.call_tool("wipe", {"disk": "sda"}, input_responses=yes, request_state="made-up")
        asked: list[str] = []

        async def remember(context: Any, params: Any) -> types.ElicitResult:
            asked.append(params.message)
            return types.ElicitResult(action="accept", content={"approve": True})

        assert client.session is not None
        first = await client.session.call_tool("wipe", {"disk": "sdb"}, allow_input_required=True)
        assert isinstance(first, types.InputRequiredResult) and first.request_state
        replayed = await client.call_tool(
            "wipe", {"disk": "sdc"}, input_responses=yes, request_state=first.request_state
        )
        honest = await client.call_tool(
            "wipe", {"disk": "sdb"}, input_responses=yes, request_state=first.request_state
        )
        return [forged, replayed, honest]

    forged, replayed, honest = _session(server, body, elicitation_callback=_accept)
    assert forged.is_error and "not given for this tool and these arguments" in _text(forged)
    assert replayed.is_error and "not given for this tool and these arguments" in _text(replayed)
    assert honest.is_error is False
    assert ran == ["sdb"]


def test_approval_policies_yes_refuse_and_callable() -> None:
    for approve, runs in (
        ("yes", True),
        ("refuse", False),
        (lambda call: call.arguments["disk"] == "ok", True),
    ):
        tools, ran = _served()
        result = _session(
            mcp_server(tools, approve=approve),
            lambda c: c.call_tool("wipe", {"disk": "ok"}),
            elicitation_callback=_accept,  # ignored: the policy decides
        )
        assert result.is_error is (not runs) and ran == (["ok"] if runs else [])
    tools, ran = _served()
    result = _session(
        mcp_server(tools, approve=lambda call: 1 / 0), lambda c: c.call_tool("wipe", {"disk": "x"})
    )
    assert result.is_error and "ZeroDivisionError" in _text(result) and ran == []
    with pytest.raises(UsageError, match="approve must be"):
        mcp_server(tools, approve="maybe")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------- hostile


def test_a_thousand_tools_are_paged_and_a_bad_cursor_is_an_error() -> None:
    def echo(value: int) -> int:
        return value

    tools = ToolSet()
    for i in range(1000):
        tools.add_function(echo, name=f"tool_{i}", description=f"Tool {i}.")
    server = mcp_server(tools, page_size=300)

    async def body(client: Client) -> tuple[list[str], int]:
        names: list[str] = []
        cursor = None
        pages = 0
        while True:
            page = await client.list_tools(cursor=cursor)
            names += [t.name for t in page.tools]
            pages += 1
            cursor = page.next_cursor
            if cursor is None:
                break
        for bad in ("not-a-number", "²", "9" * 5000, "1001"):
            with pytest.raises(MCPError, match="invalid tools/list cursor"):
                await client.list_tools(cursor=bad)
        return names, pages

    names, pages = _session(server, body)
    assert names == tools.names and pages == 4


def test_hostile_arguments_are_tool_errors_not_crashes() -> None:
    tools, _ = _served()
    server = mcp_server(tools, approve="yes")
    deep: Any = 1
    for _ in range(100):
        deep = {"x": deep}

    async def body(client: Client) -> list[types.CallToolResult]:
        return [
            await client.call_tool("count", {"n": deep}),
            await client.call_tool("count", {"n": 1, "extra": 2}),
            await client.call_tool("count", {}),
            await client.call_tool("x" * 5000, {}),
            await client.call_tool("count", {"n": 1, **{f"extra_{i}": "x" * 100 for i in range(5000)}}),
        ]

    results = _session(server, body)
    unbound = ToolSet.from_openai(
        [{"name": "remote_only", "parameters": {"type": "object", "properties": {}}}]
    )
    results.append(_session(mcp_server(unbound), lambda c: c.call_tool("remote_only", {})))
    assert all(r.is_error for r in results)
    assert "has no handler" in _text(results[5])
    assert "nesting deeper than 32 levels" in _text(results[0])
    assert "extra: unexpected parameter" in _text(results[1])
    assert "n: Field required" in _text(results[2])
    assert len(_text(results[3])) < 1000
    assert _text(results[4]).startswith("invalid arguments for 'count' (5000 problems)")
    assert len(_text(results[4])) < 5000 and "more characters" in _text(results[4])


# --------------------------------------------------------------------------------- results and CLI


def test_call_results_of_every_kind() -> None:
    from pydantic import BaseModel

    class Point(BaseModel):
        x: int
        y: int

    assert _text(call_result("plain")) == "plain" and call_result("plain").structured_content is None
    assert call_result({"a": 1}).structured_content == {"a": 1}
    assert json.loads(_text(call_result(Point(x=1, y=2)))) == {"x": 1, "y": 2}
    assert call_result([1, 2], wrapped=True, check=lambda v: True).structured_content == {"result": [1, 2]}
    assert call_result(5, wrapped=True, check=lambda v: False).structured_content is None  # lying annotation
    assert call_result(None).content == []
    assert _text(call_result(object())).startswith("<object object")
    assert _text(call_result(float("nan"))) == "nan"


def test_cli_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mcp", "serve", "--tools", str(SERVED), "--yes", "--no-elicit"]) == 2
    assert "not both" in capsys.readouterr().err
    assert main(["mcp", "serve", "--tools", str(SERVED), "--transport", "http", "--port", "0"]) == 2
    assert main(["mcp", "serve", "--tools", "missing.yaml"]) == 2
    assert main(["mcp", "serve", "--tools", str(SERVED), "--path", "mcp"]) == 2
    assert main(["mcp"]) == 2


def test_cli_mcp_tools_lists_a_remote_server(capsys: pytest.CaptureFixture[str]) -> None:
    sdk = str(HERE / "sdk_server.py")
    assert main(["mcp", "tools", sys.executable, sdk]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^get_weather +Get the current weather for a location\.$", out, re.M)
    assert re.search(r"^delete_file +Delete a file \(only pretends to\)\.  \[confirm\]$", out, re.M)
    assert main(["mcp", "tools", f"http://127.0.0.1:{_free_port()}/mcp", "--timeout", "5"]) == 1
    assert "cannot connect" in capsys.readouterr().err
