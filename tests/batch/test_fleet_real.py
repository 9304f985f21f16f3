"""``funcroute batch`` over three real ``llama_cpp.server`` replicas (tiny model), one behind a fault proxy.

A replica is killed mid-run and restarted on its port; the client is SIGKILLed mid-run and resumed.
The results file is checked for count, uniqueness and order-independence, and the handler's own
log proves no input was run twice. Everything listens on 127.0.0.1; every process is shut down.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from funcroute.batch.journal import journal_path
from funcroute.testing.fleet import FaultProxy
from llama_servers import wait_until_serving  # tests/ is on sys.path (rootdir conftest)

pytestmark = [
    pytest.mark.funcroute_real_backend,
    pytest.mark.skipif(
        not all(
            importlib.util.find_spec(name) is not None
            for name in ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context")
        ),
        reason='llama-cpp-python[server] is not installed (pip install "funcroute-llm[llamacpp]")',
    ),
]

SPEC = '''
"""The fleet test's tool: logs each n it starts to $FLEET_RUNS (one line, one O_APPEND write)."""

import os
import time

from funcroute import ToolSet

tools = ToolSet()


@tools.tool
def work(n: int) -> int:
    """Do some work on a number."""
    fd = os.open(os.environ["FLEET_RUNS"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    os.write(fd, f"{n}\\n".encode())
    os.close(fd)
    time.sleep(float(os.environ.get("FLEET_DELAY", "0")))
    return n % 1000
'''


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LlamaServer:
    """One ``python -m llama_cpp.server`` process on a fixed loopback port, restartable."""

    def __init__(self, model: pathlib.Path, log: pathlib.Path) -> None:
        self.model, self.log, self.port = model, log, free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [
            sys.executable, "-m", "llama_cpp.server", "--model", str(self.model), "--host", "127.0.0.1",
            "--port", str(self.port), "--n_ctx", "1024", "--n_threads", "1", "--n_threads_batch", "1",
        ]  # fmt: skip
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 90.0) -> None:
        assert self.proc is not None
        wait_until_serving(self.proc, self.url, self.log, timeout)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def fleet(
    tiny_model_dir: pathlib.Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[list[LlamaServer], FaultProxy]]:
    from funcroute.testing.gguf import convert_to_gguf

    workdir = tmp_path_factory.mktemp("fleet")
    model = convert_to_gguf(tiny_model_dir, workdir / "tiny.gguf")
    servers = [LlamaServer(model, workdir / f"server{i}.log") for i in range(3)]
    proxy = FaultProxy(servers[2].url, stall_s=30.0, retry_after=0.5)
    try:
        for server in servers:
            server.start()
        for server in servers:
            server.wait_ready()
        proxy.start()
        yield servers, proxy
    finally:
        proxy.close()
        for server in servers:
            server.kill()


def batch_argv(spec: pathlib.Path, source: pathlib.Path, out: pathlib.Path, urls: list[str]) -> list[str]:
    entry = "import sys; from funcroute.cli.main import main; sys.exit(main())"
    argv = [
        sys.executable,
        "-c",
        entry,
        "batch",
        "--tools",
        str(spec),
        "--in",
        str(source),
        "--out",
        str(out),
    ]
    for url in urls:
        argv += ["--endpoint", url]
    argv += ["--model-name", "tiny", "--constrained", "--max-retries", "0", "--max-new-tokens", "96"]
    return [*argv, "--timeout", "4", "--max-in-flight", "2", "--progress-interval", "0.5"]


def check_results(out: pathlib.Path, lines: int, runs: pathlib.Path) -> list[dict[str, Any]]:
    """One record per input line; the handler ran once per dispatched record, never more."""
    text = out.read_text(encoding="utf-8")
    assert text.endswith("\n")
    records = [json.loads(line) for line in text.splitlines()]
    assert sorted(r["line"] for r in records) == list(range(1, lines + 1)), "exactly one record per line"
    assert {r["input"] for r in records} == {f"work on item {n}" for n in range(1, lines + 1)}
    ran = Counter(int(x) for x in runs.read_text().split()) if runs.exists() else Counter()
    surely = Counter(r["call"]["params"]["n"] for r in records if r.get("dispatched") is True)
    maybe = Counter(
        r["call"]["params"]["n"]
        for r in records
        if (r.get("error") or {}).get("type") == "DispatchInterrupted"
    )
    # every handler that returned ran once; an interrupted one ran at most once; nothing else ran
    assert surely <= ran <= surely + maybe, (ran, surely, maybe)
    return records


def test_replica_faults_and_a_replica_killed_and_restarted(
    fleet: tuple[list[LlamaServer], FaultProxy], tmp_path: pathlib.Path
) -> None:
    servers, proxy = fleet
    spec = tmp_path / "tools.py"
    spec.write_text(SPEC, encoding="utf-8")
    lines = 40
    source = tmp_path / "in.jsonl"
    source.write_text("".join(f"work on item {n}\n" for n in range(1, lines + 1)), encoding="utf-8")
    out, runs = tmp_path / "out.jsonl", tmp_path / "runs.txt"
    proxy.inject("drop", "garbage", "503", "stall", "500", default="pass")
    env = {**os.environ, "FLEET_RUNS": str(runs), "FLEET_DELAY": "0.1"}
    urls = [servers[0].url, servers[1].url, proxy.url]
    process = subprocess.Popen(
        batch_argv(spec, source, out, urls), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    victim = servers[1]
    try:
        deadline = time.monotonic() + 120
        while not out.exists() or out.read_bytes().count(b"\n") < 5:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no progress"
            time.sleep(0.01)
        victim.kill()  # mid-run: its in-flight requests must be retried elsewhere
        restart = threading.Thread(target=lambda: (time.sleep(0.5), victim.start(), victim.wait_ready()))
        restart.start()
        stdout, stderr = process.communicate(timeout=240)
        restart.join()
    finally:
        process.kill()
    assert process.returncode in (0, 1), stderr
    records = check_results(out, lines, runs)
    summary = json.loads(stdout.decode().strip().splitlines()[-1])["summary"]
    assert summary["total"] == lines and summary["ok"] + summary["failed"] == lines
    assert summary["ok"] >= lines - 2, [r.get("error") for r in records if not r["ok"]]
    stats = {r["url"]: r for r in summary["replicas"]}
    assert stats[victim.url]["failed"] >= 1 or stats[victim.url]["state"] != "up"
    consumed = [fault for _, fault in proxy.log if fault != "pass"]
    assert consumed and consumed == ["drop", "garbage", "503", "stall", "500"][: len(consumed)]
    assert "funcroute batch:" in stderr.decode() and "replicas:" in stderr.decode()
    print(
        f"\n[fleet-real] {summary['ok']} ok / {lines}, faults served by the proxy: {consumed}, "
        f"killed replica: {stats[victim.url]}"
    )
    with httpx.Client(trust_env=False) as client:  # the restarted replica serves again
        assert client.get(f"{victim.url}/v1/models").status_code == 200


def test_client_sigkill_then_resume(
    fleet: tuple[list[LlamaServer], FaultProxy], tmp_path: pathlib.Path
) -> None:
    servers, proxy = fleet
    for server in servers:
        if server.proc is None or server.proc.poll() is not None:
            server.start()
        server.wait_ready()
    proxy.inject("503", "drop", default="pass")
    spec = tmp_path / "tools.py"
    spec.write_text(SPEC, encoding="utf-8")
    lines = 40
    source = tmp_path / "in.jsonl"
    source.write_text(
        "".join(f'{{"input": "work on item {n}"}}\n' for n in range(1, lines + 1)), encoding="utf-8"
    )
    out, runs = tmp_path / "out.jsonl", tmp_path / "runs.txt"
    env = {**os.environ, "FLEET_RUNS": str(runs), "FLEET_DELAY": "0.3"}
    argv = batch_argv(spec, source, out, [servers[0].url, servers[1].url, proxy.url])
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not out.exists() or out.read_bytes().count(b"\n") < 8:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no progress"
            time.sleep(0.005)
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.communicate()
    done_before = out.read_bytes().count(b"\n")
    assert 0 < done_before < lines
    assert journal_path(out).exists()
    resumed = subprocess.run([*argv, "--resume"], env=env, capture_output=True, text=True, timeout=240)
    assert resumed.returncode in (0, 1), resumed.stderr
    records = check_results(out, lines, runs)
    summary = json.loads(resumed.stdout.strip().splitlines()[-1])["summary"]
    assert summary["skipped"] == done_before
    assert summary["ok"] + summary["failed"] + summary["skipped"] == lines
    interrupted = [r for r in records if (r.get("error") or {}).get("type") == "DispatchInterrupted"]
    assert summary["interrupted"] == len(interrupted)
    assert not journal_path(out).exists()
    print(
        f"\n[fleet-real] SIGKILL after {done_before} results; resume: {summary['ok']} ok, "
        f"{summary['failed']} failed ({len(interrupted)} interrupted while dispatched, not re-run)"
    )
