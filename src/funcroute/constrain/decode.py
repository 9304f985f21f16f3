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

import re
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from funcroute.constrain._kvcache import forward_step
from funcroute.constrain._mask import apply_mask_, lltorch, mask_worker
from funcroute.constrain._prefix import PrefixCache

__all__ = ["DecodeResult", "DigitGuard", "GrammarLogitsProcessor", "Sampling", "generate", "model_vocab_size"]

#: Digits in a row after which digit tokens are masked. Far above any real number (an int64 has
#: 19 digits) and any sane string of digits, yet it ends a random model's endless fraction early.
MAX_DIGIT_RUN = 24
#: Exponent digits after which digit tokens are masked: ``1e99`` is finite, ``1e999`` is not.
MAX_EXPONENT_DIGITS = 2
_TAIL = 40  # characters of recent text the guard keeps per sequence
_RUN = re.compile(r"[0-9]*$")
_EXPONENT = re.compile(r"[0-9.][eE][+-]?([0-9]*)$")


class DigitGuard:
    """Bounds runs of digits, so that a number a model keeps extending ends early (and stays finite).

    The grammar leaves non-integer numbers unbounded (a range would forbid exponents); after
    ``max_run`` digits in a row, or ``max_exponent`` digits of an exponent, tokens whose leading
    digits would pass the bound are masked, so the grammar's other continuations (``.``, ``e``,
    ``,``, ``}``...) are all that remain. The state is the tail of the text generated so far (a short string).

    Args:
        pieces: the text of every token id (tokenizer pieces: a leading-space marker such as ``Ġ``
            or ``▁`` makes a piece non-digit, which is right: no space occurs inside a number).
        max_run: digits in a row before digit tokens are masked.
        max_exponent: exponent digits before digit tokens are masked.
    """

    def __init__(
        self,
        pieces: Sequence[str | None],
        max_run: int = MAX_DIGIT_RUN,
        max_exponent: int = MAX_EXPONENT_DIGITS,
    ) -> None:
        import torch

        self.max_run = max_run
        self.max_exponent = max_exponent
        self.pieces = [piece or "" for piece in pieces]
        # Leading digits of each token: a token may follow only if they fit in what the bound leaves.
        self.leading_digits = torch.tensor(
            [len(piece) - len(piece.lstrip("0123456789")) for piece in self.pieces], dtype=torch.int32
        )
        self._longest = int(self.leading_digits.max()) if len(self.pieces) else 0

    @classmethod
    def for_tokenizer(cls, tokenizer: Any, n_vocab: int, max_run: int = MAX_DIGIT_RUN) -> DigitGuard:
        """The guard for a Hugging Face tokenizer over a model with ``n_vocab`` output rows."""
        size = min(len(tokenizer), n_vocab)
        pieces: list[str | None] = list(tokenizer.convert_ids_to_tokens(list(range(size))))
        return cls(pieces + [None] * (n_vocab - size), max_run)

    def advance(self, tail: str, token: int) -> str:
        """The state after ``token`` (the tail of the text, ``""`` at the start)."""
        piece = self.pieces[token] if 0 <= token < len(self.pieces) else ""
        return (tail + piece)[-_TAIL:]

    def room(self, tail: str) -> int:
        """How many more digits may follow ``tail`` before a bound is reached."""
        run = _RUN.search(tail)
        room = self.max_run - (len(run.group()) if run is not None else 0)
        exponent = _EXPONENT.search(tail)
        if exponent is not None:
            room = min(room, self.max_exponent - len(exponent.group(1)))
        return max(room, 0)

    def blocked(self, tail: str) -> bool:
        """Whether no digit may follow ``tail``."""
        return self.room(tail) == 0

    def apply(self, logits: Any, tail: str) -> None:
        """Mask the tokens whose leading digits would pass a bound, in a (vocab,) logits row."""
        room = self.room(tail)
        if room >= self._longest:
            return  # no token can pass the bound here: skip the masking work
        import torch

        width = min(logits.shape[-1], self.leading_digits.shape[0])
        others = logits[:width].masked_fill(self.leading_digits[:width] > room, float("-inf"))
        if bool(torch.isfinite(others).any()):  # never mask the only way forward
            logits[:width] = others


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
    import time

    import torch

    clock = time.perf_counter
    began = clock()
    forward_s = wait_s = apply_s = 0.0
    sampling = sampling or Sampling()
    result = DecodeResult()
    device = model.device
    bitmask = lltorch().allocate_token_bitmask(1, model_vocab_size(model))
    worker = mask_worker()
    past: Any = None
    start = 0
    if prefix_cache is not None:
        past, start = prefix_cache.take(prompt_ids)
        result.prompt_reused = start
    fed: list[int] = list(prompt_ids[:start])  # tokens the cache holds, for the prefix cache
    pending: list[int] = list(prompt_ids[start:])
    mask: Future[None] | None = None
    tail = ""  # recent text, for the digit guard
    try:
        with torch.inference_mode():
            while len(result.tokens) < max_new_tokens and not matcher.is_stopped():
                forced = matcher.compute_ff_tokens()
                if forced and jump_forward:
                    # Forced tokens need no model call to be chosen; they are fed with the next pass.
                    take = forced[: max_new_tokens - len(result.tokens)]
                    if not matcher.consume_tokens(take):
                        raise RuntimeError(f"grammar refused its own forced tokens: {matcher.get_error()}")
                    result.tokens.extend(take)
                    pending.extend(take)
                    if digit_guard is not None:
                        for token in take:
                            tail = digit_guard.advance(tail, token)
                    continue
                # The mask depends only on the tokens chosen so far: compute it during the pass.
                mask = None if forced else worker.fill(matcher, bitmask)
                tick = clock()
                logits_all, past = forward_step(model, torch.tensor([pending], device=device), past)
                forward_s += clock() - tick
                fed.extend(pending)
                result.forward_passes += 1
                if forced:  # token-by-token mode: one pass per token, forced ones included
                    token = forced[0]
                else:
                    assert mask is not None
                    logits = logits_all[0, -1, :]
                    if logits.dtype != torch.float32 or logits.device.type != "cpu":
                        logits = logits.float().to("cpu")
                    tick = clock()
                    mask.result()
                    mask = None
                    tock = clock()
                    apply_mask_(logits, bitmask)
                    if digit_guard is not None:
                        digit_guard.apply(logits, tail)
                    wait_s, apply_s = wait_s + tock - tick, apply_s + clock() - tock
                    token = _choose(logits, sampling, generator)
                if "first_token" not in result.timings:  # prefill + the first chosen token
                    result.timings["first_token"] = clock() - began
                if not matcher.consume_token(token):
                    raise RuntimeError(f"grammar refused token {token}: {matcher.get_error()}")
                if digit_guard is not None:
                    tail = digit_guard.advance(tail, token)
                result.tokens.append(token)
                pending = [token]
    except BaseException:
        if mask is not None:
            mask.exception()  # never leave the worker writing into a matcher we are dropping
        raise
    if prefix_cache is not None:
        prefix_cache.keep(fed, past)
    total = clock() - began
    result.timings.update(
        forward=forward_s,
        mask_wait=wait_s,
        mask_apply=apply_s,
        total=total,
        grammar=total - forward_s - wait_s - apply_s,
    )
    return result


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
