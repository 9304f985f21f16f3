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
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from funcroute.constrain._kvcache import forward_step

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


@dataclass
class DecodeResult:
    """Tokens generated under the grammar, and what it cost."""

    tokens: list[int] = field(default_factory=list)
    forward_passes: int = 0
    complete: bool = False  # the grammar reached its end


def _lltorch() -> Any:
    """``llguidance.torch``, imported without failing on its torch.jit deprecation warning."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.jit.*", category=DeprecationWarning)
        import llguidance.torch

    return llguidance.torch


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
) -> DecodeResult:
    """Decode one sequence under ``matcher`` (an llguidance LLMatcher), reusing the KV cache.

    Stops when the grammar is complete or after ``max_new_tokens``. ``digit_guard`` bounds runs of
    digits (see :class:`DigitGuard`).
    """
    import torch

    lltorch = _lltorch()
    sampling = sampling or Sampling()
    result = DecodeResult()
    device = model.device
    bitmask = lltorch.allocate_token_bitmask(1, model_vocab_size(model))
    pending: list[int] = list(prompt_ids)
    past: Any = None
    tail = ""
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
            logits_all, past = forward_step(model, torch.tensor([pending], device=device), past)
            result.forward_passes += 1
            if forced:  # token-by-token mode: one pass per token, forced ones included
                token = forced[0]
            else:
                logits = logits_all[0, -1, :].float().unsqueeze(0).to("cpu")
                lltorch.fill_next_token_bitmask(matcher, bitmask, 0)
                lltorch.apply_token_bitmask_inplace(logits, bitmask)
                if digit_guard is not None:
                    digit_guard.apply(logits[0], tail)
                token = _choose(logits[0], sampling, generator)
            if not matcher.consume_token(token):
                raise RuntimeError(f"grammar refused token {token}: {matcher.get_error()}")
            if digit_guard is not None:
                tail = digit_guard.advance(tail, token)
            result.tokens.append(token)
            pending = [token]
    result.complete = matcher.is_stopped() or matcher.is_accepting()
    return result


class GrammarLogitsProcessor:
    """A transformers logits processor constraining each row of a batch to its own matcher.

    After a row's grammar completes, only ``eos_id`` is allowed, so the row stops as if the model
    had ended it.
    """

    def __init__(
        self,
        matchers: Sequence[Any],
        prompt_width: int,
        vocab_size: int,
        eos_id: int,
        digit_guard: DigitGuard | None = None,
    ) -> None:
        lltorch = _lltorch()
        self.matchers = list(matchers)
        self.digit_guard = digit_guard
        self.tails = [""] * len(self.matchers)
        self.prompt_width = prompt_width
        self.eos_id = eos_id
        self.bitmask = lltorch.allocate_token_bitmask(len(self.matchers), vocab_size)

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        """Advance each row's matcher by its last token and mask (or force) the next one."""
        import torch

        lltorch = _lltorch()
        step = input_ids.shape[1] - self.prompt_width
        forced: dict[int, int] = {}
        for row, matcher in enumerate(self.matchers):
            if step > 0 and not matcher.is_stopped():
                last = int(input_ids[row, -1])
                matcher.consume_token(last)
                if self.digit_guard is not None:
                    self.tails[row] = self.digit_guard.advance(self.tails[row], last)
            if matcher.is_stopped() or matcher.is_error():
                forced[row] = self.eos_id
                continue
            ff = matcher.compute_ff_tokens()
            if ff:
                forced[row] = ff[0]
            else:
                lltorch.fill_next_token_bitmask(matcher, self.bitmask, row)
        masked = scores.to("cpu").clone()
        free = [row for row in range(len(self.matchers)) if row not in forced]
        if free:
            rows = torch.tensor(free)
            part = masked[rows]
            lltorch.apply_token_bitmask_inplace(part, self.bitmask[rows])
            if self.digit_guard is not None:
                for i, row in enumerate(free):
                    self.digit_guard.apply(part[i], self.tails[row])
            masked[rows] = part
        for row, token in forced.items():
            masked[row].fill_(float("-inf"))
            masked[row, token] = 0.0
        return masked.to(scores.device)
