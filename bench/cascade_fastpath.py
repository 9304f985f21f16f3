"""The cascade's fast path alone: milliseconds per command once the ToolSet's index is built.

``bench/cascade.py`` times every command with a fresh ToolSet (each BFCL case has its own), so its
fast-path figures include whatever the first command of a ToolSet pays. Here the semantic index of
each case's ToolSet is built first, untimed and timed apart, then the command is routed by a
:class:`funcroute.routing.Cascade` without a model (only fast-path results are counted): the steady
state of an application whose ToolSet is fixed. Same even-stride subsample as ``bench/cascade.py``.

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
from funcroute.evaluation import load_bfcl
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
    for category in args.categories:
        for case in sample(load_bfcl(category), args.per_category):
            assert case.tools is not None
            router = Router(case.tools, selector=Cascade(None, semantic=semantic))
            start = time.perf_counter()
            semantic.decide(case.tools, "warm up")  # the index encodes the tools lazily, on first use
            build = time.perf_counter() - start
            start = time.perf_counter()
            try:
                path = router.route(case.input, dry_run=True).path
            except ModelOutputError:
                path = "refused"
            elapsed = time.perf_counter() - start
            if path == "fast":
                routed.append(elapsed * 1000)
                builds.append(build * 1000)
    if not routed:
        raise SystemExit("no command took the fast path")
    print(f"fast path, {len(routed)} commands of {', '.join(args.categories)}:")
    rows = (("per command, index built", routed), ("index build + one decision", builds))
    for label, values in rows:
        p50, p95 = statistics.median(values), percentile(values, 0.95)
        print(f"  {label:<25} p50 {p50:.1f} ms, p95 {p95:.1f} ms")


if __name__ == "__main__":
    main()
