"""Run Airoboros (or any causal LM) in-process with Hugging Face transformers.

This is the backend for people who want no server: the model lives in this Python process, requests
are batched on the accelerator, and generation stops as soon as the router has what it needs (a stop
string or a complete call), which matters more for latency than raw tokens per second.

Stop handling is per row: in a batch, a sequence that has stopped is padded while the others go on, and
its text is cut exactly as if it had been generated alone, so greedy ``complete_many`` equals a loop
of ``complete``.

torch and transformers are imported when a backend is built, never at ``import funcroute``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from typing import Any

from funcroute._install import require
from funcroute.backends._hf_batch import Batch, Row, finish_row
from funcroute.backends._hf_load import import_deps, load_model, max_positions, special_ids
from funcroute.backends.base import Backend, Completion, Request
from funcroute.constrain._prefix import PrefixCache
from funcroute.constrain.bounds import DecodeBounds
from funcroute.constrain.decode import DigitGuard, Sampling, generate, model_vocab_size
from funcroute.constrain.engine import GrammarCache, engine_available, shared_cache
from funcroute.errors import BackendError, UsageError
from funcroute.testing.guard import check_allowed

__all__ = ["TransformersBackend"]

_SAMPLING_KEYS = frozenset({"temperature", "top_p", "top_k", "min_p", "typical_p"})


class TransformersBackend(Backend):
    """A causal LM run in-process with transformers, with true batching and early stopping.

    Greedy decoding by default; pass sampling options (``temperature=0.7``, ``top_p=0.9``,
    ``do_sample=True`` ...) as keyword arguments and they go to ``model.generate`` on every call
    (setting ``temperature``/``top_p``/``top_k`` alone turns sampling on). With ``seed`` set, the torch
    RNG is re-seeded before every generation (in a forked RNG state, so global state is untouched),
    making sampled output reproducible call for call.

    GPTQ and AWQ checkpoints load through transformers' own quantization integrations: pass the
    quantized directory or hub id as ``model_or_path`` (requires ``optimum`` + ``auto-gptq``/``gptqmodel``
    or ``autoawq`` installed, and usually a CUDA device).

    Attributes:
        model: the loaded ``PreTrainedModel``.
        tokenizer: its tokenizer.
        name: ``transformers:<path or model name>``.
        max_positions: the longest prompt plus reply the model accepts, when the config says.

    Args:
        model_or_path: a local directory or hub id to load with ``AutoModelForCausalLM``, or an
            already-loaded model (then ``tokenizer`` is required).
        tokenizer: a tokenizer, a path/hub id to load one from, or ``None`` to load it from
            ``model_or_path``.
        device: ``"cuda"``, ``"cuda:1"``, ``"cpu"`` ...; default: CUDA when available. A loaded model
            is moved only when ``device`` is given.
        dtype: torch dtype or its name; default ``"auto"`` (the checkpoint's) on CUDA, float32 on CPU.
        seed: seed for sampling; ``None`` leaves the torch RNG alone.
        max_batch_size: most sequences generated together by :meth:`complete_many`.
        constrained: apply the request's reply schema as a grammar (llguidance), so the model can
            only write a valid call. Default: on when llguidance is installed. Requests without a
            schema are never constrained.
        jump_forward: in constrained single-request decoding, feed all tokens the grammar forces
            (keys, punctuation, the rest of a unique name) in one forward pass. The text is
            identical to token-by-token decoding; only forward passes are saved.
        decode_bounds: limits that keep a weak model from writing one value forever
            (see :class:`funcroute.constrain.bounds.DecodeBounds`).
        grammar_cache: where compiled grammars live (default: the process-wide cache).
        prefix_cache: in constrained single-request decoding, keep the KV cache of the last
            sequence and reuse it for the next prompt's longest shared prefix (the chat template
            and the selection instruction, or a whole first turn on a repair), so only the new
            tokens are fed. Greedy replies can differ in the last bits of the logits (rarely).
        **generate_kwargs: extra arguments for ``model.generate``.

    Raises:
        BackendError: torch/transformers are missing, or the model or tokenizer cannot be loaded.
        UsageError: a loaded model was passed without its tokenizer.
    """

    # Real backend: it checks the test guard itself (the pytest plugin need not wrap it).
    __funcroute_checks_requests__ = True

    def __init__(
        self,
        model_or_path: Any,
        tokenizer: Any = None,
        *,
        device: str | None = None,
        dtype: Any = None,
        seed: int | None = 0,
        max_batch_size: int = 32,
        constrained: bool | None = None,
        jump_forward: bool = True,
        decode_bounds: DecodeBounds | None = None,
        grammar_cache: GrammarCache | None = None,
        prefix_cache: bool = True,
        **generate_kwargs: Any,
    ) -> None:
        check_allowed(self, "constructed")
        if isinstance(model_or_path, (str, os.PathLike)):
            self.name = f"transformers:{os.fspath(model_or_path)}"
        else:
            label = getattr(model_or_path, "name_or_path", "") or type(model_or_path).__name__
            self.name = f"transformers:{label}"
        import_deps(self.name)  # a missing torch is reported before any argument check
        if max_batch_size < 1:
            raise UsageError(f"max_batch_size must be at least 1, got {max_batch_size}")
        self.model, self.tokenizer = load_model(self.name, model_or_path, tokenizer, device, dtype)
        self.seed = seed
        self.max_batch_size = max_batch_size
        self.generate_kwargs = dict(generate_kwargs)
        if "do_sample" not in self.generate_kwargs:
            self.generate_kwargs["do_sample"] = bool(_SAMPLING_KEYS & self.generate_kwargs.keys())
        self.max_positions = max_positions(self.model, self.tokenizer)
        self._eos, self._pad = special_ids(self.model, self.tokenizer)
        self._lock = threading.Lock()
        self.constrained = engine_available() if constrained is None else constrained
        if self.constrained:
            require("llguidance", "constrained", "constrained decoding needs llguidance", backend=self.name)
        self.jump_forward = jump_forward
        self.decode_bounds = decode_bounds or DecodeBounds()
        self.grammar_cache = grammar_cache or shared_cache()
        self.sampling = Sampling.from_kwargs(self.generate_kwargs)
        self._digits: DigitGuard | None = None
        #: the reused prompt prefix (``None`` when ``prefix_cache=False``); its counters say how much
        self.prefix_cache = PrefixCache() if prefix_cache else None

    def chat_template(self, **variables: Any) -> Any:
        """The tokenizer's own chat template as a ``NativeTemplate`` (``Router(chat_template=...)``).

        Raises ``TemplateError`` when the tokenizer has none.
        """
        from funcroute.prompts.native import NativeTemplate

        return NativeTemplate.from_tokenizer(self.tokenizer, **variables)

    def complete(self, request: Request) -> Completion:
        """Generate the reply to one request.

        Args:
            request: the prompt, stop strings, token limit and optional ``stop_when`` detector.

        Returns:
            The reply, cut before the stop point, with token counts and timing.

        Raises:
            BackendError: empty prompt, prompt longer than the model's context, or generation failed.
        """
        check_allowed(self, "asked for a completion (complete)")
        return self.complete_many([request])[0]

    def complete_many(self, requests: Sequence[Request]) -> list[Completion]:
        """Generate replies for many requests in left-padded batches of up to ``max_batch_size``.

        Requests are sorted by prompt length so each batch wastes little padding; each row keeps its
        own token limit and stop conditions. With greedy decoding the results equal calling
        :meth:`complete` on each request. ``elapsed_s`` of every completion is its batch's wall time.

        Args:
            requests: the requests, in any order; results come back in the same order.

        Returns:
            One completion per request.

        Raises:
            BackendError: a prompt is empty or too long, or generation failed.
        """
        check_allowed(self, "asked for a completion (complete_many)")
        rows = [self._row(r) for r in requests]
        # Constrained and free rows never share a batch: the grammar processor applies to every row.
        order = sorted(range(len(rows)), key=lambda i: (rows[i].matcher is None, -len(rows[i].ids)))
        results: list[Completion | None] = [None] * len(rows)
        chunk: list[int] = []
        for i in order:
            other_kind = bool(chunk) and (rows[chunk[0]].matcher is None) != (rows[i].matcher is None)
            if chunk and (other_kind or not self._fits(rows[chunk[0]], [rows[j] for j in chunk] + [rows[i]])):
                self._run_chunk(rows, chunk, results)
                chunk = []
            chunk.append(i)
        if chunk:
            self._run_chunk(rows, chunk, results)
        return [c for c in results if c is not None]

    def _row(self, request: Request) -> Row:
        if not request.prompt:
            raise BackendError(self.name, "empty prompt")
        ids = list(self.tokenizer(request.prompt, add_special_tokens=True)["input_ids"])
        bos, eos = self.tokenizer.bos_token, self.tokenizer.eos_token
        bos_id = self.tokenizer.bos_token_id
        if bos and request.prompt.startswith(bos) and ids[:2] == [bos_id, bos_id]:
            ids = ids[1:]  # the prompt spells out BOS itself; do not double it
        if ids and ids[-1] in self._eos and not (eos and request.prompt.endswith(eos)):
            ids = ids[:-1]  # some tokenizers append EOS; a prompt to continue must not end with one
        limit = max(0, request.max_new_tokens)
        if self.max_positions is not None:
            if len(ids) >= self.max_positions:
                raise BackendError(
                    self.name,
                    f"prompt is {len(ids)} tokens but the model's context is {self.max_positions} "
                    "positions; shorten the prompt (fewer tools, shorter history)",
                )
            limit = min(limit, self.max_positions - len(ids))
        row = Row(request, ids, limit)
        if self.constrained and request.grammar is not None:
            from funcroute.constrain.formats import to_lark

            row.matcher = self.grammar_cache.lark_matcher(
                self.tokenizer, model_vocab_size(self.model), to_lark(request.grammar, self.decode_bounds)
            )
        elif self.constrained and request.schema is not None:
            row.matcher = self.grammar_cache.matcher(
                self.tokenizer, model_vocab_size(self.model), request.schema, self.decode_bounds
            )
        return row

    def _fits(self, widest: Row, chunk: list[Row]) -> bool:
        if len(chunk) > self.max_batch_size:
            return False
        if self.max_positions is None:
            return True
        return len(widest.ids) + max(r.limit for r in chunk) <= self.max_positions

    def _run_chunk(self, rows: list[Row], chunk: list[int], results: list[Completion | None]) -> None:
        batch = [rows[i] for i in chunk]
        start = time.perf_counter()
        live = [r for r in batch if r.limit > 0]
        if live:
            with self._lock:
                if len(live) == 1 and live[0].matcher is not None:
                    self._generate_one_constrained(live[0])
                else:
                    self._generate_batch(live)
        elapsed = time.perf_counter() - start
        for i, row in zip(chunk, batch, strict=True):
            results[i] = finish_row(self.tokenizer, row, elapsed)

    def _generate_batch(self, rows: list[Row]) -> None:
        """Rows through ``model.generate`` (built per call: ``seed`` and the kwargs may change)."""
        batch = Batch(
            self.name, self.model, self.tokenizer, self._eos, self._pad, self.generate_kwargs, self.seed
        )
        batch.generate(rows, self._digit_guard() if rows[0].matcher is not None else None)

    def _generate_one_constrained(self, row: Row) -> None:
        """One grammar-constrained sequence in funcroute's own loop (jump-forward lives here)."""
        import torch

        generator = None
        if self.sampling.do_sample:
            generator = torch.Generator(device="cpu")
            generator.manual_seed(self.seed if self.seed is not None else torch.seed())
        try:
            result = generate(
                self.model,
                row.ids,
                row.matcher,
                max_new_tokens=row.limit,
                jump_forward=self.jump_forward,
                sampling=self.sampling,
                generator=generator,
                digit_guard=self._digit_guard(),
                prefix_cache=self.prefix_cache,
            )
        except (RuntimeError, ValueError, IndexError) as exc:
            raise BackendError(self.name, f"constrained generation failed: {exc}") from exc
        row.new_ids = result.tokens
        row.forward_passes = result.forward_passes
        row.stopped_at = len(result.tokens)

    def _digit_guard(self) -> DigitGuard:
        """The digit-run bound for this tokenizer (built on first constrained use)."""
        if self._digits is None:
            self._digits = DigitGuard.for_tokenizer(self.tokenizer, model_vocab_size(self.model))
        return self._digits
