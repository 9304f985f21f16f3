"""Grammar-constrained generation for transformers models, with jump-forward.

Canonical forcing: wherever the grammar admits exactly one continuation (keys, punctuation, the rest
of a function name once its prefix is unique, ``"params":{``), the forced text is emitted as the
tokens llguidance's fast-forward computes — the tokenizer's own tokenisation of that text, with the
last token left open at the seam when it could merge with what follows. The model chooses only where
the grammar leaves a choice.

Two ways to run the same decoding:

* :func:`generate` — one sequence. With ``jump_forward=True`` all forced tokens are fed to the model
  in a single forward pass; with ``False`` the model runs once per token (the classic loop). Both
  choose exactly the same tokens, so the text is identical and only the forward passes differ.
* :class:`GrammarLogitsProcessor` — for batched ``model.generate``: per-row matchers mask the logits
  and force the canonical token, one token per step.

The mask is off the critical path in both: it is computed on a background thread
(:mod:`funcroute.constrain._mask`) while the model runs its forward pass, and applied in place.
Steps whose token the grammar forces compute no mask at all.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from funcroute.constrain._digits import DigitGuard
from funcroute.constrain._kvcache import forward_step
from funcroute.constrain._mask import apply_mask_, lltorch, mask_worker
from funcroute.constrain._prefix import PrefixCache

__all__ = [
    "DecodeResult",
    "DigitGuard",
    "GrammarLogitsProcessor",
    "Sampling",
    "generate",
    "model_vocab_size",
]


@dataclass(frozen=True)
class Sampling:
    """How to choose among allowed tokens: greedy unless ``do_sample``."""

    do_sample: bool = False
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0

    @classmethod
    def from_kwargs(cls, kwargs: dict[str, Any]) -> Sampling:
        """Read the usual ``generate`` keyword arguments."""
        return cls(
            do_sample=bool(kwargs.get("do_sample", False)),
            temperature=float(kwargs.get("temperature") or 1.0),
            top_k=int(kwargs.get("top_k") or 0),
            top_p=float(kwargs.get("top_p") or 1.0),
        )


def model_vocab_size(model: Any) -> int:
    """Rows of the output embedding: the model's vocabulary, often padded past the tokenizer's."""
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    return int(config.vocab_size)


def _choose(logits: Any, sampling: Sampling, generator: Any) -> int:
    import torch

    if not sampling.do_sample:
        return int(torch.argmax(logits))
    scores = logits / max(sampling.temperature, 1e-5)
    if sampling.top_k > 0:
        kth = torch.topk(scores, min(sampling.top_k, scores.shape[-1])).values[..., -1, None]
        scores = scores.masked_fill(scores < kth, float("-inf"))
    if sampling.top_p < 1.0:
        ordered, index = torch.sort(scores, descending=True)
        cumulative = torch.softmax(ordered, dim=-1).cumsum(dim=-1)
        drop = cumulative - torch.softmax(ordered, dim=-1) > sampling.top_p
        scores = scores.scatter(-1, index, ordered.masked_fill(drop, float("-inf")))
    probs = torch.softmax(scores, dim=-1)
    return int(torch.multinomial(probs, 1, generator=generator))


@dataclass
class DecodeResult:
    """Tokens generated under the grammar, and what it cost."""

    tokens: list[int] = field(default_factory=list)
    forward_passes: int = 0
    prompt_reused: int = 0  # prompt tokens served from a prefix cache instead of fed to the model
    #: seconds spent: ``forward`` (model passes), ``mask_wait`` (mask not ready when the pass
    #: ended), ``mask_apply``, ``grammar`` (advancing the matcher, forced tokens), ``first_token``
    timings: dict[str, float] = field(default_factory=dict)


class _Decoding:
    """The state of one :func:`generate` call, one method per kind of step.

    Args:
        model: the model.
        matcher: the llguidance matcher the tokens must satisfy.
        sampling: how a free token is chosen.
        generator: the torch generator for sampling.
        digit_guard: bounds runs of digits, or ``None``.
        past: the KV cache of ``fed`` (``None``: nothing fed yet).
        fed: prompt tokens the cache already holds.
        pending: tokens to feed with the next forward pass.
        began: ``time.perf_counter()`` when the call began (timings count from there).
    """

    def __init__(
        self,
        model: Any,
        matcher: Any,
        sampling: Sampling,
        generator: Any,
        digit_guard: DigitGuard | None,
        past: Any,
        fed: list[int],
        pending: list[int],
        began: float,
    ) -> None:
        import torch

        self.torch = torch
        self.model, self.matcher, self.sampling, self.generator = model, matcher, sampling, generator
        self.digit_guard = digit_guard
        self.past, self.fed, self.pending = past, fed, pending
        self.result = DecodeResult()
        self.bitmask = lltorch().allocate_token_bitmask(1, model_vocab_size(model))
        self.worker = mask_worker()
        self.mask: Future[None] | None = None
        self.tail = ""  # recent text, for the digit guard
        self.began = began
        self.forward_s = self.wait_s = self.apply_s = 0.0

    def jump(self, take: list[int]) -> None:
        """Accept forced tokens without a model call; they are fed with the next pass."""
        if not self.matcher.consume_tokens(take):
            raise RuntimeError(f"grammar refused its own forced tokens: {self.matcher.get_error()}")
        self.result.tokens.extend(take)
        self.pending.extend(take)
        if self.digit_guard is not None:
            for token in take:
                self.tail = self.digit_guard.advance(self.tail, token)

    def step(self, forced: list[int]) -> None:
        """One forward pass, then one token: the first forced one, or the model's choice under the mask."""
        # The mask depends only on the tokens chosen so far: compute it during the pass.
        self.mask = None if forced else self.worker.fill(self.matcher, self.bitmask)
        tick = time.perf_counter()
        ids = self.torch.tensor([self.pending], device=self.model.device)
        logits_all, self.past = forward_step(self.model, ids, self.past)
        self.forward_s += time.perf_counter() - tick
        self.fed.extend(self.pending)
        self.result.forward_passes += 1
        # token-by-token mode: one pass per token, forced ones included
        token = forced[0] if forced else self._choose(logits_all[0, -1, :])
        if "first_token" not in self.result.timings:  # prefill + the first chosen token
            self.result.timings["first_token"] = time.perf_counter() - self.began
        if not self.matcher.consume_token(token):
            raise RuntimeError(f"grammar refused token {token}: {self.matcher.get_error()}")
        if self.digit_guard is not None:
            self.tail = self.digit_guard.advance(self.tail, token)
        self.result.tokens.append(token)
        self.pending = [token]

    def _choose(self, logits: Any) -> int:
        """The model's token among those the grammar (and the digit guard) allow."""
        assert self.mask is not None
        if logits.dtype != self.torch.float32 or logits.device.type != "cpu":
            logits = logits.float().to("cpu")
        tick = time.perf_counter()
        self.mask.result()
        self.mask = None
        tock = time.perf_counter()
        apply_mask_(logits, self.bitmask)
        if self.digit_guard is not None:
            self.digit_guard.apply(logits, self.tail)
        self.wait_s += tock - tick
        self.apply_s += time.perf_counter() - tock
        return _choose(logits, self.sampling, self.generator)

    def abandon(self) -> None:
        """After a failure: never leave the worker writing into a matcher we are dropping."""
        if self.mask is not None:
            self.mask.exception()

    def finish(self) -> DecodeResult:
        """The result with its timings filled in."""
        total = time.perf_counter() - self.began
        self.result.timings.update(
            forward=self.forward_s,
            mask_wait=self.wait_s,
            mask_apply=self.apply_s,
            total=total,
            grammar=total - self.forward_s - self.wait_s - self.apply_s,
        )
        return self.result


def generate(
    model: Any,
    prompt_ids: Sequence[int],
    matcher: Any,
    *,
    max_new_tokens: int,
    jump_forward: bool = True,
    sampling: Sampling | None = None,
    generator: Any = None,
    digit_guard: DigitGuard | None = None,
    prefix_cache: PrefixCache | None = None,
) -> DecodeResult:
    """Decode one sequence under ``matcher`` (an llguidance LLMatcher), reusing the KV cache.

    Stops when the grammar is complete or after ``max_new_tokens``. ``digit_guard`` bounds runs of
    digits (see :class:`DigitGuard`). With ``prefix_cache``, the prompt's longest prefix shared with
    the previous sequence is not fed again, and this sequence's cache is left there for the next one.
    """
    import torch

    began = time.perf_counter()
    past, start = prefix_cache.take(prompt_ids) if prefix_cache is not None else (None, 0)
    run = _Decoding(
        model,
        matcher,
        sampling or Sampling(),
        generator,
        digit_guard,
        past,
        fed=list(prompt_ids[:start]),  # tokens the cache holds, for the prefix cache
        pending=list(prompt_ids[start:]),
        began=began,
    )
    run.result.prompt_reused = start
    try:
        with torch.inference_mode():
            while len(run.result.tokens) < max_new_tokens and not matcher.is_stopped():
                forced = matcher.compute_ff_tokens()
                if forced and jump_forward:
                    run.jump(forced[: max_new_tokens - len(run.result.tokens)])
                else:
                    run.step(forced)
    except BaseException:
        run.abandon()
        raise
    if prefix_cache is not None:
        prefix_cache.keep(run.fed, run.past)
    return run.finish()


class GrammarLogitsProcessor:
    """A transformers logits processor constraining each row of a batch to its own matcher.

    After a row's grammar completes, only ``eos_id`` is allowed, so the row stops as if the model
    had ended it. Add :attr:`prefetch` to ``stopping_criteria``: transformers calls it right after
    each step's tokens are appended, before the next forward pass, so the matchers advance and the
    next masks are computed (on the mask thread) while the model runs. Without it, the same work is
    done inside :meth:`__call__`, on the critical path.
    """

    def __init__(
        self,
        matchers: Sequence[Any],
        prompt_width: int,
        vocab_size: int,
        eos_id: int,
        digit_guard: DigitGuard | None = None,
    ) -> None:
        self.matchers = list(matchers)
        self.digit_guard = digit_guard
        self.tails = [""] * len(self.matchers)
        self.prompt_width = prompt_width
        self.eos_id = eos_id
        self.bitmask = lltorch().allocate_token_bitmask(len(self.matchers), vocab_size)
        self.prefetch = _Prefetch(self)
        self._consumed = prompt_width  # columns of input_ids the matchers have consumed
        self._prepared: int | None = None  # sequence width the current masks are for
        self._forced: dict[int, int] = {}
        self._free: list[int] = []
        self._mask: Future[None] | None = None

    def advance(self, input_ids: Any) -> None:
        """Feed each row's matcher its new tokens and start computing the next masks."""
        width = int(input_ids.shape[1])
        if width == self._prepared:
            return
        self.wait()  # the worker may still be reading the matchers
        if width > self._consumed:
            fresh = input_ids[:, self._consumed :].tolist()
            for row, matcher in enumerate(self.matchers):
                for token in fresh[row]:
                    if not matcher.is_stopped():
                        matcher.consume_token(int(token))
                        if self.digit_guard is not None:
                            self.tails[row] = self.digit_guard.advance(self.tails[row], int(token))
            self._consumed = width
        forced: dict[int, int] = {}
        free: list[tuple[Any, int]] = []
        for row, matcher in enumerate(self.matchers):
            if matcher.is_stopped() or matcher.is_error():
                forced[row] = self.eos_id
                continue
            ff = matcher.compute_ff_tokens()
            if ff:
                forced[row] = ff[0]  # a forced token needs no mask
            else:
                free.append((matcher, row))
        self._forced = forced
        self._free = [row for _, row in free]
        self._mask = mask_worker().fill_many(free, self.bitmask) if free else None
        self._prepared = width

    def wait(self) -> None:
        """Wait for a mask computation in flight (call before dropping the matchers)."""
        mask, self._mask = self._mask, None
        if mask is not None:
            mask.result()

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        """Mask (or force) each row's next token, in place; ``scores`` is returned."""
        self.advance(input_ids)  # a no-op when :attr:`prefetch` already did it
        masked = scores if scores.device.type == "cpu" else scores.to("cpu")
        self.wait()
        if self._free:
            apply_mask_(masked, self.bitmask, self._free)
            if self.digit_guard is not None:
                for row in self._free:
                    self.digit_guard.apply(masked[row], self.tails[row])
        for row, token in self._forced.items():
            masked[row].fill_(float("-inf"))
            masked[row, token] = 0.0
        return masked if masked is scores else masked.to(scores.device)


class _Prefetch:
    """A stopping criterion that never stops: it advances the grammar between steps."""

    def __init__(self, processor: GrammarLogitsProcessor) -> None:
        self.processor = processor

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        self.processor.advance(input_ids)
        return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
