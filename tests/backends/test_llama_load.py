"""Loading llama.cpp models without AMX weight repacking where llama.cpp reports AMX.

A stand-in binding records the ``use_extra_bufts`` a load started from: the real crash needs an AMX
machine, and on one the real-model tier (tests/backends/test_realmodel.py) is what shows the fix.
"""

from __future__ import annotations

import threading
import types
from typing import Any

import pytest

from funcroute.backends._llama_load import amx_reported, load_llama


class _Params:
    def __init__(self) -> None:
        self.use_extra_bufts = True


def _binding(system_info: Any) -> types.SimpleNamespace:
    """A module shaped like ``llama_cpp``: its Llama reads the low-level default params."""
    low = types.SimpleNamespace(llama_model_default_params=_Params)
    seen: list[bool] = []

    class Llama:
        def __init__(self, **kwargs: Any) -> None:
            self.kwargs = kwargs
            seen.append(low.llama_model_default_params().use_extra_bufts)

    def info() -> Any:
        if isinstance(system_info, Exception):
            raise system_info
        return system_info

    return types.SimpleNamespace(Llama=Llama, llama_cpp=low, llama_print_system_info=info, seen=seen)


AMX = b"CPU : SSE3 = 1 | AVX2 = 1 | AVX512 = 1 | AMX_INT8 = 1 | REPACK = 1 | "
NO_AMX = b"CPU : SSE3 = 1 | AVX2 = 1 | AVX512 = 1 | REPACK = 1 | "


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        (AMX, True),
        (NO_AMX, False),
        (AMX.decode(), True),
        (b"AMX_INT8 = 0", False),
        (RuntimeError("x"), False),
    ],
)
def test_amx_is_read_from_llama_cpps_system_info(info: Any, expected: bool) -> None:
    assert amx_reported(_binding(info)) is expected


@pytest.mark.parametrize(
    ("info", "asked", "repacked"),
    [(AMX, None, False), (NO_AMX, None, True), (AMX, True, True), (NO_AMX, False, False)],
)
def test_repacking_is_off_by_default_only_where_amx_is_reported(
    info: bytes, asked: bool | None, repacked: bool
) -> None:
    binding = _binding(info)
    llm = load_llama(binding, weight_repacking=asked, model_path="m.gguf", n_ctx=64)
    assert binding.seen == [repacked]
    assert llm.kwargs == {"model_path": "m.gguf", "n_ctx": 64}
    # The binding's own default is back in place after the load.
    assert binding.llama_cpp.llama_model_default_params is _Params
    assert binding.llama_cpp.llama_model_default_params().use_extra_bufts is True


def test_a_failed_load_restores_the_default_params() -> None:
    binding = _binding(AMX)

    class Broken:
        def __init__(self, **kwargs: Any) -> None:
            raise ValueError("Failed to load model from file")

    binding.Llama = Broken
    with pytest.raises(ValueError, match="Failed to load"):
        load_llama(binding, model_path="m.gguf")
    assert binding.llama_cpp.llama_model_default_params is _Params


def test_concurrent_loads_each_get_what_they_asked_for() -> None:
    binding = _binding(NO_AMX)
    asked = [i % 2 == 0 for i in range(16)]
    results: dict[int, bool] = {}

    def load(i: int) -> None:
        before = len(binding.seen)
        load_llama(binding, weight_repacking=asked[i])
        results[i] = binding.seen[before]  # safe: loads are serialized

    threads = [threading.Thread(target=load, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == dict(enumerate(asked))


def test_a_binding_without_the_low_level_module_loads_as_is() -> None:
    binding = types.SimpleNamespace(Llama=lambda **kw: kw, llama_print_system_info=lambda: AMX)
    assert load_llama(binding, model_path="m.gguf") == {"model_path": "m.gguf"}
