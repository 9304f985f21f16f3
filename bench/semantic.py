"""The offline semantic router on BFCL, beside a plain-cosine baseline measured in the same run.

Baseline: cosine similarity between the MiniLM embedding of the question and of ``name: description``
for each tool (the trial the issue reports). Ours: :class:`funcroute.offline.selector.SemanticSelector`
and :class:`funcroute.offline.retrieval.ToolIndex`. Both use the same bundled encoder.

    .venv/bin/python bench/semantic.py [--cache-dir DIR] [--cold] [--cold-index] [--latency-runs 200]

Embeddings are cached in ``--cache-dir`` (default: the user cache); ``--cold`` uses a fresh temporary
cache so the index build time includes embedding every tool.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from _bfcl import Entry, check_call, load

from funcroute import Tool, ToolSet
from funcroute.errors import FuncRouteError
from funcroute.offline.encoder import Encoder
from funcroute.offline.retrieval import ToolIndex
from funcroute.offline.selector import SemanticSelector
from funcroute.routing.router import Router

GOALS = {
    "select multiple": 0.98,
    "select live_multiple": 0.92,
    "irrelevance": 0.85,
    "recall@5": 0.97,
}


def baseline_text(doc: dict[str, Any]) -> str:
    return f"{doc['name']}: {doc['description']}"


class Baseline:
    """Plain cosine over ``name: description``."""

    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder

    def scores(self, entry: Entry) -> np.ndarray:
        tools = self.encoder.encode([baseline_text(f) for f in entry.functions])
        return tools @ self.encoder.encode_query(entry.question)


def pct(x: float) -> str:
    return f"{100 * x:5.1f}%"


def selection(entries: Sequence[Entry], pick: Callable[[Entry], str | None]) -> float:
    return sum(pick(e) == e.expected for e in entries) / len(entries)


def keep_threshold(positives: np.ndarray, keep: float) -> float:
    """The threshold that keeps ``keep`` of the positives routed."""
    return float(np.quantile(positives, 1.0 - keep))


def pooled_catalog(categories: Sequence[str]) -> tuple[ToolSet, dict[str, str]]:
    """Every distinct BFCL function (name and description) as one ToolSet.

    A name that comes with several descriptions gets a ``~N`` suffix on its later variants.
    """
    tools = ToolSet()
    by_doc: dict[str, str] = {}
    for category in categories:
        for entry in load(category):
            for doc in entry.functions:
                key = doc_key(doc)
                if key in by_doc:
                    continue
                tool = ToolSet.from_bfcl([doc])[doc["name"]]
                name, n = tool.name, 1
                while name in tools:
                    n += 1
                    name = f"{tool.name}~{n}"
                tools.add(Tool(name, tool.description, tool.schema, validator=tool.validator))
                by_doc[key] = name
    return tools, by_doc


def doc_key(doc: dict[str, Any]) -> str:
    return f"{doc['name']}\n{doc['description']}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cache-dir", default=None, help="embedding cache (default: the user cache)")
    parser.add_argument("--cold", action="store_true", help="start from an empty embedding cache")
    parser.add_argument(
        "--cold-index", action="store_true", help="also time a cold build of the pooled index"
    )
    parser.add_argument("--latency-runs", type=int, default=200)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    cache = tempfile.mkdtemp(prefix="funcroute-bench-") if args.cold else args.cache_dir
    encoder = Encoder(cache_dir=cache)
    start = time.perf_counter()
    encoder.load()
    load_s = time.perf_counter() - start
    backend = SemanticSelector(encoder=encoder)
    base = Baseline(encoder)
    data = {c: load(c) for c in ("simple_python", "multiple", "live_multiple", "irrelevance")}
    toolsets = {c: [e.toolset() for e in es] for c, es in data.items()}
    rows: list[tuple[str, str, str, str]] = []

    # ---- selection and routing decisions (one pass per category)
    decisions = {
        c: [backend.decide(ts, e.question) for e, ts in zip(data[c], toolsets[c], strict=True)] for c in data
    }
    for c in ("multiple", "live_multiple"):
        ours = sum(d.candidates[0][0] == e.expected for d, e in zip(decisions[c], data[c], strict=True))
        theirs = selection(data[c], lambda e: e.functions[int(np.argmax(base.scores(e)))]["name"])
        goal = GOALS[f"select {c}"]
        rows.append(
            (
                f"selection accuracy, {c} (n={len(data[c])})",
                pct(theirs),
                pct(ours / len(data[c])),
                f">= {pct(goal)}",
            )
        )

    for c in ("simple_python", "multiple"):
        runs = [d.function is not None and not d.missing and not d.doubt for d in decisions[c]]
        ok = sum(
            ran and check_call(d.function, d.arguments, e)
            for ran, d, e in zip(runs, decisions[c], data[c], strict=True)
        )
        rows.append((f"full-call accuracy (BFCL AST), {c}", "n/a", pct(ok / len(data[c])), "report"))
        wrong = sum(runs) - ok  # calls that would run, yet break BFCL's AST rules
        rows.append((f"calls run but wrong (BFCL AST), {c}", "n/a", pct(wrong / len(data[c])), "report"))

    base_pos = np.array([base.scores(e).max() for e in data["simple_python"]])
    base_neg = np.array([base.scores(e).max() for e in data["irrelevance"]])
    ours_pos = np.array([d.score for d in decisions["simple_python"]])
    ours_neg = np.array([d.score for d in decisions["irrelevance"]])
    for keep in (0.975, 0.97, 0.938):
        bt, ot = keep_threshold(base_pos, keep), keep_threshold(ours_pos, keep)
        rows.append(
            (
                f"irrelevance at the threshold keeping {pct(keep).strip()} of simple_python",
                pct(float(np.mean(base_neg < bt))),
                pct(float(np.mean(ours_neg < ot))),
                f">= {pct(GOALS['irrelevance'])}" if keep == 0.97 else "",
            )
        )
    kept = np.mean([d.routed for d in decisions["simple_python"]])
    refused = np.mean([not d.routed for d in decisions["irrelevance"]])
    rows.append(
        (f"default threshold {backend.threshold}: simple_python routed", "", pct(float(kept)), ">= 97.0%")
    )
    rows.append(
        (f"default threshold {backend.threshold}: irrelevance refused", "", pct(float(refused)), ">= 85.0%")
    )

    # ---- retrieval over the pooled catalog
    catalog, by_doc = pooled_catalog(
        [
            "simple_python",
            "multiple",
            "live_multiple",
            "irrelevance",
            "live_simple",
            "parallel",
            "parallel_multiple",
            "live_parallel",
            "live_parallel_multiple",
            "live_irrelevance",
            "live_relevance",
        ]
    )
    if args.cold_index:
        # The first build on a machine: every tool text embedded (the cache dir is fresh).
        cold = Encoder(cache_dir=tempfile.mkdtemp(prefix="funcroute-cold-"))
        start = time.perf_counter()
        len(ToolIndex(catalog, encoder=cold))
        rows.append(
            (
                f"index build, cold cache ({2 * len(catalog)} texts embedded)",
                "",
                f"{time.perf_counter() - start:.1f} s",
                "",
            )
        )
    tracemalloc.start()
    start = time.perf_counter()
    index = ToolIndex(catalog, encoder=encoder)
    len(index)  # builds it
    build_s = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    base_matrix = encoder.encode([f"{t.name.split('~')[0]}: {t.description}" for t in catalog])
    names = index.names
    questions = [
        (e, doc_key(next(f for f in e.functions if f["name"] == e.expected)))
        for c in ("simple_python", "multiple")
        for e in data[c]
    ]
    hits_base = hits_ours = name_base = name_ours = 0
    times: list[float] = []
    encode_times: list[float] = []
    for entry, key in questions:
        want = by_doc[key]
        t0 = time.perf_counter()
        vector = encoder._forward([entry.question])[0]
        encode_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        found = index.search(entry.question, 5, query_vector=vector)
        times.append(time.perf_counter() - t0)
        hits_ours += want in {n for n, _ in found}
        top = np.argsort(-(base_matrix @ vector))[:5]
        hits_base += want in {names[i] for i in top}
        # Counting any variant of the expected name (same function, another description) as a hit.
        name_ours += entry.expected in {n.split("~")[0] for n, _ in found}
        name_base += entry.expected in {names[i].split("~")[0] for i in top}
    n = len(questions)
    rows.append(
        (
            f"recall@5, pooled catalog of {len(catalog)} functions (n={n})",
            pct(hits_base / n),
            pct(hits_ours / n),
            f">= {pct(GOALS['recall@5'])}",
        )
    )
    rows.append(
        ("recall@5, any variant of the expected name counts", pct(name_base / n), pct(name_ours / n), "")
    )
    rows.append(
        (
            "search p50, after the index is built (query encoding excluded)",
            "",
            f"{1000 * statistics.median(times):.2f} ms",
            "<= 5 ms",
        )
    )
    rows.append(("query encoding p50", "", f"{1000 * statistics.median(encode_times):.1f} ms", ""))
    rows.append(
        (
            f"index build ({'cold cache' if args.cold else 'embedding cache as found'})",
            "",
            f"{build_s:.1f} s",
            "",
        )
    )
    rows.append(
        (
            "index memory (python peak during build; dense matrix)",
            "",
            f"{peak / 2**20:.1f} MiB; {index._matrix.nbytes / 2**20:.1f} MiB",
            "",
        )
    )

    # ---- routing latency: Router.select per command, the tools' index already built, model loaded.
    lat: list[float] = []
    cpu: list[float] = []
    for entry, tools in list(zip(data["multiple"], toolsets["multiple"], strict=True))[: args.latency_runs]:
        router = Router(tools, selector=backend)
        len(backend.index(tools))  # index built outside the timing, as after the first command
        encoder._memo.clear()  # every command is encoded afresh
        t0, c0 = time.perf_counter(), time.thread_time()
        try:
            router.select(entry.question)
        except FuncRouteError:
            pass  # a refusal is a routing answer too
        lat.append(time.perf_counter() - t0)
        cpu.append(time.thread_time() - c0)
    p50, p95 = statistics.median(lat), float(np.quantile(lat, 0.95))
    rows.append(
        (
            f"routing latency p50 / p95 per command (n={len(lat)})",
            "",
            f"{1000 * p50:.1f} / {1000 * p95:.1f} ms",
            "p50 <= 20 ms",
        )
    )
    rows.append(("  CPU time of the routing thread, p50", "", f"{1000 * statistics.median(cpu):.1f} ms", ""))
    rows.append(("model load (excluded above)", "", f"{load_s:.1f} s", ""))

    width = max(len(r[0]) for r in rows)
    load_avg = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{os.cpu_count()} CPUs, load average {load_avg} at the end (timings inflate on a busy machine)\n")
    print(f"{'metric':<{width}}  {'baseline':>9}  {'ours':>16}  goal")
    for metric, theirs, ours_text, goal in rows:
        print(f"{metric:<{width}}  {theirs:>9}  {ours_text:>16}  {goal}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
