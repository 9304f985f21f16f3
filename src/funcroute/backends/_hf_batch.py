"""One batch through ``model.generate``: left-padded rows that each stop on their own.

Stop handling is per row: a sequence that has stopped is padded while the others go on, and its text
is cut exactly as if it had been generated alone, so greedy batches equal a loop of single requests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

from funcroute.backends._stops import stop_index
from funcroute.backends.base import Completion, Request
from funcroute.constrain.decode import DigitGuard, GrammarLogitsProcessor, model_vocab_size
from funcroute.errors import BackendError

__all__ = ["Batch", "Row", "finish_row"]


@dataclass
class Row:
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

    def __init__(self, rows: Sequence[Row], prompt_width: int, tokenizer: Any, eos: set[int]) -> None:
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


@dataclass
class Batch:
    """What one ``model.generate`` call over rows needs from the backend.

    Attributes:
        name: the backend's name, for errors.
        model: the model.
        tokenizer: its tokenizer.
        eos: the end-of-sequence ids.
        pad: the pad id (prompts are left-padded with it).
        generate_kwargs: extra ``model.generate`` arguments (sampling, a ``logits_processor`` list).
        seed: re-seeds torch in a forked RNG state before generating; ``None`` leaves it alone.
    """

    name: str
    model: Any
    tokenizer: Any
    eos: set[int]
    pad: int
    generate_kwargs: dict[str, Any]
    seed: int | None

    def generate(self, rows: list[Row], digit_guard: DigitGuard | None) -> None:
        """Generate every row at once, filling their ``new_ids`` and stopping state.

        Args:
            rows: all free or all grammar-constrained (the grammar processor applies to every row).
            digit_guard: the digit-run bound, needed when the rows are constrained.

        Raises:
            BackendError: out of GPU memory, or generation failed.
        """
        import torch

        width = max(len(r.ids) for r in rows)
        device = self.model.device
        input_ids = torch.tensor([[self.pad] * (width - len(r.ids)) + r.ids for r in rows], device=device)
        mask = torch.tensor([[0] * (width - len(r.ids)) + [1] * len(r.ids) for r in rows], device=device)
        stopper = _RowStopper(rows, width, self.tokenizer, self.eos)
        processors, criteria, grammar = self._processors(rows, width, stopper, digit_guard)
        extra = {k: v for k, v in self.generate_kwargs.items() if k != "logits_processor"}
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
                    pad_token_id=self.pad,
                    eos_token_id=sorted(self.eos) or None,
                    use_cache=True,
                    **extra,
                )
            if grammar is not None:
                grammar.wait()  # the last prefetch may still be computing a mask nobody needs
        except Exception as exc:
            if grammar is not None:
                grammar.wait()
            self._raise(exc, stopper)

    def _processors(
        self, rows: list[Row], width: int, stopper: _RowStopper, digit_guard: DigitGuard | None
    ) -> tuple[Any, Any, GrammarLogitsProcessor | None]:
        """The logits processors and stopping criteria, with the grammar's when rows are constrained."""
        from transformers import LogitsProcessorList, StoppingCriteriaList

        processors = LogitsProcessorList(self.generate_kwargs.get("logits_processor") or [])
        criteria = StoppingCriteriaList([stopper])
        if rows[0].matcher is None:
            return processors, criteria, None
        eos = min(self.eos) if self.eos else self.pad
        vocab = model_vocab_size(self.model)
        grammar = GrammarLogitsProcessor([r.matcher for r in rows], width, vocab, eos, digit_guard)
        processors.append(grammar)
        criteria.append(grammar.prefetch)  # next masks computed during the forward pass
        return processors, criteria, grammar

    def _raise(self, exc: Exception, stopper: _RowStopper) -> NoReturn:
        """Re-raise a generation failure: the detector's own error as is, model faults as BackendError."""
        import torch

        if exc is stopper.error:
            raise exc
        if isinstance(exc, torch.cuda.OutOfMemoryError):
            raise BackendError(self.name, f"out of GPU memory: {exc}; lower max_batch_size") from exc
        if isinstance(exc, (RuntimeError, ValueError, IndexError)):
            raise BackendError(self.name, f"generation failed: {exc}") from exc
        raise exc


def finish_row(tokenizer: Any, row: Row, elapsed: float) -> Completion:
    """The completion of a generated row: decoded, cut at its stop point, with its counts."""
    new = row.new_ids
    body = new[:-1] if row.hit_eos else new
    text = tokenizer.decode(body, skip_special_tokens=True)
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
