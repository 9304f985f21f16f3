"""Safety controls against hostile model output: approval, allow/deny, dry runs, audit, time limits."""

from __future__ import annotations

import asyncio
import io
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from funcroute import ToolSet
from funcroute.backends.base import Request
from funcroute.backends.scripted import FunctionBackend, ScriptedBackend
from funcroute.cli import common
from funcroute.cli import main as cli
from funcroute.errors import (
    CallRefusedError,
    HandlerError,
    HandlerTimeoutError,
    ModelOutputError,
    UnknownFunctionError,
    UsageError,
)
from funcroute.routing.router import Router
from funcroute.tools import Call

DELETE = '{"function": "delete_files", "params": {"pattern": "*.log"}}'
WEATHER = '{"function": "get_weather", "params": {"city": "Paris"}}'


def make_tools(ran: list[str]) -> ToolSet:
    tools = ToolSet()

    @tools.tool(confirm=True)
    def delete_files(pattern: str) -> str:
        """Delete files matching a pattern."""
        ran.append(f"delete:{pattern}")
        return f"deleted {pattern}"

    @tools.tool
    def get_weather(city: str) -> str:
        """Get the weather for a city."""
        ran.append(f"weather:{city}")
        return f"sunny in {city}"

    @tools.tool
    def explode(reason: str) -> str:
        """Always fails."""
        ran.append("explode")
        raise RuntimeError(reason)

    return tools


class Approver:
    """An approval callback that records what it was asked and answers as told."""

    def __init__(self, answer: Any = True, raises: BaseException | None = None) -> None:
        self.answer = answer
        self.raises = raises
        self.asked: list[Call] = []

    def __call__(self, call: Call) -> Any:
        self.asked.append(call)
        if self.raises is not None:
            raise self.raises
        return self.answer


# --------------------------------------------------------------------------- confirm=True tools


def test_confirm_tool_without_approver_is_refused_and_never_runs() -> None:
    ran: list[str] = []
    tools = make_tools(ran)
    call = tools.parse(DELETE)
    with pytest.raises(CallRefusedError, match="requires approval") as info:
        tools.dispatch(call)
    assert info.value.call == call
    with pytest.raises(CallRefusedError):
        asyncio.run(tools.adispatch(call))
    with pytest.raises(CallRefusedError):  # a hand-built call is validated, then refused just the same
        tools.dispatch(Call("delete_files", {"pattern": "/"}))
    assert ran == []


@pytest.mark.parametrize("answer", [False, None, 1, "yes"])
def test_confirm_tool_refused_unless_approver_returns_true(answer: Any) -> None:
    ran: list[str] = []
    tools = make_tools(ran)
    approve = Approver(answer)
    with pytest.raises(CallRefusedError, match="not approved"):
        tools.dispatch(tools.parse(DELETE), approve=approve)
    with pytest.raises(CallRefusedError, match="not approved"):
        asyncio.run(tools.adispatch(tools.parse(DELETE), approve=approve))
    assert approve.asked == [Call("delete_files", {"pattern": "*.log"})] * 2
    assert ran == []


def test_confirm_tool_refused_when_approver_raises() -> None:
    ran: list[str] = []
    tools = make_tools(ran)
    oops = ValueError("approval service down")
    with pytest.raises(CallRefusedError, match="approval service down") as info:
        tools.dispatch(tools.parse(DELETE), approve=Approver(raises=oops))
    assert info.value.__cause__ is oops
    assert ran == []


def test_confirm_tool_runs_when_approved_and_others_skip_the_approver() -> None:
    ran: list[str] = []
    tools = make_tools(ran)
    approve = Approver(True)
    assert tools.dispatch(tools.parse(DELETE), approve=approve) == "deleted *.log"
    assert asyncio.run(tools.adispatch(tools.parse(DELETE), approve=approve)) == "deleted *.log"
    assert tools.dispatch(tools.parse(WEATHER), approve=approve) == "sunny in Paris"
    assert len(approve.asked) == 2  # only the confirm=True tool asks
    assert ran == ["delete:*.log", "delete:*.log", "weather:Paris"]


def test_router_approval_route_aroute_and_route_many() -> None:
    ran: list[str] = []
    tools = make_tools(ran)

    with pytest.raises(CallRefusedError) as info:
        Router(tools, ScriptedBackend([DELETE])).route("clean logs")
    assert info.value.call == Call("delete_files", {"pattern": "*.log"})
    assert len(info.value.attempts) == 1
    no = Approver(False)
    with pytest.raises(CallRefusedError):
        Router(tools, ScriptedBackend([DELETE]), approve=no).route("clean logs")
    with pytest.raises(CallRefusedError):
        asyncio.run(Router(tools, ScriptedBackend([DELETE]), approve=no).aroute("clean logs"))
    refused = Router(tools, ScriptedBackend([DELETE]), approve=no).route_many(["clean logs"])
    assert isinstance(refused[0].error, CallRefusedError) and not refused[0].dispatched
    assert len(no.asked) == 3 and ran == []

    yes = Approver(True)
    router = Router(tools, ScriptedBackend([DELETE], cycle=True), approve=yes)
    assert router.route("clean logs").value == "deleted *.log"
    assert asyncio.run(router.aroute("clean logs")).value == "deleted *.log"
    assert router.route_many(["clean logs"])[0].value == "deleted *.log"
    assert router.route("clean logs", dry_run=True).dispatched is False
    assert len(yes.asked) == 3  # a dry run asks nobody
    assert ran == ["delete:*.log"] * 3


# -------------------------------------------------------------------------------- allow / deny


def test_denied_tool_is_hidden_rejected_and_never_run() -> None:
    ran: list[str] = []
    tools = make_tools(ran)
    backend = ScriptedBackend([DELETE])
    router = Router(tools, backend, deny=["delete_files"], approve=Approver(True), max_retries=0)
    with pytest.raises(UnknownFunctionError) as info:
        router.route("delete all the logs")
    assert "delete_files" not in backend.prompts[0]
    assert "get_weather:" in backend.prompts[0] and "explode:" in backend.prompts[0]
    assert info.value.name == "delete_files"
    assert info.value.available == ["get_weather", "explode"]
    assert "delete_files" not in router.tools and "delete_files" in tools  # the ToolSet is untouched
    with pytest.raises(UnknownFunctionError):  # even when the router validates a hand-built call
        router.tools.dispatch(Call("delete_files", {"pattern": "*"}))
    assert ran == []


def test_denied_tool_is_repaired_to_an_allowed_one() -> None:
    ran: list[str] = []
    backend = ScriptedBackend([DELETE, WEATHER])
    result = Router(make_tools(ran), backend, allow=["get_weather"]).route("weather please")
    assert result.value == "sunny in Paris" and len(result.attempts) == 2
    assert "Available functions: get_weather" in backend.prompts[1]
    assert "delete_files:" not in backend.prompts[0] and "explode:" not in backend.prompts[0]
    assert ran == ["weather:Paris"]


def test_route_many_and_aroute_respect_deny() -> None:
    ran: list[str] = []
    router = Router(
        make_tools(ran), ScriptedBackend([DELETE], cycle=True), deny=["delete_files"], max_retries=1
    )
    results = router.route_many(["a", "b"])
    assert all(isinstance(r.error, UnknownFunctionError) for r in results)
    with pytest.raises(UnknownFunctionError):
        asyncio.run(router.aroute("c"))
    assert ran == []


@pytest.mark.parametrize(
    ("allow", "deny", "message"),
    [
        (["get_weather", "rm_rf"], None, "rm_rf"),
        (None, ["nope"], "nope"),
        (["get_weather"], ["Get_Weather"], "Get_Weather"),
        (["get_weather"], ["get_weather"], "no tools"),
        ([], None, "no tools"),
        (None, ["delete_files", "get_weather", "explode"], "no tools"),
    ],
)
def test_bad_allow_deny_lists_are_usage_errors(allow: Any, deny: Any, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        Router(make_tools([]), ScriptedBackend([]), allow=allow, deny=deny)


def test_repeated_names_in_allow_are_harmless() -> None:
    router = Router(
        make_tools([]), ScriptedBackend([WEATHER]), allow=["get_weather", "explode", "get_weather"]
    )
    assert router.tools.names == ["get_weather", "explode"]
    assert router.route("weather").value == "sunny in Paris"


def test_a_tool_selector_cannot_reexpose_a_denied_tool() -> None:
    ran: list[str] = []
    backend = ScriptedBackend([DELETE], cycle=True)
    router = Router(
        make_tools(ran),
        backend,
        deny=["delete_files"],
        approve=Approver(True),
        tool_selector=lambda command: ["delete_files", "get_weather"],
    )
    with pytest.raises(UsageError, match="delete_files"):
        router.route("delete the logs")
    results = router.route_many(["delete a", "delete b"])  # recorded per command, the batch goes on
    assert [type(r.error) for r in results] == [UsageError, UsageError]
    assert backend.requests == [] and ran == []


# ------------------------------------------------------------------------------------- dry runs


def test_dry_run_in_the_api_never_runs_anything() -> None:
    ran: list[str] = []
    explode = '{"function": "explode", "params": {"reason": "x"}}'
    router = Router(make_tools(ran), ScriptedBackend([DELETE, WEATHER, explode]))
    results = [router.route(c, dry_run=True) for c in ("a", "b", "c")]
    assert [r.call.function for r in results if r.call] == ["delete_files", "get_weather", "explode"]
    assert all(r.ok and not r.dispatched and r.value is None for r in results)
    assert ran == []


SPEC = '''
from pathlib import Path
from funcroute import ToolSet

MARKER = Path({marker!r})
tools = ToolSet()


@tools.tool
def delete_files(pattern: str) -> str:
    """Delete files matching a pattern."""
    with MARKER.open("a") as handle:
        handle.write(pattern + "\\n")
    return "deleted " + pattern
'''


@pytest.fixture
def spec(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    marker = tmp_path / "ran.txt"
    path = tmp_path / "my_tools.py"
    path.write_text(SPEC.format(marker=str(marker)), encoding="utf-8")
    yield path, marker


def fake_model(monkeypatch: pytest.MonkeyPatch, replies: list[str]) -> ScriptedBackend:
    backend = ScriptedBackend(replies, cycle=True)
    monkeypatch.setattr(common, "backend_from_args", lambda args: backend)
    return backend


def test_cli_route_dry_run_shows_but_never_runs(
    spec: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path, marker = spec
    backend = fake_model(monkeypatch, [DELETE])
    assert cli.main(["route", "delete the logs", "--tools", str(path), "--semantic-only", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert 'call:   delete_files({"pattern": "*.log"})' in out
    assert "result: (dry run: not executed)" in out
    assert (
        cli.main(["route", "delete the logs", "--tools", str(path), "--semantic-only", "--dry-run", "--json"])
        == 0
    )
    record = json.loads(capsys.readouterr().out)
    assert record["ok"] is True and record["dispatched"] is False and record["result"] is None
    assert record["call"] == {"function": "delete_files", "params": {"pattern": "*.log"}}
    assert not marker.exists()
    assert len(backend.requests) == 2

    # Without --dry-run the same command does run: the marker proves the dry runs were dry.
    assert cli.main(["route", "delete the logs", "--tools", str(path), "--semantic-only"]) == 0
    assert "result: deleted *.log" in capsys.readouterr().out
    assert marker.read_text() == "*.log\n"


def test_cli_batch_dry_run_never_runs(
    spec: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, marker = spec
    fake_model(monkeypatch, [DELETE])
    source = tmp_path / "in.jsonl"
    source.write_text("delete a\ndelete b\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    argv = ["batch", "--tools", str(path), "--in", str(source), "--out", str(out), "--dry-run"]
    assert cli.main(argv) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["line"], r["ok"], r["dispatched"]) for r in records] == [(1, True, False), (2, True, False)]
    assert not marker.exists()
    capsys.readouterr()


# ----------------------------------------------------------------------------------- audit log

AUDIT_KEYS = {"time", "command", "outcome", "replies", "call", "attempts"}


def read_lines(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    assert text == "" or text.endswith("\n")  # flushed whole lines only
    return [json.loads(line) for line in text.splitlines()]


def test_audit_log_appends_one_flushed_line_per_routed_command(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    ran: list[str] = []
    log = tmp_path / "audit.jsonl"
    log.write_text('{"earlier": "run"}\n', encoding="utf-8")  # appended to, never truncated
    replies = {
        "weather": WEATHER,
        "garbage": "no idea",
        "explode": '{"function": "explode", "params": {"reason": "kaput"}}',
        "delete": DELETE,
    }

    def reply(req: Request) -> str:
        return replies[(req.user_input or "").split()[0]]

    router = Router(make_tools(ran), FunctionBackend(reply), audit_log=log, max_retries=1)
    assert router.audit is not None
    request.addfinalizer(router.audit.close)
    steps: list[tuple[Callable[[], Any], str]] = [
        (lambda: router.route("weather in Paris"), "ok"),
        (lambda: router.route("garbage in"), "failed"),
        (lambda: router.route("explode now"), "failed"),
        (lambda: router.route("delete logs"), "refused"),
        (lambda: router.route("delete logs", dry_run=True), "dry_run"),
        (lambda: asyncio.run(router.aroute("weather async")), "ok"),
    ]
    for count, (step, expected) in enumerate(steps, start=1):
        try:
            step()
        except (ModelOutputError, HandlerError, CallRefusedError):
            pass
        lines = read_lines(log)[1:]  # read while the router (and its file) is still open
        assert len(lines) == count
        assert lines[-1]["outcome"] == expected
    router.route_many(["weather a", "garbage b", "explode c"])
    records = read_lines(log)
    assert records[0] == {"earlier": "run"}
    records = records[1:]
    assert len(records) == len(steps) + 3
    for record in records:
        assert AUDIT_KEYS <= set(record)
    by_outcome = [(r["command"], r["outcome"], r["attempts"]) for r in records]
    assert by_outcome[:6] == [
        ("weather in Paris", "ok", 1),
        ("garbage in", "failed", 2),
        ("explode now", "failed", 1),
        ("delete logs", "refused", 1),
        ("delete logs", "dry_run", 1),
        ("weather async", "ok", 1),
    ]
    # route_many writes each line as its command finishes: one-round commands before repaired ones.
    assert by_outcome[6:] == [("weather a", "ok", 1), ("explode c", "failed", 1), ("garbage b", "failed", 2)]
    ok, garbage, exploded, refused, dry, _, _, _, garbage_b = records
    assert ok["call"] == {"function": "get_weather", "params": {"city": "Paris"}}
    assert ok["replies"] == [WEATHER] and ok["dispatched"] is True and ok["result"] == "'sunny in Paris'"
    assert set(ok["timings"]) == {"generate_s", "parse_s", "dispatch_s", "total_s"}
    assert garbage["replies"] == ["no idea", "no idea"] and garbage["call"] is None
    assert garbage["error"]["type"] == "OutputParseError" == garbage_b["error"]["type"]
    assert exploded["error"]["type"] == "HandlerError" and "kaput" in exploded["error"]["message"]
    assert exploded["call"] == {"function": "explode", "params": {"reason": "kaput"}}
    assert refused["error"]["type"] == "CallRefusedError"
    assert refused["call"] == {"function": "delete_files", "params": {"pattern": "*.log"}}
    assert dry["dispatched"] is False and "result" not in dry
    assert ran == ["weather:Paris", "explode", "weather:Paris", "weather:Paris", "explode"]


def test_audit_records_timings_for_every_outcome(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """The README promises input, replies, call, outcome and timings on every line, failures included."""
    log = tmp_path / "audit.jsonl"
    tools = make_tools([])
    replies = ["nope", "nope", '{"function": "explode", "params": {"reason": "r"}}', DELETE]
    router = Router(tools, ScriptedBackend(replies), audit_log=log, max_retries=1)
    assert router.audit is not None
    request.addfinalizer(router.audit.close)
    for command in ("garbage", "explode", "delete"):
        with pytest.raises((ModelOutputError, HandlerError, CallRefusedError)):
            router.route(command)
    records = read_lines(log)
    assert [r["outcome"] for r in records] == ["failed", "failed", "refused"]
    missing = [r["command"] for r in records if "timings" not in r]
    assert missing == [], f"audit lines without timings: {missing}"
    for record in records:
        assert set(record["timings"]) == {"generate_s", "parse_s", "dispatch_s", "total_s"}


def test_audit_log_to_a_stream_from_many_threads() -> None:
    stream = io.StringIO()
    router = Router(make_tools([]), ScriptedBackend([WEATHER], cycle=True), audit_log=stream)

    def work(n: int) -> None:
        for i in range(25):
            router.route(f"weather {n}-{i}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 200
    commands = sorted(json.loads(line)["command"] for line in lines)  # no torn or interleaved lines
    assert commands == sorted(f"weather {n}-{i}" for n in range(8) for i in range(25))


# ----------------------------------------------------------------------------- handler time limits


def timed_tools(release: threading.Event) -> ToolSet:
    tools = ToolSet()

    @tools.tool(timeout=0.2)
    async def slow_async(seconds: float) -> str:
        """Sleeps."""
        await asyncio.sleep(seconds)
        return "done"

    @tools.tool(timeout=0.2)
    def slow_sync(seconds: float) -> str:
        """Blocks (until released by the test)."""
        release.wait(seconds)
        return "done"

    @tools.tool(timeout=2)
    def quick(n: int) -> int:
        """Fast, with a time limit it never reaches."""
        if n < 0:
            raise ValueError("negative")
        return n * 2

    return tools


def slow(name: str, seconds: float = 5) -> str:
    return json.dumps({"function": name, "params": {"seconds": seconds}})


@pytest.fixture
def release() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()  # let abandoned sync handlers finish


def test_async_handler_time_limit(release: threading.Event) -> None:
    router = Router(timed_tools(release), ScriptedBackend([slow("slow_async")], cycle=True))

    async def via_aroute() -> float:
        start = time.perf_counter()
        with pytest.raises(HandlerTimeoutError, match=r"'slow_async' did not finish within 0\.2 s") as info:
            await router.aroute("sleep")
        assert info.value.call == Call("slow_async", {"seconds": 5})
        return time.perf_counter() - start

    assert asyncio.run(via_aroute()) < 0.7
    start = time.perf_counter()
    with pytest.raises(HandlerTimeoutError, match="slow_async"):
        router.route("sleep")  # sync route of an async tool: asyncio.run, still bounded
    assert time.perf_counter() - start < 0.7


def test_sync_handler_time_limit_and_the_router_stays_usable(release: threading.Event) -> None:
    tools = timed_tools(release)
    replies = [slow("slow_sync"), '{"function": "quick", "params": {"n": 21}}']
    router = Router(tools, ScriptedBackend(replies, cycle=True))
    start = time.perf_counter()
    with pytest.raises(HandlerTimeoutError, match=r"'slow_sync' did not finish within 0\.2 s") as info:
        router.route("block")
    assert time.perf_counter() - start < 0.7
    assert info.value.call.function == "slow_sync"
    assert router.route("double 21").value == 42  # not blocked by the abandoned handler

    start = time.perf_counter()
    results = router.route_many(["block", "double", "block", "double"])
    assert time.perf_counter() - start < 1.5
    assert [type(r.error) for r in results] == [HandlerTimeoutError, type(None)] * 2
    assert [r.value for r in results] == [None, 42, None, 42]


def test_sync_handler_time_limit_bounds_asyncio_run(release: threading.Event) -> None:
    """``asyncio.run(router.aroute(...))`` must not wait for an abandoned sync handler at loop shutdown."""
    router = Router(timed_tools(release), ScriptedBackend([slow("slow_sync", 3)]))
    start = time.perf_counter()
    with pytest.raises(HandlerTimeoutError, match="slow_sync"):
        asyncio.run(router.aroute("block"))
    assert time.perf_counter() - start < 1.0


def test_sync_handler_time_limit_in_aroute(release: threading.Event) -> None:
    router = Router(timed_tools(release), ScriptedBackend([slow("slow_sync")]))

    async def main() -> float:
        start = time.perf_counter()
        with pytest.raises(HandlerTimeoutError, match="slow_sync"):
            await router.aroute("block")
        elapsed = time.perf_counter() - start
        release.set()  # asyncio.run joins the worker thread on exit
        return elapsed

    assert asyncio.run(main()) < 0.7


def test_timed_handlers_return_values_and_errors() -> None:
    tools = timed_tools(threading.Event())
    assert tools.dispatch(tools.parse('{"function": "quick", "params": {"n": 4}}')) == 8
    with pytest.raises(HandlerError, match="negative") as info:
        tools.dispatch(tools.parse('{"function": "quick", "params": {"n": -1}}'))
    assert not isinstance(info.value, HandlerTimeoutError)
    assert isinstance(info.value.__cause__, ValueError)
    assert asyncio.run(tools.adispatch(tools.parse(slow("slow_async", 0.01)))) == "done"


CONFIRM_SPEC = SPEC.replace("@tools.tool\n", "@tools.tool(confirm=True)\n")


def test_cli_confirm_tool_needs_yes_and_the_audit_log_records_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = tmp_path / "ran.txt"
    path = tmp_path / "confirm_tools.py"
    path.write_text(CONFIRM_SPEC.format(marker=str(marker)), encoding="utf-8")
    audit = tmp_path / "audit.jsonl"
    fake_model(monkeypatch, [DELETE])
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # not a terminal: nobody to ask
    argv = ["route", "delete the logs", "--tools", str(path), "--semantic-only", "--audit-log", str(audit)]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert "requires confirmation: pass --yes" in err
    assert not marker.exists()
    assert cli.main([*argv, "--yes"]) == 0
    assert marker.read_text() == "*.log\n"
    outcomes = [json.loads(line)["outcome"] for line in audit.read_text().splitlines()]
    assert outcomes == ["refused", "ok"]


def test_router_as_context_manager_closes_the_audit_file(tmp_path: Path) -> None:
    ran: list[str] = []
    with Router(make_tools(ran), ScriptedBackend([WEATHER]), audit_log=tmp_path / "a.jsonl") as router:
        router.route("weather")
        assert router.audit is not None
    assert router.audit._stream.closed
    assert len((tmp_path / "a.jsonl").read_text().splitlines()) == 1
