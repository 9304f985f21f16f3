"""Reuse the KV cache of the previous prompt up to the longest prefix the next prompt shares.

Every command routed through one ToolSet starts with the same text (chat template preamble and the
selection instruction), and a repair turn repeats the whole first exchange; feeding those tokens to
the model again is wasted time to first token. :class:`PrefixCache` keeps the cache of the last
sequence a backend decoded and, for the next one, cuts it back to the longest common token prefix,
so only the new suffix is fed. llama.cpp does the same inside llama-cpp-python; this is the
transformers side.

Greedy replies can differ in rare cases: a suffix computed on top of a cached prefix runs the
attention kernels on other shapes than one full prefill, so logits can differ in the last bits
(``bench/peers.py`` reports the agreement rate on the BFCL cases).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from funcroute.constrain._kvcache import crop_cache

__all__ = ["PrefixCache"]


class PrefixCache:
    """The KV cache of one decoded sequence, lent out for the next sequence's shared prefix.

    Args:
        min_tokens: shorter shared prefixes are not worth reusing (the cache is dropped).
    """

    def __init__(self, min_tokens: int = 8) -> None:
        self.min_tokens = min_tokens
        self._lock = threading.Lock()
        self._ids: list[int] = []
        self._cache: Any = None
        #: prompt tokens served from the cache / fed to the model, summed over all takes
        self.reused_tokens = 0
        self.fed_tokens = 0

    def take(self, prompt_ids: Sequence[int]) -> tuple[Any, int]:
        """The cache for the longest shared prefix of ``prompt_ids`` and how many tokens it covers.

        The cache is handed over (the next :meth:`take` gets nothing until :meth:`keep` is called
        again), so two sequences never extend the same cache. At least one prompt token is always
        left to feed: the model needs it to produce the first reply logits.
        """
        with self._lock:
            cache, ids = self._cache, self._ids
            self._cache, self._ids = None, []
        shared = 0
        if cache is not None:
            limit = min(len(ids), len(prompt_ids) - 1)
            while shared < limit and ids[shared] == prompt_ids[shared]:
                shared += 1
        if shared < self.min_tokens:
            self.fed_tokens += len(prompt_ids)
            return None, 0
        crop_cache(cache, shared)
        self.reused_tokens += shared
        self.fed_tokens += len(prompt_ids) - shared
        return cache, shared

    def keep(self, ids: Sequence[int], cache: Any) -> None:
        """Store ``cache``, which holds exactly the tokens ``ids``, for the next :meth:`take`."""
        if cache is None:
            return
        with self._lock:
            self._ids, self._cache = list(ids), cache

    def clear(self) -> None:
        """Forget the stored cache."""
        with self._lock:
            self._ids, self._cache = [], None
