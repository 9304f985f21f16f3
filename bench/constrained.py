"""Constrained decoding: funcroute (llguidance, with and without jump-forward) against peers.

One run, one tiny random Llama (built here), the same BFCL ``simple_python`` prompts and schemas for
every row. Prints tokens/s, ms/token, the constraint's own cost per token (beside unconstrained
generation of the same number of tokens), forward passes per call, validity rate, and grammar compile
time cold and cached. Peers run where installed (xgrammar's stock HF processor, lm-format-enforcer,
outlines); a peer that fails says why.

    .venv/bin/python bench/constrained.py [--calls 40] [--max-string-chars 24]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from funcroute import ToolSet
from funcroute.constrain.bounds import DecodeBounds, bound_schema
from funcroute.constrain.decode import generate, model_vocab_size
from funcroute.constrain.engine import GrammarCache
from funcroute.errors import FuncRouteError
from funcroute.prompts.templates import get_template
from funcroute.testing.tiny_model import build_tiny_model

BFCL = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "bfcl" / "BFCL_v4_simple_python.json"


def load_cases(count: int) -> list[tuple[ToolSet, str]]:
    cases = []
    with BFCL.open() as handle:
        for line in handle:
            entry = json.loads(line)
            tools = ToolSet.from_bfcl(entry["function"])
            question = entry["question"][0][-1]["content"]
            cases.append((tools, get_template("airoboros-2").render(tools.prompt(question))))
            if len(cases) == count:
                break
    return cases


def hf_generate_ms(model: Any, ids: list[int], tokens: int) -> float:
    """Unconstrained ``model.generate`` of exactly ``tokens`` tokens (the baseline for HF-based peers)."""
    with torch.inference_mode():
        start = time.perf_counter()
        model.generate(
            torch.tensor([ids]), max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False, pad_token_id=0
        )
    return (time.perf_counter() - start) * 1000


def raw_loop_ms(model: Any, ids: list[int], tokens: int) -> float:
    """Unconstrained greedy decoding in the same hand-written KV-cached loop funcroute uses."""
    with torch.inference_mode():
        start = time.perf_counter()
        past, feed = None, ids
        for _ in range(tokens):
            out = model(input_ids=torch.tensor([feed]), past_key_values=past, use_cache=True)
            past = out.past_key_values
            feed = [int(out.logits[0, -1].argmax())]
    return (time.perf_counter() - start) * 1000


def run_funcroute(
    model: Any, tok: Any, cases: list[tuple[ToolSet, str]], bounds: DecodeBounds, jf: bool
) -> dict[str, Any]:
    cache = GrammarCache()
    vocab = model_vocab_size(model)
    stats: dict[str, Any] = {
        "ms": [],
        "tokens": [],
        "passes": [],
        "valid": 0,
        "base_ms": [],
        "hf_ms": [],
        "compile_ms": [],
    }
    for tools, prompt in cases:
        ids = tok(prompt)["input_ids"]
        schema = tools.json_schema(copy=False)
        start = time.perf_counter()
        matcher = cache.matcher(tok, vocab, schema, bounds)
        stats["compile_ms"].append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        result = generate(model, ids, matcher, max_new_tokens=512, jump_forward=jf)
        stats["ms"].append((time.perf_counter() - start) * 1000)
        stats["tokens"].append(len(result.tokens))
        stats["passes"].append(result.forward_passes)
        try:
            tools.parse(tok.decode(result.tokens))
            stats["valid"] += 1
        except FuncRouteError:
            pass
        stats["base_ms"].append(raw_loop_ms(model, ids, len(result.tokens)))
        stats["hf_ms"].append(hf_generate_ms(model, ids, max(len(result.tokens), 1)))
    start = time.perf_counter()
    cache.matcher(tok, vocab, cases[0][0].json_schema(copy=False), bounds)
    stats["cached_compile_ms"] = (time.perf_counter() - start) * 1000
    return stats


def run_xgrammar(
    model: Any, tok: Any, cases: list[tuple[ToolSet, str]], bounds: DecodeBounds
) -> dict[str, Any] | str:
    try:
        import xgrammar as xgr
        from xgrammar.contrib.hf import LogitsProcessor
    except ImportError:
        return "not installed"
    info = xgr.TokenizerInfo.from_huggingface(tok, vocab_size=model_vocab_size(model))
    compiler = xgr.GrammarCompiler(info)
    stats: dict[str, Any] = {
        "ms": [],
        "tokens": [],
        "passes": [],
        "valid": 0,
        "compile_ms": [],
        "base_ms": [],
    }
    for tools, prompt in cases:
        ids = tok(prompt)["input_ids"]
        schema = bound_schema(tools.json_schema(), bounds)
        start = time.perf_counter()
        compiled = compiler.compile_json_schema(json.dumps(schema), any_whitespace=False)
        stats["compile_ms"].append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        with torch.inference_mode():
            out = model.generate(
                torch.tensor([ids]),
                max_new_tokens=512,
                do_sample=False,
                pad_token_id=0,
                logits_processor=[LogitsProcessor(compiled)],
            )
        new = out[0, len(ids) :].tolist()
        stats["ms"].append((time.perf_counter() - start) * 1000)
        stats["tokens"].append(len(new))
        stats["passes"].append(len(new))
        stats["base_ms"].append(hf_generate_ms(model, ids, max(len(new), 1)))
        try:
            tools.parse(tok.decode(new, skip_special_tokens=True))
            stats["valid"] += 1
        except FuncRouteError:
            pass
    start = time.perf_counter()
    compiler.compile_json_schema(
        json.dumps(bound_schema(cases[0][0].json_schema(), bounds)), any_whitespace=False
    )
    stats["cached_compile_ms"] = (time.perf_counter() - start) * 1000
    return stats


def run_lmfe(
    model: Any, tok: Any, cases: list[tuple[ToolSet, str]], bounds: DecodeBounds
) -> dict[str, Any] | str:
    try:
        from lmformatenforcer import JsonSchemaParser
        from lmformatenforcer.integrations.transformers import build_transformers_prefix_allowed_tokens_fn
    except Exception as exc:  # the peer breaks on import under transformers 5
        return f"failed to import: {type(exc).__name__}: {str(exc)[:80]}"
    stats: dict[str, Any] = {"ms": [], "tokens": [], "passes": [], "valid": 0, "compile_ms": []}
    for tools, prompt in cases:
        ids = tok(prompt)["input_ids"]
        try:
            start = time.perf_counter()
            fn = build_transformers_prefix_allowed_tokens_fn(
                tok, JsonSchemaParser(bound_schema(tools.json_schema(), bounds))
            )
            stats["compile_ms"].append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            with torch.inference_mode():
                out = model.generate(
                    torch.tensor([ids]),
                    max_new_tokens=512,
                    do_sample=False,
                    pad_token_id=0,
                    prefix_allowed_tokens_fn=fn,
                )
        except Exception as exc:
            return f"failed: {type(exc).__name__}: {str(exc)[:80]}"
        new = out[0, len(ids) :].tolist()
        stats["ms"].append((time.perf_counter() - start) * 1000)
        stats["tokens"].append(len(new))
        stats["passes"].append(len(new))
        try:
            tools.parse(tok.decode(new, skip_special_tokens=True))
            stats["valid"] += 1
        except FuncRouteError:
            pass
    stats["cached_compile_ms"] = float("nan")
    return stats


def row(name: str, stats: dict[str, Any] | str, calls: int) -> str:
    if isinstance(stats, str):
        return f"{name:<34} {stats}"
    tokens = sum(stats["tokens"])
    ms = sum(stats["ms"])
    overhead = ""
    if "base_ms" in stats:
        overhead = f"{(ms - sum(stats['base_ms'])) / max(tokens, 1):+.3f}"
    return (
        f"{name:<34} {tokens / (ms / 1000):>8.0f} {ms / max(tokens, 1):>8.3f} {overhead:>9} "
        f"{statistics.mean(stats['passes']):>8.1f} {statistics.mean(stats['tokens']):>7.1f} "
        f"{stats['valid'] / calls:>6.0%} {statistics.median(stats['compile_ms']):>9.2f} "
        f"{stats['cached_compile_ms']:>8.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--max-string-chars", type=int, default=24)
    args = parser.parse_args()
    torch.set_num_threads(1)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with tempfile.TemporaryDirectory() as tmp:
        build_tiny_model(tmp)
        tok = AutoTokenizer.from_pretrained(tmp)
        model = AutoModelForCausalLM.from_pretrained(tmp).eval()
    bounds = DecodeBounds(max_string_chars=args.max_string_chars)
    cases = load_cases(args.calls)
    run_funcroute(model, tok, cases[:2], bounds, True)  # warm-up: first forward passes are slow
    token_by_token = run_funcroute(model, tok, cases, bounds, jf=False)
    jump = run_funcroute(model, tok, cases, bounds, jf=True)
    base = {
        "ms": token_by_token["base_ms"],
        "tokens": token_by_token["tokens"],
        "passes": token_by_token["tokens"],
        "valid": 0,
        "compile_ms": [0.0],
        "cached_compile_ms": 0.0,
    }
    print(f"{args.calls} BFCL simple_python calls, tiny random Llama, CPU, 1 thread, greedy\n")
    print(
        f"{'decoder':<34} {'tok/s':>8} {'ms/tok':>8} {'Δms/tok':>9} {'passes':>8} {'tokens':>7} "
        f"{'valid':>6} {'compile':>9} {'cached':>8}"
    )
    hf_base = {**base, "ms": token_by_token["hf_ms"]}
    print(row("unconstrained, KV-cached loop", base, args.calls))
    print(row("unconstrained, model.generate", hf_base, args.calls))
    print(row("funcroute token-by-token", token_by_token, args.calls))
    print(row("funcroute jump-forward", jump, args.calls))
    print(
        row(
            "xgrammar HF processor",
            run_xgrammar(model, tok, cases, bounds),
            args.calls,
        )
    )
    print(row("lm-format-enforcer", run_lmfe(model, tok, cases, bounds), args.calls))
    try:
        import outlines  # noqa: F401

        print(f"{'outlines':<34} installed but not wired: its first call spends seconds in torch.compile")
    except ImportError:
        print(f"{'outlines':<34} not installed")
    ratio = statistics.mean(token_by_token["passes"]) / statistics.mean(jump["passes"])
    print(f"\njump-forward: {ratio:.2f}x fewer forward passes per call than token-by-token")
    same = sum(1 for _ in cases)  # texts are compared in tests/test_constrained.py
    print(
        f"wall time per call: jump-forward {statistics.mean(jump['ms']):.1f} ms, "
        f"unconstrained {statistics.mean(token_by_token['base_ms']):.1f} ms ({same} calls)"
    )
    print(
        "Δms/tok: constrained minus unconstrained wall time per generated token (the constraint's own cost)"
    )


if __name__ == "__main__":
    main()
