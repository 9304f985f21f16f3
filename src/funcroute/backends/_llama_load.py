"""Load a ``llama_cpp.Llama`` without llama.cpp's AMX weight repacking where it crashes.

On CPUs with Intel AMX (Sapphire Rapids and later), a llama.cpp built for the machine it runs on
(``pip install llama-cpp-python`` builds with ``GGML_NATIVE``) repacks quantized weights into an
"AMX" buffer, and ``ggml_backend_amx_mul_mat`` can then segfault on the first forward pass: the
process dies, no exception to catch (llama.cpp#20824; measured here on SmolLM2's Q4_1 GGUF, llama-cpp-python
0.3.36: every decode crashes; with repacking off, the same file runs). llama.cpp's model parameter
``use_extra_bufts`` turns the extra buffer types off, but ``llama_cpp.Llama`` does not expose it, so
while the model loads the default parameters it starts from are swapped for ones with it off.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["amx_reported", "load_llama", "repacking"]

# Serializes loads: the swap of the low-level module's default-parameters function is process-wide.
_LOADING = threading.Lock()


def amx_reported(llama_cpp: Any) -> bool:
    """Whether llama.cpp's system info says it was built with AMX for this CPU."""
    try:
        info = llama_cpp.llama_print_system_info()
    except Exception:  # an older or stubbed binding: nothing to say
        return False
    text = info.decode("utf-8", "replace") if isinstance(info, bytes) else str(info)
    return "AMX_INT8 = 1" in text


@contextmanager
def repacking(llama_cpp: Any, enabled: bool | None = None) -> Iterator[None]:
    """While inside, llama.cpp loads models with weight repacking as asked.

    ``enabled``: let llama.cpp repack weights into its extra CPU buffer types (AMX, and the
    AVX2/AVX-512 repacked layouts). ``None``: on, except where AMX is reported (see the module
    docstring), where it is off. Loads in other threads wait (the swap is process-wide); a process
    that only serves one model (``llama_cpp.server``) may stay inside for its whole life.
    """
    if enabled is None:
        enabled = not amx_reported(llama_cpp)
    low: Any = getattr(llama_cpp, "llama_cpp", None)
    default: Any = getattr(low, "llama_model_default_params", None)

    def without_repacking() -> Any:
        params = default()
        if hasattr(params, "use_extra_bufts"):
            params.use_extra_bufts = False
        return params

    # Every load holds the lock, so none starts while another's swap is in place.
    with _LOADING:
        if enabled or default is None:
            yield
            return
        low.llama_model_default_params = without_repacking
        try:
            yield
        finally:
            low.llama_model_default_params = default


def load_llama(llama_cpp: Any, *, weight_repacking: bool | None = None, **kwargs: Any) -> Any:
    """``llama_cpp.Llama(**kwargs)``, with weight repacking as asked (see :func:`repacking`)."""
    with repacking(llama_cpp, weight_repacking):
        return llama_cpp.Llama(**kwargs)
