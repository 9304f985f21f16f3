"""funcroute.mcp.tools_from_mcp against servers we did not write: the SDK's own MCPServer, over stdio,
and with hostile tool lists; routing a command through a Router and dispatching back over MCP."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mcp")

import mcp_types as types
from mcp.server import Server

from funcroute import ToolSet
from funcroute.backends.scripted import ScriptedBackend
from funcroute.errors import (
    CallRefusedError,
    CallValidationError,
    HandlerError,
    HandlerTimeoutError,
    ToolDefinitionError,
    ToolSpecError,
    UsageError,
)
from funcroute.mcp import (
    ImportLimits,
    MCPCallError,
    MCPConnectionError,
    MCPToolSet,
    mcp_server,
    tools_from_mcp,
)
from funcroute.routing.router import Router

HERE = Path(__file__).resolve().parents[1] / "mcp_servers"
SDK_SERVER = [sys.executable, str(HERE / "sdk_server.py")]
SRC = str(Path(__file__).resolve().parents[2] / "src")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    return env


@pytest.fixture(scope="module")
def weather() -> Any:
    with tools_from_mcp(SDK_SERVER, timeout=30) as tools:
        yield tools


def _reply(function: str, **params: Any) -> str:
    return json.dumps({"function": function, "params": params})


# ------------------------------------------------------------------------------- stdio, SDK server


def test_imports_the_sdk_servers_tools_with_their_schemas(weather: MCPToolSet) -> None:
    assert isinstance(weather, MCPToolSet)
    assert set(weather.names) >= {"get_weather", "add", "shout", "delete_file", "fail", "crash", "wait"}
    assert weather.skipped == []
    tool = weather["get_weather"]
    assert tool.description == "Get the current weather for a location."
    # The SDK's schema uses $defs/$ref for the nested model: inlined, so prompts and grammars see it.
    location = tool.schema["properties"]["location"]
    assert location["properties"]["city"]["description"] == "The city name, e.g. Paris"
    assert "$ref" not in str(tool.schema)
    assert tool.schema["properties"]["unit"]["enum"] == ["celsius", "fahrenheit"]
    assert "location:" in weather.prompt("weather in Paris")
    # Explicit destructive annotations mean confirm; tools without annotations do not.
    assert weather["delete_file"].confirm is True
    assert weather["get_weather"].confirm is False


def test_router_routes_a_command_and_dispatches_back_over_mcp(weather: MCPToolSet) -> None:
    backend = ScriptedBackend([_reply("get_weather", location={"city": "Paris"}, unit="celsius")])
    result = Router(weather, backend).route("What's the weather in Paris?")
    assert result.call is not None and result.call.function == "get_weather"
    assert result.value == {"city": "Paris", "country": "FR", "temperature": 21, "unit": "celsius"}
    assert "get_weather:" in backend.prompts[0]


def test_sync_and_async_dispatch_reach_sync_and_async_server_tools(weather: MCPToolSet) -> None:
    # add is async on the server, shout is sync; dispatch here is sync and async.
    assert weather.dispatch(weather.validate("add", {"a": 2, "b": 3})) == 5  # {"result": 5} unwrapped
    assert weather.dispatch(weather.validate("shout", {"text": "hi"})) == "HI"

    async def both() -> list[Any]:
        router = Router(weather, ScriptedBackend([_reply("add", a=40, b=2)]))
        routed = await router.aroute("add 40 and 2")
        direct = await weather.adispatch(weather.validate("shout", {"text": "async"}))
        together = await asyncio.gather(
            *(weather.adispatch(weather.validate("add", {"a": i, "b": i})) for i in range(8))
        )
        return [routed.value, direct, together]

    assert asyncio.run(both()) == [42, "ASYNC", [2 * i for i in range(8)]]
    # Many threads share the one connection.
    with ThreadPoolExecutor(8) as pool:
        sums = list(
            pool.map(lambda i: weather.dispatch(weather.validate("add", {"a": i, "b": 1})), range(32))
        )
    assert sums == [i + 1 for i in range(32)]


def test_bad_arguments_are_refused_locally_and_tool_errors_come_back(weather: MCPToolSet) -> None:
    with pytest.raises(CallValidationError) as bad:
        weather.validate("add", {"a": "two", "b": 3})
    assert [p.path for p in bad.value.problems] == ["a"]
    with pytest.raises(HandlerError) as failed:
        weather.dispatch(weather.validate("fail", {"reason": "disk on fire"}))
    assert isinstance(failed.value.__cause__, MCPCallError)
    assert "disk on fire" in str(failed.value)


def test_a_destructive_tool_needs_approval_before_it_goes_over_mcp(weather: MCPToolSet) -> None:
    call = weather.validate("delete_file", {"path": "notes.txt"})
    with pytest.raises(CallRefusedError):
        weather.dispatch(call)
    asked: list[str] = []
    assert weather.dispatch(call, approve=lambda c: asked.append(c.function) or True) == "deleted notes.txt"
    assert asked == ["delete_file"]


def test_prefix_include_and_confirm_overrides() -> None:
    server = mcp_server(ToolSet([_tool_a, _tool_b]))
    with tools_from_mcp(server, prefix="remote_", include=["_tool_a"], confirm=True) as tools:
        assert tools.names == ["remote__tool_a"]
        assert tools["remote__tool_a"].confirm is True
        assert tools.dispatch(tools.validate("remote__tool_a", {"x": 2}), approve=lambda c: True) == 4
        assert tools.dispatch(tools.validate("remote__tool_a", {"x": 2}), approve=lambda c: True) == 4
    with tools_from_mcp(server, confirm=["_tool_b"]) as tools:
        assert [t.confirm for t in tools] == [False, True]
    with pytest.raises(ToolSpecError, match="no tool named 'missing'"):
        tools_from_mcp(server, include=["missing"])


def _tool_a(x: int) -> int:
    """Double x."""
    return 2 * x


def _tool_b(y: str) -> str:
    """Echo y."""
    return y


def test_colliding_names_across_servers_need_a_prefix() -> None:
    first = tools_from_mcp(mcp_server(ToolSet([_tool_a])))
    second = tools_from_mcp(mcp_server(ToolSet([_tool_a])))
    second_prefixed = tools_from_mcp(mcp_server(ToolSet([_tool_a])), prefix="other_")
    try:
        merged = ToolSet(list(first))
        with pytest.raises(ToolDefinitionError, match="already registered"):
            merged.add(next(iter(second)))
        merged.add(next(iter(second_prefixed)))
        assert merged.names == ["_tool_a", "other__tool_a"]
        assert merged.dispatch(merged.validate("other__tool_a", {"x": 5})) == 10
    finally:
        for tools in (first, second, second_prefixed):
            tools.close()


# ---------------------------------------------------------------------------------------- hostile


def _hostile_server(tools: list[types.Tool], page_size: int = 1000) -> Server[Any]:
    async def list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        start = int(params.cursor) if params is not None and params.cursor else 0
        end = start + page_size
        return types.ListToolsResult(
            tools=tools[start:end], next_cursor=str(end) if end < len(tools) else None
        )

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        text = f"{params.name} got {params.arguments}"
        return types.CallToolResult(content=[types.TextContent(text=text)])

    return Server("hostile", on_list_tools=list_tools, on_call_tool=call_tool)


def _remote(name: str, schema: dict[str, Any], description: str = "A tool.") -> types.Tool:
    return types.Tool(name=name, description=description, input_schema=schema)


def test_hostile_tool_lists_are_skipped_tool_by_tool_with_reasons(tmp_path: Path) -> None:
    loop = {
        "type": "object",
        "properties": {"node": {"$ref": "#/$defs/Node"}},
        "$defs": {"Node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/Node"}}}},
    }
    many = {f"p{i}": {"type": "string", "description": "x" * 100} for i in range(5000)}
    huge = {"type": "object", "properties": many}
    ok = {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}
    deep: dict[str, Any] = {"type": "string"}
    for _ in range(60):
        deep = {"type": "object", "properties": {"x": deep}}

    def tool(name: str, schema: dict[str, Any], description: str = "A tool.") -> dict[str, Any]:
        return {"name": name, "description": description, "inputSchema": schema}

    listed = [
        tool("good", ok, "x" * 10_000),
        tool("looped", loop),
        tool("huge", huge),
        tool("good", ok),  # a second tool with the same name
        tool("1 bad name", ok),
        tool("deep", deep),
        tool("bad_schema", {"type": "object", "properties": {"a": {"type": 12}}}),
    ]
    spec = tmp_path / "tools.json"
    spec.write_text(json.dumps(listed))
    raw = [sys.executable, str(HERE / "raw_server.py"), str(spec)]
    with tools_from_mcp(raw) as tools:
        assert tools.names == ["good"]
        assert len(tools["good"].description) == ImportLimits().max_description_chars
        reasons = {s.name: s.reason for s in tools.skipped}
        assert set(reasons) == {"looped", "huge", "good", "1 bad name", "bad_schema", "deep"}
        assert "recursive" in reasons["looped"]
        assert "byte limit" in reasons["huge"]
        assert "more than one tool" in reasons["good"]
        assert "not a valid name" in reasons["1 bad name"]
        assert "nests 121 levels deep" in reasons["deep"]
        assert reasons.get("bad_schema")
        assert tools.dispatch(tools.validate("good", {"q": "hello"})) == 'good got {"q": "hello"}'
    with pytest.raises(ToolSpecError) as strict:
        tools_from_mcp(raw, strict=True)
    assert len(strict.value.problems) == 6
    # A listing that breaks the MCP schema itself is refused whole by the SDK: a clear error.
    spec.write_text(json.dumps([*listed, tool("not_object", {"type": "array"})]))
    with pytest.raises(MCPConnectionError, match=r"breaks the MCP schema: tools\.7\.inputSchema\.type"):
        tools_from_mcp(raw)


def test_a_thousand_tools_over_several_pages() -> None:
    schema = {"type": "object", "properties": {"value": {"type": "integer"}}, "required": ["value"]}
    remote = [_remote(f"tool_{i}", schema, f"Tool number {i}.") for i in range(1000)]
    with tools_from_mcp(_hostile_server(remote, page_size=150)) as tools:
        assert len(tools) == 1000
        assert tools.names[-1] == "tool_999"
        assert tools.dispatch(tools.validate("tool_999", {"value": 7})) == "tool_999 got {'value': 7}"
        backend = ScriptedBackend([_reply("tool_512", value=1)])
        assert Router(tools, backend).route("run tool 512 on 1").value == "tool_512 got {'value': 1}"
    with pytest.raises(MCPConnectionError, match="more than 999 tools"):
        tools_from_mcp(_hostile_server(remote), import_limits=ImportLimits(max_tools=999))


def test_a_server_whose_cursor_never_ends_is_bounded() -> None:
    schema = {"type": "object", "properties": {}}

    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[_remote("same", schema)], next_cursor="again")

    async def call_tool(ctx: Any, params: Any) -> types.CallToolResult:
        return types.CallToolResult(content=[])

    endless = Server("endless", on_list_tools=list_tools, on_call_tool=call_tool)
    with pytest.raises(MCPConnectionError, match="more than 5 pages"):
        tools_from_mcp(endless, import_limits=ImportLimits(max_pages=5))


def test_a_slow_tool_times_out_and_the_connection_keeps_working() -> None:
    with tools_from_mcp(SDK_SERVER, timeout=1) as tools:
        with pytest.raises(HandlerTimeoutError, match=r"did not finish within 1"):
            tools.dispatch(tools.validate("wait", {"seconds": 30}))

        async def slow() -> Any:
            return await tools.adispatch(tools.validate("block", {"seconds": 30}))

        with pytest.raises(HandlerTimeoutError):
            asyncio.run(slow())
        assert tools.dispatch(tools.validate("add", {"a": 1, "b": 1})) == 2


def test_a_server_that_dies_mid_call_fails_fast_and_its_process_is_gone() -> None:
    tools = tools_from_mcp(SDK_SERVER, timeout=120)
    pid = tools.dispatch(tools.validate("pid", {}))
    with pytest.raises(HandlerError) as died:
        tools.dispatch(tools.validate("crash", {}))
    # Not a timeout: the dead connection is noticed at once, well before the 120 s limit.
    assert not isinstance(died.value, HandlerTimeoutError)
    assert isinstance(died.value.__cause__, MCPCallError)
    with pytest.raises(HandlerError, match=r"Connection closed|closed"):
        tools.dispatch(tools.validate("add", {"a": 1, "b": 1}))
    tools.close()
    _wait_gone(pid)


def test_closing_stops_the_server_process() -> None:
    tools = tools_from_mcp(SDK_SERVER)
    pid = tools.dispatch(tools.validate("pid", {}))
    os.kill(pid, 0)  # running
    tools.close()
    tools.close()  # idempotent
    _wait_gone(pid)
    assert not tools.connection._runtime.thread.is_alive()  # type: ignore[union-attr]
    with pytest.raises(HandlerError, match="closed"):
        tools.dispatch(tools.validate("add", {"a": 1, "b": 1}))


def test_a_toolset_nobody_holds_stops_its_server_process() -> None:
    tools = tools_from_mcp(SDK_SERVER)
    pid = tools.dispatch(tools.validate("pid", {}))
    del tools
    gc.collect()
    _wait_gone(pid)


def _wait_gone(pid: int) -> None:
    for _ in range(200):  # a bounded wait for the OS to reap it, not a timing assertion
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"MCP server process {pid} still running after close()")


def test_a_server_that_never_answers_is_bounded_by_the_connect_timeout(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    code = f"import os, sys, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\ntime.sleep(600)"
    before = {t for t in threading.enumerate() if t.name.startswith("funcroute-mcp")}
    with pytest.raises(MCPConnectionError, match="did not finish the MCP handshake in time"):
        tools_from_mcp([sys.executable, "-c", code], connect_timeout=1)
    _wait_gone(int(pid_file.read_text()))  # the silent process was stopped, not left behind
    after = {t for t in threading.enumerate() if t.name.startswith("funcroute-mcp")}
    assert after <= before  # and its thread ended too


def test_unreachable_servers_are_clear_errors() -> None:
    with pytest.raises(MCPConnectionError, match="cannot connect"):
        tools_from_mcp(["/nonexistent/mcp-server-binary"], connect_timeout=10)
    with pytest.raises(MCPConnectionError, match="cannot connect"):
        tools_from_mcp(f"http://127.0.0.1:{_free_port()}/mcp", connect_timeout=10)
    with pytest.raises(UsageError, match="an MCP server is"):
        tools_from_mcp(12345)
    with pytest.raises(UsageError, match="empty"):
        tools_from_mcp([])


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ------------------------------------------------------------------------------------ round trip


def test_round_trip_through_funcroute_mcp_serve(tmp_path: Path) -> None:
    served = HERE / "served_tools.py"
    command = [sys.executable, "-c", "import sys; from funcroute.cli.main import main; sys.exit(main())"]
    command += ["mcp", "serve", "--tools", str(served), "--yes"]
    env = _env() | {"SERVED_TOOLS_LOG": str(tmp_path / "log.txt")}
    from funcroute.cli.loading import load_toolset

    original = load_toolset(str(served))
    with tools_from_mcp(command, env=env) as tools:
        assert tools.names == original.names
        assert tools["file_analytics"].schema == original["file_analytics"].schema
        assert tools["file_analytics"].description == original["file_analytics"].description
        assert tools["delete_file"].confirm is True  # funcroute's own mark survives the trip
        assert tools.prompt("count Python") == original.prompt("count Python")
        backend = ScriptedBackend(
            [_reply("file_analytics", action="count_occurrences", filters={"keyword": "Python"})]
        )
        result = Router(tools, backend).route("How many times is Python mentioned?")
        assert result.value == {"action": "count_occurrences", "keyword": "Python", "count": 3}
        assert tools.dispatch(tools.validate("convert", {"amount": 3})) == "6.00 EUR"
        assert (
            tools.dispatch(tools.validate("delete_file", {"path": "a"}), approve=lambda c: True)
            == "deleted a"
        )
    assert (tmp_path / "log.txt").read_text() == "deleted a\n"


def test_cli_tool_specs_can_name_an_mcp_server(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from funcroute.cli.main import main

    spec = f"mcp:{sys.executable} {HERE / 'sdk_server.py'}"
    assert main(["tools", "--tools", spec]) == 0
    assert "get_weather" in capsys.readouterr().out
    reply = tmp_path / "reply.txt"
    reply.write_text(_reply("add", a=1, b="two"))
    assert main(["validate", "--tools", spec, str(reply)]) == 1
    assert "b: 'two' is not of type 'integer'" in capsys.readouterr().err
    assert main(["tools", "--tools", "mcp: "]) == 2


def test_without_the_sdk_the_error_names_the_extra(capsys: pytest.CaptureFixture[str]) -> None:
    from funcroute.cli.main import main

    saved = {
        name: module for name, module in sys.modules.items() if name.startswith(("funcroute.mcp", "mcp"))
    }
    try:
        for name in saved:
            del sys.modules[name]
        sys.modules["mcp"] = None  # type: ignore[assignment]  # "import mcp" now fails as if not installed
        from funcroute.cli.loading import load_toolset

        with pytest.raises(UsageError, match=r'pip install "funcroute-llm\[mcp\]"'):
            load_toolset("mcp:http://127.0.0.1:1/mcp")
        assert main(["mcp", "serve", "--tools", str(HERE / "served_tools.py")]) == 2
        assert 'pip install "funcroute-llm[mcp]"' in capsys.readouterr().err
    finally:
        for name in [n for n in sys.modules if n.startswith(("funcroute.mcp", "mcp"))]:
            del sys.modules[name]
        sys.modules.update(saved)


def test_a_real_model_under_the_grammar_routes_to_mcp_tools(weather: MCPToolSet, tiny_backend: Any) -> None:
    # The tiny random Llama writes gibberish, but constrained decoding makes every reply a valid call
    # of one of the allowed tools, which then runs on the MCP server.
    router = Router(
        weather, tiny_backend, allow=["get_weather", "add", "shout"], constrained=True, max_new_tokens=96
    )
    for command in ("What's the weather in Paris?", "add 2 and 3", "shout hello"):
        result = router.route(command)
        assert result.call is not None and result.attempts[-1].error is None
        arguments = result.call.arguments
        if result.call.function == "add":
            assert result.value == arguments["a"] + arguments["b"]
        elif result.call.function == "shout":
            assert result.value == arguments["text"].upper()
        else:
            assert result.value["city"] == arguments["location"]["city"]
            assert result.value["unit"] == arguments.get("unit", "celsius")
