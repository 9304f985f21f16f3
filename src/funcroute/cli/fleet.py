"""``funcroute batch --endpoint URL [--endpoint URL ...]``: a streamed, exactly-once batch over a fleet."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from funcroute.batch.progress import describe_replicas
from funcroute.errors import FuncRouteError, UsageError

__all__ = ["add_fleet_options", "fleet_backend", "run_fleet_batch"]


def add_fleet_options(cmd: argparse.ArgumentParser) -> None:
    """The flags that tune how a batch uses its servers."""
    group = cmd.add_argument_group("servers (with --endpoint; repeat it for a fleet of replicas)")
    group.add_argument(
        "--max-in-flight", type=int, default=8, help="most requests one replica may have in flight (8)"
    )
    group.add_argument(
        "--max-wait",
        type=float,
        default=120.0,
        help="fail a command after this many seconds with no replica able to take it (120)",
    )
    group.add_argument(
        "--progress-interval",
        type=float,
        default=None,
        help="seconds between progress lines on stderr (default: 2 on a terminal, else 10; 0: none)",
    )
    group.add_argument(
        "--no-fsync",
        dest="fsync",
        action="store_false",
        help="flush records without fsync: survives a killed client, not a power cut (faster)",
    )
    cmd.set_defaults(fleet=True)


def fleet_backend(args: argparse.Namespace, api_key: str | None) -> Any:
    """The :class:`FleetBackend` the flags describe."""
    from funcroute.backends.fleet import FleetBackend
    from funcroute.backends.openai import StructuredMode

    max_in_flight = getattr(args, "max_in_flight", 8)
    max_wait = getattr(args, "max_wait", 120.0)
    if max_in_flight < 1 or max_wait <= 0 or args.timeout <= 0:
        raise UsageError("--max-in-flight must be >= 1, and --max-wait and --timeout > 0")
    # llama.cpp servers take a GBNF grammar; other servers: leave --constrained off.
    structured: StructuredMode = "grammar" if args.constrained else "none"
    return FleetBackend(
        args.endpoint,
        args.model_name,
        api_key,
        timeout=args.timeout,
        structured=structured,
        max_in_flight=max_in_flight,
        max_wait=max_wait,
    )


def run_fleet_batch(args: argparse.Namespace, make_router: Callable[[argparse.Namespace], Any]) -> int:
    """Run the batch; prints progress and a summary on stderr, and one JSON summary line on stdout."""
    from funcroute.batch.stream import stream_batch

    interval = args.progress_interval
    if interval is None:
        interval = 2.0 if sys.stderr.isatty() else 10.0
    if interval < 0:
        raise UsageError("--progress-interval must be >= 0")
    router = make_router(args)
    try:
        summary = stream_batch(
            router,
            Path(args.input),
            Path(args.output),
            resume=args.resume,
            dry_run=args.dry_run,
            fsync=args.fsync,
            progress=interval > 0,
            progress_interval=interval or 1.0,
        )
    except OSError as exc:  # e.g. the disk filled up: what was written stays valid for --resume
        raise FuncRouteError(f"batch stopped: {exc.strerror or exc} ({exc.filename or 'file'})") from None
    finally:
        router.close()
        router.backend.close()
    done = (
        f"{summary.total} commands: {summary.ok} ok, {summary.failed} failed, {summary.skipped} already done"
    )
    if summary.interrupted:
        done += f" ({summary.interrupted} interrupted by an earlier run while dispatched: not re-run)"
    rate = (summary.ok + summary.failed) / max(summary.elapsed_s, 1e-9)
    print(f"{done}; {summary.elapsed_s:.1f}s, {rate:.1f}/s", file=sys.stderr)
    if summary.replicas:
        print(f"replicas: {describe_replicas(summary.replicas)}", file=sys.stderr)
    print(json.dumps({"summary": summary.to_dict()}, ensure_ascii=False), flush=True)
    return 0 if summary.failed == 0 else 1
