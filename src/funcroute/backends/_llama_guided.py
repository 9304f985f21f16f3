"""Constrained decoding on llama.cpp with llguidance: canonical forced tokens and jump-forward.

Why not llama.cpp's own grammar sampler: it accepts any tokens that spell text the grammar allows,
so the model spells the grammar's forced text (keys, punctuation, ``"params":``) in whatever
fragments it likes best token by token. A small model then leaves the tokenisation it was trained
on and goes astray: SmolLM2-135M wrote ``{`` ``"`` ``function`` instead of its usual ``{"``, later
`` [`` instead of `` ["``, and then ``".C, F, G"`` for "a progression of C, F and G" (its best
allowed token after `` [`` was ``".``). llguidance computes the forced continuation and its
canonical tokens, the ones the tokenizer itself writes for that text (the last one left open where
it could merge with what follows), so the model reads its own kind of text; and all forced tokens
go to the model in one batch, one forward pass instead of one per token.

The loop per step: the forced tokens, if any, are taken without the model; otherwise one forward
pass runs while the mask of allowed tokens is computed on another thread
(:mod:`funcroute.constrain._mask`), then the mask, the UTF-8 guard and the digit-run guard
(:class:`funcroute.constrain.decode.DigitGuard`) are applied to the logits and the token is chosen.
The KV cache of the longest prompt prefix shared with the previous request is kept, as
llama-cpp-python's own ``generate`` does.
"""

from __future__ import annotations

import codecs
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from funcroute.backends.base import Request
from funcroute.constrain._digits import DigitGuard
from funcroute.constrain._mask import mask_worker
from funcroute.constrain.bounds import DecodeBounds
from funcroute.constrain.engine import GrammarCache

__all__ = ["GuidedDecoder", "GuidedResult", "guidance_for_llama"]


@dataclass
class GuidedResult:
    """What one constrained generation produced."""

    text: str
    tokens: int
    forward_passes: int
    finish_reason: str


def guidance_for_llama() -> bool:
    """Whether this llguidance can read a llama.cpp vocabulary (``llguidance.llamacpp``)."""
    try:
        import llguidance.llamacpp  # noqa: F401
    except ImportError:
        return False
    return True


class GuidedDecoder:
    """llguidance-constrained generation for one ``llama_cpp.Llama`` (built once per backend).

    Building it reads the whole vocabulary (~1 s for a 49k-token model); the grammar of each
    request is compiled once and cached in ``cache``.

    Args:
        llm: the ``llama_cpp.Llama``.
        llama_cpp: the ``llama_cpp`` module.
        cache: where compiled grammars are kept.
        bounds: limits on open-ended values (see :class:`funcroute.constrain.bounds.DecodeBounds`).
        pieces: the bytes of every token (the backend reads them once, for its UTF-8 guard too).
        utf8: ``(table, masks)`` of the backend's UTF-8 guard (``table[state, token]``: the state
            after the token, ``masks[state]``: the tokens allowed in that state).
        seed: seeds the sampler for requests with a temperature above 0.
    """

    def __init__(
        self,
        llm: Any,
        llama_cpp: Any,
        cache: GrammarCache,
        bounds: DecodeBounds,
        pieces: list[bytes],
        utf8: tuple[Any, Any],
        seed: int = 0,
    ) -> None:
        import llguidance.llamacpp
        import numpy as np

        self.llm, self.llama_cpp, self.cache, self.bounds = llm, llama_cpp, cache, bounds
        self.n_vocab = int(llm.n_vocab())
        with warnings.catch_warnings():
            # llguidance reads token attributes through a name llama-cpp-python 0.3.36 deprecated
            # (llama_token_get_attr); the value is the same, and the warning is theirs to fix.
            warnings.filterwarnings(
                "ignore", message=r"llama_token_get_attr is deprecated", category=DeprecationWarning
            )
            self.tokenizer = llguidance.llamacpp.lltokenizer_from_vocab(llm._model.vocab)
        self.bitmask = np.zeros((self.n_vocab + 31) // 32, dtype=np.int32)
        self.digit_guard = DigitGuard([piece.decode("utf-8", "replace") for piece in pieces])
        self.utf8_table, self.utf8_masks = utf8
        self.rng = np.random.default_rng(seed)

    def matcher(self, request: Request) -> Any:
        """A fresh matcher for the request's grammar (a format's) or its JSON Schema."""
        if request.grammar is not None:
            from funcroute.constrain.formats import to_lark

            lark = to_lark(request.grammar, self.bounds)
            return self.cache.lark_matcher(self.tokenizer, self.n_vocab, lark)
        assert request.schema is not None
        return self.cache.matcher(self.tokenizer, self.n_vocab, dict(request.schema), self.bounds)

    def _feed_prompt(self, prompt: list[int], reuse_prefix: bool) -> list[int]:
        """Keep the cached prefix the prompt shares with the previous sequence; the rest to feed."""
        llm = self.llm
        shared = 0
        if reuse_prefix and llm.n_tokens > 0:
            for cached, token in zip(llm.input_ids[: llm.n_tokens].tolist(), prompt, strict=False):
                if cached != token:
                    break
                shared += 1
            shared = min(shared, len(prompt) - 1)  # the last prompt token is fed again for its logits
        if shared > 0 and llm._ctx.kv_cache_seq_rm(-1, shared, -1):
            llm.n_tokens = shared
            return prompt[shared:]
        llm.reset()
        return list(prompt)

    def generate(
        self,
        request: Request,
        prompt: list[int],
        budget: int,
        *,
        temperature: float,
        reuse_prefix: bool,
        is_end: Callable[[int], bool],
        stop_at: Callable[[str], int | None],
    ) -> GuidedResult:
        """Decode one reply under the request's grammar, at most ``budget`` tokens.

        ``stop_at(text)`` says where a stop string or detector cuts the text so far (``None``: not
        yet); ``is_end(token)`` whether a token ends the generation.
        """
        import numpy as np

        llm = self.llm
        matcher = self.matcher(request)
        pending = self._feed_prompt(prompt, reuse_prefix)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        worker = mask_worker()
        text, tail, generated, passes, utf8_state = "", "", 0, 0, 0
        finish = "length"

        def take(token: int) -> bool:
            """Append one accepted token; ``True`` when a stop string or detector ends the reply."""
            nonlocal text, tail, generated, utf8_state
            generated += 1
            utf8_state = max(int(self.utf8_table[utf8_state, token]), 0)
            tail = self.digit_guard.advance(tail, token)
            text += decoder.decode(llm.detokenize([token]))
            cut = stop_at(text)
            if cut is None:
                return False
            text = text[:cut]
            return True

        while generated < budget:
            if matcher.is_stopped():
                finish = "stop"
                break
            forced = matcher.compute_ff_tokens()
            if forced:
                forced = forced[: budget - generated]
                if not matcher.consume_tokens(forced):
                    raise RuntimeError(f"grammar refused its own forced tokens: {matcher.get_error()}")
                pending.extend(forced)
                if any(take(token) for token in forced):
                    finish = "stop"
                    break
                continue
            if matcher.is_accepting():
                # The reply may be complete: when nothing but the end may follow, no pass is needed.
                # The mask is computed first here (it decides), and then reused for the token.
                mask = worker.fill_array(matcher, self.bitmask)
                mask.result()
                if self._only_end(self._allowed(), is_end):
                    finish = "stop"
                    break
            else:
                # Computed while the model runs; the matcher is the worker's until ``mask.result()``.
                mask = worker.fill_array(matcher, self.bitmask)
            try:
                llm.eval(pending)
            finally:
                mask.result()
            passes += 1
            pending = []
            pointer = self.llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1)
            logits = np.ctypeslib.as_array(pointer, shape=(self.n_vocab,)).copy()
            allowed = self._allowed()
            logits[(allowed == 0) | ~self.utf8_masks[utf8_state]] = -np.inf
            self.digit_guard.apply(logits, tail)
            token = self._choose(logits, temperature)
            if not matcher.consume_token(token):
                raise RuntimeError(f"grammar refused token {token}: {matcher.get_error()}")
            if is_end(token):
                finish = "stop"
                break
            pending.append(token)
            if take(token):
                finish = "stop"
                break
        # Tokens taken but never fed (the last one, forced ones at the end) are simply not cached.
        return GuidedResult(text=text, tokens=generated, forward_passes=passes, finish_reason=finish)

    def _allowed(self) -> Any:
        """The mask just computed, one 0/1 entry per token."""
        import numpy as np

        return np.unpackbits(self.bitmask.view(np.uint8), bitorder="little", count=self.n_vocab)

    def _only_end(self, allowed: Any, is_end: Callable[[int], bool]) -> bool:
        """Whether every allowed token ends the generation (also when none is left)."""
        import numpy as np

        return all(is_end(int(token)) for token in np.flatnonzero(allowed))

    def _choose(self, logits: Any, temperature: float) -> int:
        import numpy as np

        if temperature <= 0:
            return int(np.argmax(logits))
        scaled = logits / temperature
        probs = np.exp(scaled - scaled.max())
        probs /= probs.sum()
        return int(self.rng.choice(len(probs), p=probs))
