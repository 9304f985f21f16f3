"""What the grammar costs on the real model, and what prompt-prefix reuse saves, in one run.

SmolLM2-135M-Instruct through transformers (``bench/_smollm.py``), the first ``--cases`` BFCL
``simple_python`` entries with the ChatML prompt, greedy, interleaved case by case:

* ``now``: :func:`funcroute.constrain.decode.generate` (mask on the worker thread during the forward
  pass, applied in place, none on forced steps). Its own timers split each call into model passes,
  waiting for the mask, applying it, and grammar work (advancing the matcher, forced tokens).
* ``before``: the previous loop, from the same run: mask computed after the pass, on the critical
  path, applied with llguidance's ``torch.compile`` kernel. It must choose the same tokens.
* ``free``: the backend's unconstrained path (``model.generate`` with the router's stop detector).
* ``prefix``: ``now`` with a :class:`PrefixCache` kept across cases: time to first token and
  whether the greedy reply is unchanged.

    .venv/bin/python bench/decode.py [--cases 10] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch
from _bfcl import load
from _smollm import CHATML, load_hf

from funcroute.backends.base import Request
from funcroute.backends.transformers import TransformersBackend
from funcroute.constrain._kvcache import forward_step
from funcroute.constrain._mask import lltorch
from funcroute.constrain._prefix import PrefixCache
from funcroute.constrain.bounds import DecodeBounds
from funcroute.constrain.decode import generate, model_vocab_size
from funcroute.constrain.engine import GrammarCache
from funcroute.evaluation import with_no_call_tool
from funcroute.parsing import end_of_first_call

MAX_TOKENS = 128


def before(model: Any, ids: list[int], matcher: Any, max_new_tokens: int) -> tuple[list[int], float, int]:
    """The loop as it was: jump-forward, but the mask on the critical path (the baseline)."""
    llt = lltorch()
    start = time.perf_counter()
    bitmask = llt.allocate_token_bitmask(1, model_vocab_size(model))
    tokens: list[int] = []
    pending, past, passes = list(ids), None, 0
    with torch.inference_mode():
        while len(tokens) < max_new_tokens and not matcher.is_stopped():
            forced = matcher.compute_ff_tokens()
            if forced:
                take = forced[: max_new_tokens - len(tokens)]
                matcher.consume_tokens(take)
                tokens.extend(take)
                pending.extend(take)
                continue
            logits_all, past = forward_step(model, torch.tensor([pending]), past)
            passes += 1
            logits = logits_all[0, -1, :].float().unsqueeze(0).to("cpu")
            llt.fill_next_token_bitmask(matcher, bitmask, 0)
            llt.apply_token_bitmask_inplace(logits, bitmask)
            token = int(torch.argmax(logits[0]))
            matcher.consume_token(token)
            tokens.append(token)
            pending = [token]
    return tokens, time.perf_counter() - start, passes


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model, tokenizer = load_hf()
    vocab = model_vocab_size(model)
    grammars = GrammarCache()
    free = TransformersBackend(model, tokenizer, constrained=False, prefix_cache=False)
    prefix = PrefixCache()
    rows: dict[str, list[float]] = {k: [] for k in ("forward", "mask_wait", "mask_apply", "grammar", "total")}
    per_pass: dict[str, list[float]] = {k: [] for k in rows}
    old_total: list[float] = []
    old_overhead: list[float] = []
    free_s: list[float] = []
    free_tokens: list[int] = []
    now_tokens: list[int] = []
    passes_now: list[int] = []
    ttft_cold: list[float] = []
    ttft_warm: list[float] = []
    same_as_old = agree = 0
    entries = load("simple_python")[: args.cases]
    bounds = DecodeBounds()
    for index, entry in enumerate(entries):
        tools = with_no_call_tool(entry.toolset())
        prompt = CHATML.render(tools.prompt(entry.question))
        ids = list(tokenizer(prompt)["input_ids"])
        schema = tools.json_schema()
        grammars.matcher(tokenizer, vocab, schema, bounds)  # compile outside the timings
        ours = generate(
            model, ids, grammars.matcher(tokenizer, vocab, schema, bounds), max_new_tokens=MAX_TOKENS
        )
        old_tokens, old_s, old_passes = before(
            model, ids, grammars.matcher(tokenizer, vocab, schema, bounds), MAX_TOKENS
        )
        same_as_old += old_tokens == ours.tokens
        warm = generate(
            model,
            ids,
            grammars.matcher(tokenizer, vocab, schema, bounds),
            max_new_tokens=MAX_TOKENS,
            prefix_cache=prefix,
        )
        agree += warm.tokens == ours.tokens
        start = time.perf_counter()
        completion = free.complete(
            Request(prompt=prompt, stop=CHATML.stop, stop_when=end_of_first_call, max_new_tokens=MAX_TOKENS)
        )
        free_s.append(time.perf_counter() - start)
        free_tokens.append(completion.completion_tokens)
        if index == 0:
            continue  # the first case warms up allocators and kernels for every path
        for key in rows:
            rows[key].append(ours.timings[key])
            per_pass[key].append(ours.timings[key] / max(ours.forward_passes, 1) * 1000)
        old_total.append(old_s)
        old_overhead.append((old_s - ours.timings["forward"]) / max(old_passes, 1) * 1000)
        now_tokens.append(len(ours.tokens))
        passes_now.append(ours.forward_passes)
        ttft_cold.append(ours.timings["first_token"])
        ttft_warm.append(warm.timings["first_token"])
        print(f"case {index + 1}/{len(entries)} done", file=sys.stderr, flush=True)

    med = statistics.median
    model_ms = med(per_pass["forward"])
    print(f"{'per forward pass (median over cases)':<44} {'ms':>8}")
    print("-" * 53)
    for key, label in (
        ("forward", "model step (forward pass)"),
        ("mask_wait", "mask: waiting after the pass"),
        ("mask_apply", "mask: applying in place"),
        ("grammar", "grammar: matcher, forced tokens, sampling"),
        ("total", "total"),
    ):
        print(f"{label:<44} {med(per_pass[key]):>8.2f}")
    added = med(per_pass["total"]) - model_ms
    print(f"{'constraint overhead now':<44} {added:>8.2f}  ({added / model_ms:.1%} of the model step)")
    print(f"{'constraint overhead before (serial mask)':<44} {med(old_overhead):>8.2f}")
    print()
    print(f"{'per call (median)':<44} {'s':>8} {'tokens':>7} {'passes':>7}")
    print("-" * 68)
    print(
        f"{'constrained now':<44} {med(rows['total']):>8.3f} {med(now_tokens):>7.0f} {med(passes_now):>7.0f}"
    )
    print(f"{'constrained before':<44} {med(old_total):>8.3f}")
    print(
        f"{'unconstrained (model.generate + stop)':<44} {med(free_s):>8.3f} "
        f"{med(free_tokens):>7.0f} {med(free_tokens):>7.0f}"
    )
    print()
    print(
        f"time to first token, full prefill: {med(ttft_cold) * 1000:.1f} ms; with prefix reuse: "
        f"{med(ttft_warm) * 1000:.1f} ms "
        f"({prefix.reused_tokens} prompt tokens reused, {prefix.fed_tokens} fed)"
    )
    print(
        f"greedy replies unchanged: before vs now {same_as_old}/{len(entries)}, "
        f"prefix reuse vs full prefill {agree}/{len(entries)}"
    )


if __name__ == "__main__":
    main()
