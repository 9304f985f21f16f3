"""Token masks off the critical path: computed on another thread, applied in place.

The mask for the next step depends only on the tokens already chosen, not on the logits, so it can
be computed while the model runs its forward pass (llguidance drops the GIL while it computes a
mask, as torch does inside its kernels). :class:`MaskWorker` runs that computation on one
long-lived thread; :func:`apply_mask_` writes ``-inf`` into the disallowed logits in place.

Why not ``llguidance.torch.apply_token_bitmask_inplace``: it is a ``torch.compile`` kernel that on
CPU expands the bitmask to a 32x larger int tensor and a boolean one on every call (and compiles on
first use); unpacking the bits with numpy into a buffer reused across steps is several times cheaper
and needs no compiler. On other devices the llguidance kernel is used, with the mask copied over.
"""

from __future__ import annotations

import sys
import threading
import warnings
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

__all__ = ["MaskWorker", "apply_mask_", "lltorch", "mask_worker"]

_WORKER_LOCK = threading.Lock()
_WORKER: MaskWorker | None = None


class MaskWorker:
    """One background thread filling llguidance bitmasks while the caller runs the model."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="funcroute-mask")

    def fill(self, matcher: Any, bitmask: Any, row: int = 0) -> Future[None]:
        """Start computing ``matcher``'s next-token mask into ``bitmask[row]``; wait on the result."""
        return self._pool.submit(_fill, matcher, bitmask, row)

    def fill_array(self, matcher: Any, bitmask: Any) -> Future[None]:
        """Start computing ``matcher``'s next-token mask into a contiguous int32 numpy ``bitmask``."""
        return self._pool.submit(_fill_array, matcher, bitmask)

    def fill_many(self, jobs: list[tuple[Any, int]], bitmask: Any) -> Future[None]:
        """Start computing the masks of several ``(matcher, row)`` pairs into ``bitmask``."""
        return self._pool.submit(_fill_many, jobs, bitmask)


def lltorch() -> Any:
    """``llguidance.torch``, imported without failing on its torch.jit deprecation warning."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.jit.*", category=DeprecationWarning)
        import llguidance.torch

    return llguidance.torch


def mask_worker() -> MaskWorker:
    """The process-wide worker (its one thread is created on first use and lives with the process)."""
    global _WORKER
    with _WORKER_LOCK:
        if _WORKER is None:
            _WORKER = MaskWorker()
        return _WORKER


def _fill(matcher: Any, bitmask: Any, row: int) -> None:
    view = bitmask[row]
    matcher.unsafe_compute_mask_ptr(view.data_ptr(), view.numel() * view.element_size())


def _fill_array(matcher: Any, bitmask: Any) -> None:
    matcher.unsafe_compute_mask_ptr(bitmask.ctypes.data, bitmask.nbytes)


def _fill_many(jobs: list[tuple[Any, int]], bitmask: Any) -> None:
    for matcher, row in jobs:
        _fill(matcher, bitmask, row)


def apply_mask_(logits: Any, bitmask: Any, rows: Any = None) -> None:
    """Set ``logits[r, t] = -inf`` wherever bit ``t`` of ``bitmask[r]`` is 0, in place.

    Args:
        logits: a ``(batch, vocab)`` float tensor (a 1-D tensor is one row).
        bitmask: the ``(batch, ceil(vocab / 32))`` int32 llguidance bitmask, on CPU.
        rows: the rows to mask (default: all); other rows are left as they are.
    """
    import numpy as np

    target = logits.unsqueeze(0) if logits.dim() == 1 else logits
    vocab = target.shape[1]
    selected = range(target.shape[0]) if rows is None else rows
    cpu = target.device.type == "cpu" and sys.byteorder == "little"  # the bit order read below
    if not cpu or target.dtype.itemsize != 4 or not target.is_contiguous():
        _apply_with_llguidance(target, bitmask, list(selected))
        return
    values = target.numpy()
    bits = bitmask.numpy().view(np.uint8)
    width = bits.shape[1] * 8
    for row in selected:
        allowed = np.unpackbits(bits[row], bitorder="little", count=min(vocab, width))
        row_values = values[row]
        row_values[: allowed.shape[0]][allowed == 0] = -np.inf
        if vocab > width:
            row_values[width:] = -np.inf  # ids past the mask: the grammar knows no such token


def _apply_with_llguidance(logits: Any, bitmask: Any, rows: list[int]) -> None:
    import torch

    index = torch.tensor(rows, device=logits.device)
    part = logits[index]
    lltorch().apply_token_bitmask_inplace(part, bitmask[index.cpu()].to(logits.device))
    logits[index] = part
