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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from funcroute._install import require
from funcroute.backends._stops import stop_index
from funcroute.backends.base import Backend, Completion, Request
from funcroute.constrain._prefix import PrefixCache
from funcroute.constrain.bounds import DecodeBounds
from funcroute.constrain.decode import (
    DigitGuard,
    GrammarLogitsProcessor,
    Sampling,
    generate,
    model_vocab_size,
)
from funcroute.constrain.engine import GrammarCache, engine_available, shared_cache
from funcroute.errors import BackendError, UsageError

__all__ = ["TransformersBackend"]

_SAMPLING_KEYS = frozenset({"temperature", "top_p", "top_k", "min_p", "typical_p"})


def _import_deps(name: str) -> tuple[Any, Any]:
    what = "torch and transformers are required"
    return (
        require("torch", "transformers", what, backend=name),
        require("transformers", "transformers", what, backend=name),
    )


@contextmanager
def _no_progress_bars() -> Iterator[None]:
    """Silence transformers' tqdm bars (loading/saving weights) for the duration, then restore them."""
    from transformers.utils import logging

    hf_logging: Any = logging
    were_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if were_on:
            hf_logging.enable_progress_bar()


def _resolve_dtype(torch: Any, dtype: Any, device: str) -> Any:
    if dtype is None:
        return "auto" if device.startswith("cuda") else torch.float32
    if isinstance(dtype, str) and dtype != "auto":
        return getattr(torch, dtype.removeprefix("torch."))
    return dtype


def _looks_local(path: str) -> bool:
    return os.path.isabs(path) or path.startswith((".", "~")) or os.path.exists(path)


def _max_positions(model: Any, tokenizer: Any) -> int | None:
    config = model.config
    if hasattr(config, "get_text_config"):
        config = config.get_text_config()
    for attr in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(config, attr, None)
        if isinstance(value, int) and value > 0:
            return value
    limit = getattr(tokenizer, "model_max_length", None)
    return limit if isinstance(limit, int) and 0 < limit < 1_000_000 else None


def _id_list(value: Any) -> list[int]:
    return [] if value is None else [value] if isinstance(value, int) else [int(v) for v in value]


@dataclass
class _Row:
    """One request inside a batch, with its tokenised prompt and its stopping state."""

    request: Request
    ids: list[int]
    limit: int
    stopped_at: int | None = None  # tokens generated when the row stopped (EOS included)
    hit_eos: bool = False
    new_ids: list[int] = field(default_factory=list)  # generated tokens, filled step by step
    matcher: Any = None  # an llguidance matcher when the reply is grammar-constrained
    forward_passes: int | None = None


class _RowStopper:
    """Per-row stopping criteria: EOS, the row's own token limit, stop strings and ``stop_when``."""

    def __init__(self, rows: Sequence[_Row], prompt_width: int, tokenizer: Any, eos: set[int]) -> None:
        import torch

        self.torch = torch
        self.rows = rows
        self.prompt_width = prompt_width
        self.tokenizer = tokenizer
        self.eos = eos
        self.seen = 0  # generated columns already copied into the rows' ``new_ids``
        #: an exception raised by a ``stop_when`` detector, re-raised as is (it is not a backend fault)
        self.error: Exception | None = None

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        try:
            return self._check(input_ids)
        except Exception as exc:
            self.error = exc
            raise

    def _check(self, input_ids: Any) -> Any:
        # One device-to-host copy per step: the columns generated since the last call (usually one).
        fresh = input_ids[:, self.prompt_width + self.seen :].tolist()
        self.seen = input_ids.shape[1] - self.prompt_width
        done = []
        for row, tokens in zip(self.rows, fresh, strict=True):
            for token in tokens if row.stopped_at is None else ():
                row.new_ids.append(token)
                if token in self.eos:
                    row.stopped_at, row.hit_eos = len(row.new_ids), True
                elif len(row.new_ids) >= row.limit:
                    row.stopped_at = len(row.new_ids)
                if row.stopped_at is not None:
                    break
            # A grammar-constrained row ends with its grammar; its strings may contain "USER:".
            if row.matcher is None and row.stopped_at is None and (row.request.stop or row.request.stop_when):
                text = self.tokenizer.decode(row.new_ids, skip_special_tokens=True)
                if stop_index(text, row.request.stop, row.request.stop_when) is not None:
                    row.stopped_at = len(row.new_ids)
            done.append(row.stopped_at is not None)
        return self.torch.tensor(done, dtype=self.torch.bool, device=input_ids.device)


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
        if isinstance(model_or_path, (str, os.PathLike)):
            source = os.fspath(model_or_path)
            self.name = f"transformers:{source}"
        else:
            source = None
            label = getattr(model_or_path, "name_or_path", "") or type(model_or_path).__name__
            self.name = f"transformers:{label}"
        torch, transformers = _import_deps(self.name)
        if max_batch_size < 1:
            raise UsageError(f"max_batch_size must be at least 1, got {max_batch_size}")
        if source is None:
            if tokenizer is None:
                raise UsageError("TransformersBackend: an already-loaded model needs its tokenizer too")
            self.model = model_or_path
            if device is not None:
                self.model.to(device)
        else:
            device = device or ("cuda" if torch.cuda.is_available() else "cpu")
            self.model = self._load(
                transformers.AutoModelForCausalLM, source, dtype=_resolve_dtype(torch, dtype, device)
            )
            placed = getattr(self.model, "is_quantized", False) or getattr(self.model, "hf_device_map", None)
            if not placed:
                self.model.to(device)
        if tokenizer is None and source is not None:
            tokenizer = self._load(transformers.AutoTokenizer, source)
        elif isinstance(tokenizer, (str, os.PathLike)):
            tokenizer = self._load(transformers.AutoTokenizer, os.fspath(tokenizer))
        self.tokenizer = tokenizer
        self.model.eval()
        self.seed = seed
        self.max_batch_size = max_batch_size
        self.generate_kwargs = dict(generate_kwargs)
        if "do_sample" not in self.generate_kwargs:
            self.generate_kwargs["do_sample"] = bool(_SAMPLING_KEYS & self.generate_kwargs.keys())
        self.max_positions = _max_positions(self.model, tokenizer)
        self._eos = set(
            _id_list(getattr(self.model.generation_config, "eos_token_id", None))
            + _id_list(getattr(self.model.config, "eos_token_id", None))
            + _id_list(tokenizer.eos_token_id)
        )
        pad = tokenizer.pad_token_id
        if pad is None:
            pad = getattr(self.model.generation_config, "pad_token_id", None)
        if pad is None:
            pad = min(self._eos) if self._eos else 0
        self._pad = int(pad)
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

    def _load(self, auto_class: Any, source: str, **kwargs: Any) -> Any:
        """``auto_class.from_pretrained(source)``, with every failure turned into a BackendError."""
        if _looks_local(source) and not Path(source).expanduser().is_dir():
            raise BackendError(self.name, f"no model directory at {source!r}")
        try:
            with _no_progress_bars():
                return auto_class.from_pretrained(str(Path(source).expanduser()), **kwargs)
        except Exception as exc:  # any loading failure (missing files, bad config, no network) is fatal
            what = "tokenizer" if "Tokenizer" in auto_class.__name__ else "model"
            raise BackendError(self.name, f"could not load the {what} from {source!r}: {exc}") from exc

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

    def _row(self, request: Request) -> _Row:
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
        row = _Row(request, ids, limit)
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

    def _fits(self, widest: _Row, chunk: list[_Row]) -> bool:
        if len(chunk) > self.max_batch_size:
            return False
        if self.max_positions is None:
            return True
        return len(widest.ids) + max(r.limit for r in chunk) <= self.max_positions

    def _run_chunk(self, rows: list[_Row], chunk: list[int], results: list[Completion | None]) -> None:
        batch = [rows[i] for i in chunk]
        start = time.perf_counter()
        live = [r for r in batch if r.limit > 0]
        if live:
            with self._lock:
                if len(live) == 1 and live[0].matcher is not None:
                    self._generate_one_constrained(live[0])
                else:
                    self._generate(live)
        elapsed = time.perf_counter() - start
        for i, row in zip(chunk, batch, strict=True):
            results[i] = self._finish(row, elapsed)

    def _generate_one_constrained(self, row: _Row) -> None:
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

    def _generate(self, rows: list[_Row]) -> None:
        import torch
        from transformers import LogitsProcessorList, StoppingCriteriaList

        width = max(len(r.ids) for r in rows)
        device = self.model.device
        input_ids = torch.tensor([[self._pad] * (width - len(r.ids)) + r.ids for r in rows], device=device)
        mask = torch.tensor([[0] * (width - len(r.ids)) + [1] * len(r.ids) for r in rows], device=device)
        stopper = _RowStopper(rows, width, self.tokenizer, self._eos)
        extra = {k: v for k, v in self.generate_kwargs.items() if k != "logits_processor"}
        processors = LogitsProcessorList(self.generate_kwargs.get("logits_processor") or [])
        criteria = StoppingCriteriaList([stopper])
        grammar: GrammarLogitsProcessor | None = None
        if rows[0].matcher is not None:
            eos = min(self._eos) if self._eos else self._pad
            vocab = model_vocab_size(self.model)
            matchers = [r.matcher for r in rows]
            grammar = GrammarLogitsProcessor(matchers, width, vocab, eos, self._digit_guard())
            processors.append(grammar)
            criteria.append(grammar.prefetch)  # next masks computed during the forward pass
        rng_devices = [device] if device.type == "cuda" else []
        try:
            with torch.random.fork_rng(devices=rng_devices), torch.inference_mode():
                if self.seed is not None:
                    torch.manual_seed(self.seed)
                self.model.generate(
                    input_ids=input_ids,
                    attention_mask=mask,
                    max_new_tokens=max(r.limit for r in rows),
                    stopping_criteria=criteria,
                    logits_processor=processors,
                    pad_token_id=self._pad,
                    eos_token_id=sorted(self._eos) or None,
                    use_cache=True,
                    **extra,
                )
            if grammar is not None:
                grammar.wait()  # the last prefetch may still be computing a mask nobody needs
        except Exception as exc:
            if grammar is not None:
                grammar.wait()
            if exc is stopper.error:
                raise
            if isinstance(exc, torch.cuda.OutOfMemoryError):
                raise BackendError(self.name, f"out of GPU memory: {exc}; lower max_batch_size") from exc
            if isinstance(exc, (RuntimeError, ValueError, IndexError)):
                raise BackendError(self.name, f"generation failed: {exc}") from exc
            raise

    def _finish(self, row: _Row, elapsed: float) -> Completion:
        new = row.new_ids
        body = new[:-1] if row.hit_eos else new
        text = self.tokenizer.decode(body, skip_special_tokens=True)
        cut = stop_index(text, row.request.stop, row.request.stop_when) if row.matcher is None else None
        if cut is not None:
            text, reason = text[:cut], "stop"
        else:
            reason = "stop" if row.hit_eos else "length"
        return Completion(
            text=text,
            finish_reason=reason,
            prompt_tokens=len(row.ids),
            completion_tokens=len(new),
            elapsed_s=elapsed,
            forward_passes=row.forward_passes if row.forward_passes is not None else len(new),
        )
