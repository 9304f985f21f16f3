"""Throughput of ``Router.route_many`` with the real model, beside a sequential loop, in one run.

The model is the bundled SmolLM2-135M-Instruct: through llama.cpp (``load_preset("smollm2")``) and,
when it loads the GGUF, through transformers (``load_preset("smollm2", backend="transformers")``),
greedy, grammar-constrained, the model's own chat template, ``max_retries=1``.

Cases: the first ``--n`` BFCL ``simple_python`` entries whose function name is not taken by an
earlier one with another definition (the first 32 such are entries 0-37). ``route_many`` takes
one Router, so the router holds the union of those cases' functions and a ``tool_selector`` shows
each command only its own case's function: every prompt is the one the case gets alone, and the
batch shares a ToolSet.

For each backend, in one run: a sequential loop of ``router.route`` over the commands, then
``route_many`` over slices of ``--batch`` commands (1, 8, 32). ``route_many`` hands every live
conversation of a slice to ``backend.complete_many`` at once: the transformers backend generates them
together (left-padded, up to its ``max_batch_size``); llama.cpp has no batched ``complete_many``
(the base class loops), so its batch rows measure route_many's own cost. Columns: calls/s,
generated tokens/s (every attempt's completion tokens over wall time), seconds per command, AST
accuracy (BFCL rules) and agreement of the calls with the sequential loop's.

    .venv/bin/python bench/throughput.py [--n 32] [--batch 1 8 32] [--threads 1]
        [--backends llamacpp transformers]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bfcl import Entry, check_call, load

from funcroute import FuncRouteError, ToolSet
from funcroute.backends.presets import Preset, load_preset
from funcroute.routing import Router, RouteResult


def union_toolset(entries: Sequence[Entry], n: int) -> tuple[ToolSet, dict[str, str], list[Entry]]:
    """One ToolSet of the first ``n`` usable entries' functions, the command -> function map, the entries.

    An entry whose function name an earlier entry already took (with a different definition) or whose
    question repeats is skipped, so every command maps to exactly its own function.
    """
    functions: dict[str, dict[str, Any]] = {}
    own: dict[str, str] = {}
    kept = []
    for entry in entries:
        doc = entry.functions[0]
        name = doc["name"]
        if (name in functions and functions[name] != doc) or entry.question in own:
            continue
        functions[name] = doc
        own[entry.question] = name
        kept.append(entry)
        if len(kept) == n:
            break
    return ToolSet.from_bfcl(list(functions.values())), own, kept


def generated_tokens(results: Sequence[RouteResult]) -> int:
    """Completion tokens over every attempt of every result."""
    total = 0
    for result in results:
        for attempt in result.attempts:
            completion = attempt.completion
            if completion is not None and completion.completion_tokens is not None:
                total += completion.completion_tokens
    return total


def call_of(result: RouteResult) -> tuple[str, dict[str, Any]] | None:
    """The routed call as comparable data."""
    return None if result.call is None else (result.call.function, dict(result.call.arguments))


def sequential(router: Router, commands: list[str]) -> list[RouteResult]:
    """``router.route`` per command; a model that never wrote a valid call is a result too."""
    out = []
    for command in commands:
        try:
            out.append(router.route(command, dry_run=True))
        except FuncRouteError as exc:
            out.append(RouteResult(command, attempts=list(getattr(exc, "attempts", []) or []), error=exc))
    return out


def batched(router: Router, commands: list[str], size: int) -> list[RouteResult]:
    """``router.route_many`` over consecutive slices of ``size`` commands."""
    out: list[RouteResult] = []
    for start in range(0, len(commands), size):
        out.extend(router.route_many(commands[start : start + size], dry_run=True, progress=False))
    return out


def measure(
    label: str, run: Callable[[], list[RouteResult]], entries: list[Entry], reference: list[Any] | None
) -> tuple[list[RouteResult], str]:
    """Run once and format one table row."""
    start = time.perf_counter()
    results = run()
    wall = time.perf_counter() - start
    tokens = generated_tokens(results)
    correct = sum(
        r.call is not None and check_call(r.call.function, dict(r.call.arguments), e)
        for r, e in zip(results, entries, strict=True)
    )
    same = (
        "-"
        if reference is None
        else f"{sum(call_of(r) == c for r, c in zip(results, reference, strict=True)) / len(results):.0%}"
    )
    row = (
        f"| {label} | {len(results) / wall:.2f} | {tokens / wall:.1f} | {wall / len(results):.2f} | "
        f"{correct / len(results):.0%} | {same} | {wall:.1f} |"
    )
    print(row, flush=True)
    return results, row


def open_backend(kind: str, threads: int) -> Preset | None:
    """The preset on one backend, or ``None`` (with the reason) when it does not load here."""
    start = time.perf_counter()
    try:
        if kind == "transformers":
            import torch

            torch.set_num_threads(threads)
            preset = load_preset("smollm2", backend="transformers")
        else:
            preset = load_preset("smollm2", n_threads=threads)
    except FuncRouteError as exc:
        print(f"{kind}: does not load here ({exc}); skipped", file=sys.stderr)
        return None
    print(f"{kind}: loaded in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return preset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=32, help="first N usable simple_python cases")
    parser.add_argument("--batch", nargs="*", type=int, default=[1, 8, 32])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--backends", nargs="*", default=["llamacpp", "transformers"])
    args = parser.parse_args()

    tools, own, entries = union_toolset(load("simple_python"), args.n)
    commands = [e.question for e in entries]
    print(
        f"{len(commands)} simple_python commands, one ToolSet of {len(tools)} functions, "
        "one shown per command"
    )
    print("| backend / mode | calls/s | tokens/s | s/command | AST | same calls as loop | wall s |")
    print("|---|---|---|---|---|---|---|")
    for kind in args.backends:
        preset = open_backend(kind, args.threads)
        if preset is None:
            continue
        router = Router(
            tools,
            preset.backend,
            template=preset.template,
            max_retries=1,
            max_new_tokens=192,
            constrained=True,
            tool_selector=lambda command: [own[command]],
        )
        router.route(commands[0], dry_run=True)  # warm-up: first-call costs are nobody's throughput
        loop, _ = measure(f"{kind} sequential route", lambda r=router: sequential(r, commands), entries, None)
        reference = [call_of(r) for r in loop]
        for size in args.batch:
            measure(
                f"{kind} route_many batch {size}",
                lambda size=size, r=router: batched(r, commands, size),
                entries,
                reference,
            )
        preset.backend.close()


if __name__ == "__main__":
    main()
