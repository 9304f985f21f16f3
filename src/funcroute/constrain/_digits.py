"""Bounded runs of digits during constrained decoding, so a number a model keeps extending ends.

Re-exported from :mod:`funcroute.constrain.decode`, where both decoding loops use it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

__all__ = ["MAX_DIGIT_RUN", "MAX_EXPONENT_DIGITS", "DigitGuard"]

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
        import numpy as np

        self.max_run = max_run
        self.max_exponent = max_exponent
        self.pieces = [piece or "" for piece in pieces]
        # Leading digits of each token: a token may follow only if they fit in what the bound leaves.
        self.leading_digits = np.array(
            [len(piece) - len(piece.lstrip("0123456789")) for piece in self.pieces], dtype=np.int32
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
        """Mask the tokens whose leading digits would pass a bound, in a (vocab,) logits row.

        ``logits`` is a torch tensor (the transformers loop) or a numpy array (the llama.cpp loop).
        """
        room = self.room(tail)
        if room >= self._longest:
            return  # no token can pass the bound here: skip the masking work
        import numpy as np

        width = min(logits.shape[-1], self.leading_digits.shape[0])
        over = self.leading_digits[:width] > room
        if isinstance(logits, np.ndarray):
            row = logits[:width]
            if bool(np.isfinite(row[~over]).any()):  # never mask the only way forward
                row[over] = -np.inf
            return
        import torch

        others = logits[:width].masked_fill(torch.from_numpy(over).to(logits.device), float("-inf"))
        if bool(torch.isfinite(others).any()):
            logits[:width] = others
