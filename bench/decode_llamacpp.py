"""What constrained decoding costs on llama.cpp (the default backend), in one interleaved run.

SmolLM2-135M-Instruct (the bundled GGUF) through :class:`funcroute.backends.llamacpp.LlamaCppBackend`,
the first ``--cases`` BFCL ``simple_python`` entries, the ChatML prompt, greedy. Every case's
request (the one ``Router.route`` sends) is decoded four ways, in turn:

* ``llguidance``: the default engine (canonical forced tokens, jump-forward, the mask computed on a
  worker thread while llama.cpp runs the forward pass).
* ``llguidance, no prefix``: the same with ``prefix_cache=False`` (every prompt evaluated whole):
  time to first token, and whether the greedy reply is the same.
* ``gbnf``: llama.cpp's own grammar sampler (``grammar_engine="gbnf"``), a second model instance.
* ``free``: no grammar (``schema=None``), the router's stop detector still ends the reply.

The model's own time is measured by timing every ``Llama.eval`` call (one forward pass over the
tokens fed: the prompt's, then one token, or a batch of forced tokens); everything else in a call
is what the decoding loop adds around the model: the mask wait, applying it, sampling, detokenising,
the stop check. Columns per variant: forward passes and tokens per call, prompt evaluation (the first
pass) in ms, ms per later pass, the loop's own ms per pass, that as a share of the model's time, and
wall seconds per call (median).

    .venv/bin/python bench/decode_llamacpp.py [--cases 20] [--threads 1]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bfcl import load
from _smollm import CHATML, gguf_path

from funcroute import FuncRouteError
from funcroute.backends.base import Backend, Completion, Request
from funcroute.backends.llamacpp import LlamaCppBackend
from funcroute.routing.router import Router

MAX_TOKENS = 128


@dataclasses.dataclass
class Run:
    """One variant's measurements over one call."""

    text: str
    wall: float
    passes: int
    tokens: int
    prefill: float  # the first eval: the prompt (what the prefix cache did not hold)
    steps: list[float]  # every later eval


class EvalTimer:
    """Times every ``Llama.eval`` of one model instance (the instance attribute shadows the method)."""

    def __init__(self, llm: Any) -> None:
        self.calls: list[float] = []
        inner: Callable[[Any], None] = llm.eval

        def timed(tokens: Any) -> None:
            start = time.perf_counter()
            try:
                inner(tokens)
            finally:
                self.calls.append(time.perf_counter() - start)

        llm.eval = timed

    def run(self, backend: Backend, request: Request) -> Run:
        self.calls = []
        start = time.perf_counter()
        completion = backend.complete(request)
        wall = time.perf_counter() - start
        calls = self.calls
        return Run(
            text=completion.text,
            wall=wall,
            passes=len(calls),
            tokens=completion.completion_tokens or 0,
            prefill=calls[0] if calls else 0.0,
            steps=calls[1:],
        )


class Capture(Backend):
    """Keeps the router's request and answers nothing (the router then gives up: max_retries=0)."""

    name = "capture"

    def __init__(self) -> None:
        self.request: Request | None = None

    def complete(self, request: Request) -> Completion:
        self.request = request
        return Completion(text="", finish_reason="stop")


def requests_of(count: int) -> list[Request]:
    """The request ``Router.route`` sends for each of the first ``count`` simple_python commands."""
    out = []
    for entry in load("simple_python")[:count]:
        capture = Capture()
        router = Router(entry.toolset(), capture, template=CHATML, max_retries=0, max_new_tokens=MAX_TOKENS)
        try:
            router.route(entry.question, dry_run=True)
        except FuncRouteError:
            pass  # the empty reply is no call; the request is what was wanted
        if capture.request is not None:
            out.append(capture.request)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    path = gguf_path()
    guided = LlamaCppBackend(path, n_threads=args.threads, grammar_engine="llguidance")
    gbnf = LlamaCppBackend(path, n_threads=args.threads, grammar_engine="gbnf")
    guided_timer, gbnf_timer = EvalTimer(guided.llm), EvalTimer(gbnf.llm)
    names = ("llguidance", "llguidance, no prefix", "gbnf", "free")
    runs: dict[str, list[Run]] = {name: [] for name in names}
    same_reply = 0
    requests = requests_of(args.cases)
    for index, request in enumerate(requests):
        # Each schema's grammar compiled before it is timed (an application's ToolSet is fixed, so
        # its grammar is cached after the first command); the KV cache holds the previous case's
        # prompt, which shares the template preamble and the instruction with this one.
        guided._guided_decoder().matcher(request)
        gbnf._request_grammar(request)
        runs["llguidance"].append(guided_timer.run(guided, request))
        guided.prefix_cache = False
        whole = guided_timer.run(guided, request)
        guided.prefix_cache = True
        runs["llguidance, no prefix"].append(whole)
        same_reply += whole.text == runs["llguidance"][-1].text
        runs["gbnf"].append(gbnf_timer.run(gbnf, request))
        free = dataclasses.replace(request, schema=None, grammar=None)
        runs["free"].append(guided_timer.run(guided, free))
        print(f"case {index + 1}/{len(requests)} done", file=sys.stderr, flush=True)
    report(runs, same_reply)


def report(runs: dict[str, list[Run]], same_reply: int) -> None:
    n = len(runs["llguidance"])
    print(f"\n{n} BFCL simple_python requests, SmolLM2-135M Q4_1 on llama.cpp, greedy, interleaved\n")
    print(
        "| variant | passes | tokens | prompt eval ms | model ms/pass | loop ms/pass | loop / model "
        "| wall s p50 |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, rows in runs.items():
        if not rows:
            continue
        model = sum(r.prefill + sum(r.steps) for r in rows)
        passes = sum(r.passes for r in rows)
        steps = [s for r in rows for s in r.steps]
        loop = sum(r.wall for r in rows) - model
        print(
            f"| {name} | {passes / len(rows):.1f} | {sum(r.tokens for r in rows) / len(rows):.1f} | "
            f"{1000 * statistics.median(r.prefill for r in rows):.1f} | "
            f"{1000 * statistics.mean(steps) if steps else float('nan'):.2f} | "
            f"{1000 * loop / max(passes, 1):.2f} | {loop / model:.1%} | "
            f"{statistics.median(r.wall for r in rows):.3f} |"
        )
    print(f"\nprefix reuse: greedy reply unchanged in {same_reply}/{n} requests")
    print(
        "'loop' is everything but llama.cpp's forward passes: mask wait and apply, sampling, "
        "detokenising, stop checks (free: llama-cpp-python's own sampler loop)."
    )


if __name__ == "__main__":
    main()
