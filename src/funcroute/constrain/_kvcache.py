"""One forward pass that carries the KV cache, across transformers releases.

transformers 5.24 renamed the cache argument and output field of ``forward`` from ``past_key_values``
to ``cache`` (the old name warns, and goes in 5.40); earlier releases know only ``past_key_values``.
This is the one place that knows: it asks the model's own ``forward`` signature which name it takes,
once per model class, instead of comparing version strings.
"""

from __future__ import annotations

import inspect
from functools import lru_cache
from typing import Any

__all__ = ["cache_argument", "crop_cache", "forward_step"]


@lru_cache(maxsize=64)
def _argument_of(forward: Any) -> str:
    try:
        parameters = inspect.signature(forward).parameters
    except (TypeError, ValueError):  # a C-implemented or wrapped forward: assume the long-lived name
        return "past_key_values"
    return "cache" if "cache" in parameters else "past_key_values"


def cache_argument(model: Any) -> str:
    """The keyword ``model.forward`` takes its KV cache by: ``"cache"`` or ``"past_key_values"``."""
    return _argument_of(type(model).forward)


def forward_step(model: Any, input_ids: Any, cache: Any) -> tuple[Any, Any]:
    """Run ``model`` on ``input_ids`` continuing ``cache`` (``None`` at first); return (logits, cache)."""
    name = cache_argument(model)
    output = model(input_ids=input_ids, use_cache=True, **{name: cache})
    return output.logits, getattr(output, name)


def crop_cache(cache: Any, keep: int) -> None:
    """Cut ``cache`` back to its first ``keep`` positions, in place.

    A negative argument to ``crop`` (tokens to remove) means the same in every release that has
    ``crop``; transformers 5 refuses the positive form (the absolute length) that 4.x also took.
    """
    length = int(cache.get_seq_length())
    if keep < length:
        cache.crop(keep - length)
