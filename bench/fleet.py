"""Fleet batches: throughput over 1/2/4/8 replicas, a replica killed mid-run, a slow replica, memory.

Replicas are :class:`funcroute.testing.fleet.FakeReplica` servers on loopback whose latency is
simulated (they sleep, with a fixed number of slots like a real server's batch), so the 2 CPU cores
are not the limit. Every run is a full ``stream_batch``: router, HTTP, journal, results file
(fsynced). Tables:

1. Lines per second at 1, 2, 4 and 8 replicas against linear scaling of the 1-replica run from the
   same invocation. Goal: >= 0.9 x linear.
2. Four replicas with one killed (connections cut, never restarted) after 30% of the lines, against
   the same four without a kill: every line has exactly one result and every handler ran once.
   Goal: throughput drop <= 30%.
3. Four replicas, one 4x slower: the fleet's least-outstanding choice against a round-robin client
   (each replica gets every 4th request, the same in-flight cap), at the backend level.
4. Peak traced memory of a batch at N and 10N lines (in-process backend): constant, not linear.

    .venv/bin/python bench/fleet.py [--latency 0.2] [--slots 4] [--per-replica 100] [--replicas 1,2,4,8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import threading
import time
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any

from funcroute import ToolSet
from funcroute.backends.base import Backend, Completion, Request
from funcroute.backends.fleet import FleetBackend
from funcroute.backends.openai import OpenAIBackend
from funcroute.batch.journal import journal_path
from funcroute.batch.stream import stream_batch
from funcroute.routing.router import Router
from funcroute.testing.fleet import FakeReplica


def model(body: dict[str, Any]) -> str:
    n = body["prompt"].rsplit("Input: work on ", 1)[-1].split("\n", 1)[0]
    return json.dumps({"function": "work", "params": {"n": int(n)}})


def bench_tools(runs: Counter[int]) -> ToolSet:
    tools = ToolSet()

    @tools.tool
    def work(n: int) -> int:
        """Do some work on a number."""
        runs[n] += 1
        return n * n

    return tools


def write_input(path: Path, lines: int) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for n in range(1, lines + 1):
            handle.write(f'{{"input": "work on {n}"}}\n')
    return path


def check(out: Path, lines: int, runs: Counter[int]) -> str:
    seen = Counter(json.loads(raw)["line"] for raw in out.read_bytes().splitlines())
    lost = lines - len(seen)
    dup = sum(c - 1 for c in seen.values())
    reruns = sum(c - 1 for c in runs.values())
    ok = lost == 0 and dup == 0 and reruns == 0 and len(runs) == lines
    return "ok" if ok else f"LOST {lost} DUP {dup} RERUN {reruns}"


def run_batch(
    replicas: list[FakeReplica], lines: int, workdir: Path, name: str, kill_at: float | None = None
) -> tuple[float, str, list[dict[str, Any]]]:
    runs: Counter[int] = Counter()
    source = write_input(workdir / f"{name}.in.jsonl", lines)
    out = workdir / f"{name}.out.jsonl"
    fleet = FleetBackend([r.url for r in replicas], "fake", max_in_flight=8)
    killer = None
    if kill_at is not None:

        def kill() -> None:
            target = int(lines * kill_at)
            while not out.exists() or out.read_bytes().count(b"\n") < target:
                time.sleep(0.01)
            replicas[-1].stop()

        killer = threading.Thread(target=kill, daemon=True)
        killer.start()
    start = time.perf_counter()
    summary = stream_batch(Router(bench_tools(runs), fleet), source, out)
    elapsed = time.perf_counter() - start
    fleet.close()
    if killer is not None:
        killer.join()
    status = check(out, lines, runs)
    if summary.failed:
        status += f" ({summary.failed} failed)"
    assert not journal_path(out).exists()
    return lines / elapsed, status, summary.replicas


def start_replicas(count: int, latency: float, slots: int) -> list[FakeReplica]:
    replicas = [FakeReplica(model, latency=latency, slots=slots) for _ in range(count)]
    for replica in replicas:
        replica.start()
    return replicas


def scaling(args: argparse.Namespace, workdir: Path) -> float:
    print(f"\n1. Throughput by replica count (latency {args.latency}s, {args.slots} slots per replica)")
    print(f"{'replicas':>8} {'lines':>6} {'lines/s':>9} {'linear':>9} {'x linear':>9}  check")
    base = 0.0
    four = 0.0
    for count in args.replicas:
        replicas = start_replicas(count, args.latency, args.slots)
        try:
            lines = args.per_replica * count
            rate, status, _ = run_batch(replicas, lines, workdir, f"scale{count}")
        finally:
            for replica in replicas:
                replica.stop()
        base = base or rate / count
        four = rate if count == 4 else four
        linear = base * count
        print(f"{count:>8} {lines:>6} {rate:>9.1f} {linear:>9.1f} {rate / linear:>9.2f}  {status}")
    return four


def killed(args: argparse.Namespace, workdir: Path, healthy: float) -> None:
    print("\n2. Four replicas, one killed after 30% of the lines (never restarted)")
    replicas = start_replicas(4, args.latency, args.slots)
    lines = args.per_replica * 4
    try:
        if not healthy:
            healthy, _, _ = run_batch(replicas, lines, workdir, "healthy4")
        rate, status, stats = run_batch(replicas, lines, workdir, "killed4", kill_at=0.3)
    finally:
        for replica in replicas:
            replica.stop()
    print(f"{'run':>16} {'lines/s':>9} {'vs healthy':>11}  check")
    print(f"{'4 healthy':>16} {healthy:>9.1f} {1.0:>11.2f}")
    print(f"{'4, one killed':>16} {rate:>9.1f} {rate / healthy:>11.2f}  {status}")
    victim = stats[-1]
    print(f"   killed replica: {victim['ok']} ok, {victim['failed']} failed tries (retried elsewhere)")


async def _round_robin(urls: list[str], requests: list[Request], cap: int) -> None:
    backends = [OpenAIBackend(url, "fake", max_retries=0) for url in urls]
    gates = [asyncio.Semaphore(cap) for _ in urls]

    async def one(i: int, request: Request) -> None:
        async with gates[i % len(urls)]:
            await backends[i % len(urls)].acomplete(request)

    try:
        await asyncio.gather(*(one(i, r) for i, r in enumerate(requests)))
    finally:
        for backend in backends:
            await backend.aclose()


def slow_one(args: argparse.Namespace) -> None:
    print("\n3. Four replicas, one 4x slower: least-outstanding (fleet) vs round-robin, same in-flight cap")
    replicas = start_replicas(4, args.latency, args.slots)
    replicas[0].latency = args.latency * 4
    count = args.per_replica * 4
    requests = [Request(prompt=f"Input: work on {n}\n") for n in range(count)]
    try:
        fleet = FleetBackend([r.url for r in replicas], "fake", max_in_flight=args.slots)
        start = time.perf_counter()
        fleet.complete_many(requests)
        fleet_rate = count / (time.perf_counter() - start)
        slow_share = fleet.stats()[0].ok / count
        fleet.close()
        start = time.perf_counter()
        asyncio.run(_round_robin([r.url for r in replicas], requests, args.slots))
        rr_rate = count / (time.perf_counter() - start)
    finally:
        for replica in replicas:
            replica.stop()
    print(f"{'client':>18} {'requests/s':>11} {'slow share':>11}")
    print(f"{'round-robin':>18} {rr_rate:>11.1f} {0.25:>11.2f}")
    print(f"{'fleet (LOR)':>18} {fleet_rate:>11.1f} {slow_share:>11.2f}   ({fleet_rate / rr_rate:.2f}x)")


class _Instant(Backend):
    def complete(self, request: Request) -> Completion:
        n = (request.user_input or "0").rsplit(" ", 1)[-1]
        return Completion(json.dumps({"function": "work", "params": {"n": int(n)}}))


def memory(args: argparse.Namespace, workdir: Path) -> None:
    print("\n4. Peak traced memory of a streamed batch (in-process backend, no HTTP)")
    print(f"{'lines':>8} {'peak KiB':>9} {'lines/s':>9}")
    for lines in (args.memory_lines, args.memory_lines * 10):
        source = write_input(workdir / f"mem{lines}.in.jsonl", lines)
        out = workdir / f"mem{lines}.out.jsonl"
        tools = ToolSet()

        @tools.tool
        def work(n: int) -> int:
            """Do some work on a number."""
            return n * n

        tracemalloc.start()
        start = time.perf_counter()
        stream_batch(Router(tools, _Instant()), source, out, fsync=False)
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"{lines:>8} {peak / 1024:>9.0f} {lines / elapsed:>9.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.2, help="simulated seconds per request")
    parser.add_argument("--slots", type=int, default=4, help="requests each replica works on at once")
    parser.add_argument("--per-replica", type=int, default=100, help="input lines per replica")
    parser.add_argument("--replicas", default="1,2,4,8", help="replica counts for table 1")
    parser.add_argument("--memory-lines", type=int, default=2000)
    parser.add_argument("--skip", default="", help="tables to skip, e.g. 3,4")
    args = parser.parse_args()
    args.replicas = [int(x) for x in args.replicas.split(",")]
    skip = {s for s in args.skip.split(",") if s}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        four = scaling(args, workdir) if "1" not in skip else 0.0
        if "2" not in skip:
            killed(args, workdir, four)
        if "3" not in skip:
            slow_one(args)
        if "4" not in skip:
            memory(args, workdir)


if __name__ == "__main__":
    main()
