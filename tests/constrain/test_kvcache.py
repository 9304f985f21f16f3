"""The one compatibility point for the KV-cache keyword of ``forward`` (funcroute.constrain._kvcache)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from funcroute.constrain._kvcache import cache_argument, forward_step


class _NewStyle:
    """A model as transformers >= 5.24 writes them: ``forward(..., cache=...)``, ``output.cache``."""

    def forward(self, input_ids: Any = None, cache: Any = None, use_cache: bool = False) -> Any:
        return SimpleNamespace(logits=("logits", input_ids), cache=(cache or ()) + (input_ids,))

    __call__ = forward


class _OldStyle:
    """A model as earlier releases write them: ``past_key_values`` in and out."""

    def forward(self, input_ids: Any = None, past_key_values: Any = None, use_cache: bool = False) -> Any:
        return SimpleNamespace(
            logits=("logits", input_ids), past_key_values=(past_key_values or ()) + (input_ids,)
        )

    __call__ = forward


@pytest.mark.parametrize(("model", "name"), [(_NewStyle(), "cache"), (_OldStyle(), "past_key_values")])
def test_forward_step_threads_the_cache_by_the_models_own_keyword(model: Any, name: str) -> None:
    assert cache_argument(model) == name
    logits, cache = forward_step(model, 1, None)
    assert logits == ("logits", 1) and cache == (1,)
    _, cache = forward_step(model, 2, cache)
    assert cache == (1, 2)


def test_the_installed_transformers_llama_is_recognised() -> None:
    transformers = pytest.importorskip("transformers")
    import inspect

    keyword = cache_argument(transformers.LlamaForCausalLM.__new__(transformers.LlamaForCausalLM))
    assert keyword in inspect.signature(transformers.LlamaForCausalLM.forward).parameters
