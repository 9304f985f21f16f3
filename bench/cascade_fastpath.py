"""The cascade's fast path alone: how often it serves and is right, and its milliseconds per command.

``bench/cascade.py`` times every command with a fresh ToolSet (each BFCL case has its own), so its
fast-path figures include whatever the first command of a ToolSet pays. Here the semantic index of
each case's ToolSet is built first, untimed and timed apart, then the command is routed by a
:class:`funcroute.routing.Cascade` without a model (only fast-path results are counted): the steady
state of an application whose ToolSet is fixed. Same even-stride subsample as ``bench/cascade.py``
(``--per-category 2000`` takes whole categories: no model runs, so they fit).

Accuracy is BFCL's AST rules, per category, beside the semantic router alone in the same run (the
baseline: it serves every call it is sure of, the fast path only those with no own-name misreading).

    .venv/bin/python bench/cascade_fastpath.py [--per-category 30] [--categories simple_python multiple]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from cascade import percentile, sample

from funcroute.errors import ModelOutputError
from funcroute.evaluation import load_bfcl, score
from funcroute.offline.selector import SemanticSelector
from funcroute.routing import Cascade, Router


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-category", type=int, default=30)
    parser.add_argument("--categories", nargs="*", default=["simple_python", "multiple"])
    args = parser.parse_args()
    semantic = SemanticSelector()
    semantic.encoder.encode_query("warm up")  # loading the encoder is nobody's per-command cost
    routed: list[float] = []
    builds: list[float] = []
    header = f"{'category':<18} {'n':>5}   {'semantic alone: served / right':>32}"
    print(f"{header}   {'fast path: served / right':>27}")
    for category in args.categories:
        cases = sample(load_bfcl(category), args.per_category)
        counts = {"semantic": [0, 0], "fast": [0, 0]}
        for case in cases:
            assert case.tools is not None
            router = Router(case.tools, selector=Cascade(None, semantic=semantic))
            start = time.perf_counter()
            semantic.decide(case.tools, "warm up")  # the index encodes the tools lazily, on first use
            build = time.perf_counter() - start
            start = time.perf_counter()
            try:
                result = router.route(case.input, dry_run=True)
            except ModelOutputError:
                result = None
            elapsed = time.perf_counter() - start
            if result is not None and result.path == "fast":
                routed.append(elapsed * 1000)
                builds.append(build * 1000)
            try:
                alone = Router(case.tools, selector=semantic).route(case.input, dry_run=True)
            except ModelOutputError:
                alone = None
            for mode, outcome in (("fast", result), ("semantic", alone)):
                if outcome is not None:
                    counts[mode][0] += 1
                    counts[mode][1] += score(case, outcome, case.tools).kind == "ok"
        (s_served, s_right), (f_served, f_right) = counts["semantic"], counts["fast"]
        print(
            f"{category:<18} {len(cases):>5}   {s_served:>20} / {s_right:>4} ({s_right / len(cases):.1%})"
            f"   {f_served:>15} / {f_right:>4} ({f_right / len(cases):.1%})"
        )
    if not routed:
        raise SystemExit("no command took the fast path")
    print(f"\nfast path, {len(routed)} commands of {', '.join(args.categories)}:")
    rows = (("per command, index built", routed), ("index build + one decision", builds))
    for label, values in rows:
        p50, p95 = statistics.median(values), percentile(values, 0.95)
        print(f"  {label:<25} p50 {p50:.1f} ms, p95 {p95:.1f} ms")


if __name__ == "__main__":
    main()
