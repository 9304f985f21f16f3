"""``funcroute batch``: one record per input line, failures recorded, and crash-safe --resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from funcroute.backends.base import Completion, Request
from funcroute.backends.scripted import FunctionBackend
from funcroute.cli import common
from funcroute.cli import main as cli

SPEC = '''
"""A user's tool file for the batch tests: one tool, plus a fake model installed on import."""

import json
import os
import time

import funcroute.cli.main
from funcroute import ToolSet
from funcroute.backends.scripted import FunctionBackend

tools = ToolSet()
RUNS = os.environ.get("BATCH_TEST_RUNS")  # the handler appends each n it runs to this file
DELAY = float(os.environ.get("BATCH_TEST_DELAY", "0"))


@tools.tool
def work(n: int) -> int:
    """Do some work on a number."""
    if n == 13:
        raise RuntimeError("unlucky")
    time.sleep(DELAY)
    if RUNS:
        with open(RUNS, "a") as handle:
            handle.write(f"{n}\\n")
    return n * n


def reply(request):
    words = (request.user_input or "").split()
    if words[0] == "garbage":
        return "no idea, sorry"
    return json.dumps({"function": "work", "params": {"n": int(words[-1])}})


if os.environ.get("BATCH_TEST_FAKE_MODEL"):
    funcroute.cli.common.backend_from_args = lambda args: FunctionBackend(reply)
'''


@pytest.fixture
def spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "batch_tools.py"
    path.write_text(SPEC, encoding="utf-8")
    monkeypatch.setattr(common, "backend_from_args", lambda args: FunctionBackend(_reply))
    return path


def _reply(request: Request) -> str:
    words = (request.user_input or "").split()
    if words[0] == "garbage":
        return "no idea, sorry"
    return json.dumps({"function": "work", "params": {"n": int(words[-1])}})


def read_records(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def batch(spec: Path, source: Path, out: Path, *extra: str) -> int:
    return cli.main(["batch", "--tools", str(spec), "--in", str(source), "--out", str(out), *extra])


def test_one_record_per_input_line_with_line_numbers(
    spec: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(
        '{"input": "work on 1"}\n'
        '"work on 2"\n'
        "\n"
        "work on 3\n"
        '{"command": "work on 4", "id": "x"}\n'
        "   \n"
        "work on 5",  # no trailing newline
        encoding="utf-8",
    )
    out = tmp_path / "out.jsonl"
    assert batch(spec, source, out, "--batch-size", "2") == 0
    records = read_records(out)
    assert [r["line"] for r in records] == [1, 2, 4, 5, 7]
    assert [r["input"] for r in records] == [f"work on {n}" for n in range(1, 6)]
    assert all(r["ok"] and r["dispatched"] for r in records)
    assert [r["result"] for r in records] == [1, 4, 9, 16, 25]
    assert records[0]["call"] == {"function": "work", "params": {"n": 1}}
    assert records[0]["attempts"] == 1
    assert records[0]["replies"] == ['{"function": "work", "params": {"n": 1}}']
    assert set(records[0]["timings"]) == {"generate_s", "parse_s", "dispatch_s", "total_s"}
    assert "5 commands: 5 ok, 0 failed, 0 already done" in capsys.readouterr().err


def test_invalid_input_lines_and_failures_are_recorded_and_the_run_continues(
    spec: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.jsonl"
    lines = [
        "work on 1",
        '{"input": ""}',
        "{not json",
        '{"input": ["work on 9"]}',
        '{"other": "field"}',
        "garbage in",
        "work on 13",
        '{"input": 7}',
        "work on 2",
    ]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert batch(spec, source, out, "--batch-size", "3", "--max-retries", "1") == 1
    records = {r["line"]: r for r in read_records(out)}
    assert sorted(records) == list(range(1, 10))
    assert [records[n]["ok"] for n in range(1, 10)] == [n in (1, 9) for n in range(1, 10)]
    for n in (2, 3, 4, 5, 8):
        assert records[n]["error"]["type"] == "InputError", records[n]
    assert records[3]["error"]["message"] == "line is not valid JSON"
    assert records[4]["error"]["message"] == 'expected an object with a non-empty "input" string'
    assert records[6]["error"]["type"] == "OutputParseError"
    assert records[6]["attempts"] == 2 and records[6]["replies"] == ["no idea, sorry"] * 2
    assert records[7]["error"]["type"] == "HandlerError" and "unlucky" in records[7]["error"]["message"]
    assert records[7]["call"] == {"function": "work", "params": {"n": 13}}
    assert records[7]["dispatched"] is True  # the handler ran, and raised
    assert records[7]["result"] is None and records[6]["dispatched"] is False
    assert set(records[7]) == set(records[1]) == set(records[3])  # one record shape for every outcome
    assert (records[1]["result"], records[9]["result"]) == (1, 4)
    assert "9 commands: 2 ok, 7 failed, 0 already done" in capsys.readouterr().err


def test_a_backend_failure_fails_its_chunk_only(
    spec: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class Flaky(FunctionBackend):
        def complete_many(self, requests: Sequence[Request]) -> list[Completion]:
            replies = super().complete_many(requests)
            if any(r.user_input == "work on 4" for r in requests):
                return replies[:-1]  # breaks the backend contract for this chunk
            return replies

    monkeypatch.setattr(common, "backend_from_args", lambda args: Flaky(_reply))
    source = tmp_path / "in.jsonl"
    source.write_text("".join(f"work on {n}\n" for n in range(1, 8)), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert batch(spec, source, out, "--batch-size", "3") == 1
    records = read_records(out)
    assert sorted(r["line"] for r in records) == list(range(1, 8))
    assert [r["ok"] for r in sorted(records, key=lambda r: r["line"])] == [True] * 3 + [False] * 3 + [True]
    assert {r["error"]["type"] for r in records if not r["ok"]} == {"BackendError"}
    capsys.readouterr()


def test_existing_out_without_resume_is_a_usage_error(
    spec: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("work on 1\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    out.write_text("precious\n", encoding="utf-8")
    assert batch(spec, source, out) == 2
    assert "--resume" in capsys.readouterr().err
    assert out.read_text(encoding="utf-8") == "precious\n"


def test_resume_skips_done_lines_and_drops_a_torn_last_line(
    spec: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("".join(f"work on {n}\n" for n in range(1, 11)), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert batch(spec, source, out) == 0
    full = out.read_text(encoding="utf-8").splitlines(keepends=True)
    out.write_text("".join(full[:4]) + full[4][:17], encoding="utf-8")  # 4 whole lines + a torn one
    assert batch(spec, source, out, "--resume") == 0
    records = read_records(out)
    assert [r["line"] for r in records] == list(range(1, 11))
    assert "10 commands: 6 ok, 0 failed, 4 already done" in capsys.readouterr().err
    assert batch(spec, source, out, "--resume") == 0  # nothing left to do
    assert read_records(out) == records
    assert "10 commands: 0 ok, 0 failed, 10 already done" in capsys.readouterr().err


def test_resume_without_an_existing_out_starts_fresh(
    spec: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("work on 3\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert batch(spec, source, out, "--resume") == 0
    assert [r["result"] for r in read_records(out)] == [9]
    capsys.readouterr()


# --------------------------------------------------------------------------- crash and resume

COMMANDS = 60


def test_sigkill_mid_run_then_resume_loses_and_duplicates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "batch_tools.py"
    spec.write_text(SPEC, encoding="utf-8")
    source = tmp_path / "in.jsonl"
    source.write_text("".join(f'{{"input": "work on {n}"}}\n' for n in range(COMMANDS)), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    runs = tmp_path / "runs.txt"
    env = {
        **os.environ,
        "BATCH_TEST_FAKE_MODEL": "1",
        "BATCH_TEST_RUNS": str(runs),
        "BATCH_TEST_DELAY": "0.02",
    }
    # What the ``funcroute`` console script runs (``-m funcroute.cli.main`` would load the CLI as __main__,
    # out of reach of the monkeypatch in the tool file).
    entry = "import sys; from funcroute.cli.main import main; sys.exit(main())"
    argv = [sys.executable, "-c", entry, "batch", "--tools", str(spec), "--in", str(source)]
    argv += ["--out", str(out), "--batch-size", "8"]

    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            if out.exists() and out.read_bytes().count(b"\n") >= 15:
                break
            assert process.poll() is None, process.communicate()
            time.sleep(0.005)
        else:
            pytest.fail("the batch wrote fewer than 15 lines in 30 s")
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.communicate()
    assert process.returncode == -signal.SIGKILL

    before = out.read_bytes()
    whole_before = before.count(b"\n")
    assert 0 < whole_before < COMMANDS, "the run must be cut mid-way"
    torn = not before.endswith(b"\n")
    if not torn:  # simulate a torn write: half a record at the end
        with out.open("ab") as handle:
            handle.write(b'{"line": 60, "input": "work on 5')

    done = {json.loads(line)["line"] for line in before.splitlines()[:whole_before]}
    assert len(done) == whole_before
    resumed = subprocess.run([*argv, "--resume"], env=env, capture_output=True, text=True, timeout=60)
    text = out.read_text(encoding="utf-8")
    assert text.endswith("\n")
    records = [json.loads(line) for line in text.splitlines()]  # no partial line survives
    by_line = {r["line"]: r for r in records}
    # lines whose handler was running at the kill: journaled, so recorded as failed, never re-run
    interrupted = {
        n for n, r in by_line.items() if (r.get("error") or {}).get("type") == "DispatchInterrupted"
    }
    failed = (0 if 14 in done or 14 in interrupted else 1) + len(interrupted)  # n == 13 fails, by design
    assert resumed.returncode == (1 if failed else 0), resumed.stderr
    ok = COMMANDS - len(done) - failed
    assert f"{COMMANDS} commands: {ok} ok, {failed} failed, {len(done)} already done" in resumed.stderr

    lines = [r["line"] for r in records]
    assert sorted(lines) == list(range(1, COMMANDS + 1)), "exactly one record per input line"
    assert len(set(lines)) == len(lines) == COMMANDS
    assert text.startswith(before[: before.rfind(b"\n") + 1].decode())  # earlier records kept as written
    for line, record in by_line.items():
        n = line - 1
        assert record["input"] == f"work on {n}"
        if line in interrupted:
            assert record["call"] == {"function": "work", "params": {"n": n}} and record["dispatched"] is None
        elif n == 13:
            assert record["error"]["type"] == "HandlerError"
        else:
            assert record["ok"] and record["result"] == n * n, record
    executed = [int(x) for x in runs.read_text().split()]
    assert len(executed) == len(set(executed)), "no handler ran twice"
    assert set(executed) >= {n for n in range(COMMANDS) if n != 13 and n + 1 not in interrupted}
    with capsys.disabled():
        print(
            f"\n[batch] SIGKILL after {whole_before} whole lines (torn tail from the crash: {torn}); "
            f"after --resume: {len(records)} records for {COMMANDS} input lines, "
            f"{len(set(lines))} distinct, {len(interrupted)} interrupted mid-dispatch, 0 handler re-runs"
        )
