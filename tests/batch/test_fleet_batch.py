"""Streamed exactly-once batches over a fleet of loopback fake replicas: faults, kills, resume."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from funcroute import ToolSet
from funcroute.backends.base import Backend, Completion, Request
from funcroute.backends.fleet import FleetBackend
from funcroute.backends.scripted import FunctionBackend
from funcroute.batch.journal import LineSet, journal_path, recover_results
from funcroute.batch.stream import astream_batch, stream_batch
from funcroute.cli import common
from funcroute.cli import main as cli
from funcroute.errors import UsageError
from funcroute.routing.router import Router
from funcroute.testing.fleet import FakeReplica, FaultProxy

pytestmark = pytest.mark.funcroute_real_backend

SPEC = '''
"""Tools for the fleet batch tests: the handler logs each n it starts to $FLEET_RUNS."""

import os
import time

from funcroute import ToolSet

tools = ToolSet()
RUNS = os.environ.get("FLEET_RUNS")
DELAY = float(os.environ.get("FLEET_DELAY", "0"))


@tools.tool
def work(n: int) -> int:
    """Do some work on a number."""
    if RUNS:
        fd = os.open(RUNS, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        os.write(fd, f"{n}\\n".encode())
        os.close(fd)
    time.sleep(DELAY)
    return n * n
'''


def model(body: dict[str, Any]) -> str:
    """The fake model: reads the command's number back from the prompt."""
    numbers = re.findall(r"Input: work on (\d+)", body["prompt"])
    if not numbers:
        return "I cannot tell"
    if numbers[-1] == "13":
        raise RuntimeError("the model server crashed on this prompt")
    return json.dumps({"function": "work", "params": {"n": int(numbers[-1])}})


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "fleet_tools.py"
    path.write_text(SPEC, encoding="utf-8")
    return path


@pytest.fixture
def replicas() -> Iterator[list[FakeReplica]]:
    servers = [FakeReplica(model, latency=0.02) for _ in range(3)]
    for server in servers:
        server.start()
    try:
        yield servers
    finally:
        for server in servers:
            server.stop()


def write_input(path: Path, numbers: range) -> Path:
    path.write_text("".join(f'{{"input": "work on {n}"}}\n' for n in numbers), encoding="utf-8")
    return path


def read_records(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def runs_of(path: Path) -> list[int]:
    return [int(x) for x in path.read_text().split()] if path.exists() else []


SCRIPT = ("drop", "garbage", "503", "stall", "429", "500")


def test_cli_batch_over_three_replicas_one_behind_a_fault_proxy(
    spec: Path,
    tmp_path: Path,
    replicas: list[FakeReplica],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    runs = tmp_path / "runs.txt"
    monkeypatch.setenv("FLEET_RUNS", str(runs))
    proxy = FaultProxy(replicas[2].url, stall_s=30.0, retry_after=0.3)
    proxy.start()
    proxy.inject(*SCRIPT)
    try:
        source = write_input(tmp_path / "in.jsonl", range(1, 61))
        out = tmp_path / "out.jsonl"
        argv = ["batch", "--tools", str(spec), "--in", str(source), "--out", str(out)]
        argv += ["--endpoint", replicas[0].url, "--endpoint", replicas[1].url, "--endpoint", proxy.url]
        argv += ["--model-name", "fake", "--timeout", "1", "--max-in-flight", "3"]
        argv += ["--progress-interval", "0.1", "--no-fsync"]
        code = cli.main(argv)
    finally:
        proxy.close()
    captured = capsys.readouterr()
    records = read_records(out)
    by_line = {r["line"]: r for r in records}
    assert len(records) == len(by_line) == 60
    failed = {line for line, r in by_line.items() if not r["ok"]}
    assert failed == {13}  # the model server fails on that prompt on every replica
    assert code == 1
    assert "failed on every replica (3" in by_line[13]["error"]["message"]
    assert by_line[13]["error"]["type"] == "BackendError"
    assert all(by_line[n]["result"] == n * n for n in by_line if n != 13)
    assert sorted(runs_of(runs)) == [n for n in range(1, 61) if n != 13]  # each handler ran once
    consumed = [fault for _, fault in proxy.log if fault != "pass"]
    assert consumed == list(SCRIPT[: len(consumed)]) and len(consumed) >= 4, proxy.log
    hard = sum(fault in ("drop", "garbage", "stall", "500") for fault in consumed)
    assert not journal_path(out).exists()  # every dispatched line has its result: journal removed
    summary = json.loads(captured.out.strip().splitlines()[-1])["summary"]
    assert (summary["total"], summary["ok"], summary["failed"]) == (60, 59, 1)
    assert [r["url"] for r in summary["replicas"]] == [replicas[0].url, replicas[1].url, proxy.url]
    assert summary["replicas"][2]["throttled"] == sum(fault in ("503", "429") for fault in consumed)
    assert summary["replicas"][2]["failed"] >= hard
    assert "60 commands: 59 ok, 1 failed, 0 already done" in captured.err
    progress = [line for line in captured.err.splitlines() if line.startswith("funcroute batch:")]
    assert progress, captured.err
    assert "in flight" in progress[-1] and replicas[0].url in progress[-1]


def test_a_replica_killed_mid_run_and_restarted(
    spec: Path, tmp_path: Path, replicas: list[FakeReplica], monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = tmp_path / "runs.txt"
    monkeypatch.setenv("FLEET_RUNS", str(runs))
    from funcroute.cli.loading import load_toolset

    tools = load_toolset(str(spec))
    for replica in replicas:
        replica.latency = 0.06
    fleet = FleetBackend([r.url for r in replicas], "fake", backoff=0.05, max_backoff=0.2, max_in_flight=2)
    source = write_input(tmp_path / "in.jsonl", range(100, 220))
    out = tmp_path / "out.jsonl"
    victim = replicas[1]
    events: dict[str, int] = {}

    def killer() -> None:
        deadline = time.monotonic() + 20
        while (not out.exists() or out.read_bytes().count(b"\n") < 20) and time.monotonic() < deadline:
            time.sleep(0.01)
        events["in_flight_at_kill"] = victim.in_flight
        victim.stop()
        time.sleep(0.3)
        events["served_before_restart"] = victim.served
        victim.start()

    thread = threading.Thread(target=killer)
    thread.start()
    try:
        summary = stream_batch(Router(tools, fleet), source, out, fsync=False)
    finally:
        thread.join()
        fleet.close()
    records = read_records(out)
    assert sorted(r["line"] for r in records) == list(range(1, 121))
    assert all(r["ok"] for r in records) and summary.ok == 120
    assert sorted(runs_of(runs)) == list(range(100, 220))
    stats = {r["url"]: r for r in summary.replicas}
    assert stats[victim.url]["failed"] >= 1
    assert victim.served > events["served_before_restart"], "the restarted replica was probed back in"


def test_sigkill_the_client_then_resume_never_runs_a_handler_twice(
    spec: Path, tmp_path: Path, replicas: list[FakeReplica]
) -> None:
    runs = tmp_path / "runs.txt"
    env = {**os.environ, "FLEET_RUNS": str(runs), "FLEET_DELAY": "0.15"}
    source = write_input(tmp_path / "in.jsonl", range(200, 280))
    out = tmp_path / "out.jsonl"
    entry = "import sys; from funcroute.cli.main import main; sys.exit(main())"
    argv = [sys.executable, "-c", entry, "batch", "--tools", str(spec), "--in", str(source)]
    argv += ["--out", str(out), "--model-name", "fake", "--max-in-flight", "4"]
    for replica in replicas:
        argv += ["--endpoint", replica.url]

    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            if out.exists() and out.read_bytes().count(b"\n") >= 12:
                break
            assert process.poll() is None, process.communicate()
            time.sleep(0.005)
        else:
            pytest.fail("the batch wrote fewer than 12 lines in 60 s")
        replicas[0].stop()  # both die: a replica, and (right after) the client
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.communicate()
    before = out.read_bytes()
    done_before = before.count(b"\n")
    assert 0 < done_before < 80
    journaled = {json.loads(line)["line"] for line in journal_path(out).read_bytes().splitlines()}
    ran_before = Counter(runs_of(runs))

    # resumed with that replica still down: its connections are refused, the others serve
    resumed = subprocess.run([*argv, "--resume"], env=env, capture_output=True, text=True, timeout=120)
    assert resumed.returncode in (0, 1), resumed.stderr
    records = read_records(out)
    lines = [r["line"] for r in records]
    assert sorted(lines) == list(range(1, 81)), "exactly one record per input line"
    interrupted = {r["line"] for r in records if (r.get("error") or {}).get("type") == "DispatchInterrupted"}
    assert interrupted, "the kill should have caught some handlers mid-run"
    assert interrupted <= journaled
    for record in records:
        if record["line"] in interrupted:
            assert record["dispatched"] is None and record["call"]["params"]["n"] == record["line"] + 199
        else:
            assert record["ok"] and record["result"] == (record["line"] + 199) ** 2
    ran = Counter(runs_of(runs))
    assert max(ran.values()) == 1, "no handler ran twice"
    assert set(ran) == {n for n in range(200, 280) if n - 199 not in interrupted} | set(ran_before)
    summary = json.loads(resumed.stdout.strip().splitlines()[-1])["summary"]
    assert summary["interrupted"] == len(interrupted)
    assert summary["skipped"] == done_before
    assert f"{len(interrupted)} interrupted by an earlier run" in resumed.stderr
    assert not journal_path(out).exists()
    down = summary["replicas"][0]
    assert down["url"] == replicas[0].url and down["ok"] == 0 and down["failed"] >= 1


def _tools() -> ToolSet:
    tools = ToolSet()
    ran: list[int] = []

    @tools.tool
    def work(n: int) -> int:
        """Do some work on a number."""
        ran.append(n)
        return n * n

    tools.ran = ran  # type: ignore[attr-defined]
    return tools


def _reply(request: Any) -> str:
    n = int((request.user_input or "0").split()[-1])
    return json.dumps({"function": "work", "params": {"n": n}})


def test_resume_records_journaled_lines_as_interrupted_and_runs_the_rest(tmp_path: Path) -> None:
    source = write_input(tmp_path / "in.jsonl", range(1, 7))
    out = tmp_path / "out.jsonl"
    out.write_text(
        '{"line": 1, "input": "work on 1", "ok": true}\n{"line": 2, "input": "work on 2", "ok": true}\n'
        '{"line": 3, "inp',
        encoding="utf-8",
    )
    journal_path(out).write_text(
        '{"line": 2, "input": "work on 2", "call": {"function": "work", "params": {"n": 2}}}\n'
        '{"line": 3, "input": "work on 3", "call": {"function": "work", "params": {"n": 3}}}\n'
        '{"line": 5, "input": "work on 50", "call": {"function": "work", "params": {"n": 5}}}\n'
        '{"line": 4, "inp',  # torn: that dispatch never started
        encoding="utf-8",
    )
    tools = _tools()
    summary = stream_batch(Router(tools, FunctionBackend(_reply)), source, out, resume=True)
    records = {r["line"]: r for r in read_records(out)}
    assert sorted(records) == [1, 2, 3, 4, 5, 6]
    assert sorted(tools.ran) == [4, 6]  # type: ignore[attr-defined]
    for line in (3, 5):
        assert records[line]["error"]["type"] == "DispatchInterrupted"
        assert records[line]["call"] == {"function": "work", "params": {"n": line}}
    assert "input line's text differs" in records[5]["error"]["message"]
    assert (summary.total, summary.skipped, summary.ok, summary.failed, summary.interrupted) == (
        6,
        2,
        2,
        2,
        2,
    )
    assert not journal_path(out).exists()


def test_refuses_to_clobber_output_or_a_stale_journal(tmp_path: Path) -> None:
    source = write_input(tmp_path / "in.jsonl", range(1, 3))
    router = Router(_tools(), FunctionBackend(_reply))
    out = tmp_path / "out.jsonl"
    journal_path(out).write_text("", encoding="utf-8")
    with pytest.raises(UsageError, match="journal"):
        stream_batch(router, source, out)
    out.write_text("precious\n", encoding="utf-8")
    with pytest.raises(UsageError, match="--resume"):
        stream_batch(router, source, out)
    assert out.read_text(encoding="utf-8") == "precious\n"


def test_dry_run_journals_nothing_and_runs_no_handler(tmp_path: Path) -> None:
    source = write_input(tmp_path / "in.jsonl", range(1, 5))
    out = tmp_path / "out.jsonl"
    tools = _tools()
    summary = stream_batch(Router(tools, FunctionBackend(_reply)), source, out, dry_run=True)
    assert summary.ok == 4 and tools.ran == []  # type: ignore[attr-defined]
    assert all(r["call"] and not r["dispatched"] for r in read_records(out))


def test_async_api_and_input_errors(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text('work on 1\n{"input": ""}\n{broken\n\nwork on 2\n', encoding="utf-8")
    out = tmp_path / "out.jsonl"
    summary = asyncio.run(
        astream_batch(Router(_tools(), FunctionBackend(_reply)), source, out, concurrency=2)
    )
    records = {r["line"]: r for r in read_records(out)}
    assert sorted(records) == [1, 2, 3, 5]
    assert records[2]["error"]["type"] == records[3]["error"]["type"] == "InputError"
    assert (summary.ok, summary.failed) == (2, 2)

    async def inside_a_loop() -> None:
        with pytest.raises(UsageError, match="astream_batch"):
            stream_batch(Router(_tools(), FunctionBackend(_reply)), source, tmp_path / "other.jsonl")

    asyncio.run(inside_a_loop())


def test_memory_does_not_grow_with_the_input(tmp_path: Path) -> None:
    def peak(lines: int) -> int:
        source = write_input(tmp_path / f"in{lines}.jsonl", range(1, lines + 1))
        out = tmp_path / f"out{lines}.jsonl"
        router = Router(_tools_without_log(), _Forgetful())  # FunctionBackend keeps every request
        tracemalloc.start()
        try:
            stream_batch(router, source, out, fsync=False, concurrency=8)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = peak(300), peak(1500)
    assert large < small * 1.5 + 64 * 1024, (small, large)  # 5x the lines, about the same memory


class _Forgetful(Backend):
    def complete(self, request: Request) -> Completion:
        return Completion(_reply(request))


def _tools_without_log() -> ToolSet:
    tools = ToolSet()

    @tools.tool
    def work(n: int) -> int:
        """Do some work on a number."""
        return n * n

    return tools


def test_lineset_and_torn_tail_recovery(tmp_path: Path) -> None:
    lines = LineSet()
    for n in (1, 7, 8, 1000, 7):
        lines.add(n)
    assert len(lines) == 4 and 1000 in lines and 999 not in lines and -1 not in lines and "x" not in lines
    out = tmp_path / "out.jsonl"
    big = "x" * 200_000  # longer than one backwards-read block
    out.write_text(
        f'{{"line": 1}}\n{{"line": 2, "pad": "{big}"}}\n{{"line": 3, "pad": "{big}', encoding="utf-8"
    )
    done = recover_results(out)
    assert 2 in done and 3 not in done and len(done) == 2
    assert out.read_bytes().endswith(b'"}\n')
    torn_only = tmp_path / "torn.jsonl"
    torn_only.write_text('{"line": 1, "inp', encoding="utf-8")
    assert len(recover_results(torn_only)) == 0 and torn_only.read_bytes() == b""


def test_cli_flags_build_a_fleet_and_reject_bad_values(spec: Path, tmp_path: Path) -> None:
    parser = cli.build_parser()
    urls = ["--endpoint", "http://127.0.0.1:1", "--endpoint", "http://127.0.0.1:2", "--model-name", "m"]
    args = parser.parse_args(["route", "x", "--tools", str(spec), *urls])
    backend = common.backend_from_args(args)
    try:
        assert isinstance(backend, FleetBackend) and len(backend.stats()) == 2
    finally:
        backend.close()
    one = parser.parse_args(
        ["route", "x", "--tools", str(spec), *urls[4:], "--endpoint", "http://127.0.0.1:1"]
    )
    single = common.backend_from_args(one)
    assert type(single).__name__ == "OpenAIBackend"
    single.close()
    source = write_input(tmp_path / "in.jsonl", range(1, 3))
    out = tmp_path / "out.jsonl"
    base = ["batch", "--tools", str(spec), "--in", str(source), "--out", str(out), *urls]
    assert cli.main([*base, "--max-in-flight", "0"]) == 2
    assert cli.main([*base, "--progress-interval", "-1"]) == 2
    assert cli.main([*base[:-2]]) == 2  # --endpoint without --model-name
    assert not out.exists()
    unwritable = [
        "batch",
        "--tools",
        str(spec),
        "--in",
        str(source),
        "--out",
        str(tmp_path / "no" / "o.jsonl"),
    ]
    assert cli.main([*unwritable, *urls]) == 1  # a clear error, not a traceback
