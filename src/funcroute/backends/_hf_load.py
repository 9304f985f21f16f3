"""Loading a transformers model and tokenizer, and the facts the generation loop needs from them.

Everything here turns a failure into a :class:`funcroute.errors.BackendError` naming the backend,
so a wrong path or a missing file reads as one clear line, never a transformers traceback.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from funcroute._install import require
from funcroute.errors import BackendError, UsageError

__all__ = ["import_deps", "load_model", "max_positions", "no_progress_bars", "special_ids"]


def import_deps(name: str) -> tuple[Any, Any]:
    """Import torch and transformers, or raise a BackendError for ``name`` with the install hint."""
    what = "torch and transformers are required"
    return (
        require("torch", "transformers", what, backend=name),
        require("transformers", "transformers", what, backend=name),
    )


@contextmanager
def no_progress_bars() -> Iterator[None]:
    """Silence transformers' tqdm bars (loading/saving weights) for the duration, then restore them."""
    from transformers.utils import logging

    hf_logging: Any = logging
    were_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if were_on:
            hf_logging.enable_progress_bar()


def _resolve_dtype(torch: Any, dtype: Any, device: str) -> Any:
    if dtype is None:
        return "auto" if device.startswith("cuda") else torch.float32
    if isinstance(dtype, str) and dtype != "auto":
        return getattr(torch, dtype.removeprefix("torch."))
    return dtype


def _looks_local(path: str) -> bool:
    return os.path.isabs(path) or path.startswith((".", "~")) or os.path.exists(path)


def _load(name: str, auto_class: Any, source: str, **kwargs: Any) -> Any:
    """``auto_class.from_pretrained(source)``, with every failure turned into a BackendError."""
    if _looks_local(source) and not Path(source).expanduser().is_dir():
        raise BackendError(name, f"no model directory at {source!r}")
    try:
        with no_progress_bars():
            return auto_class.from_pretrained(str(Path(source).expanduser()), **kwargs)
    except Exception as exc:  # any loading failure (missing files, bad config, no network) is fatal
        what = "tokenizer" if "Tokenizer" in auto_class.__name__ else "model"
        raise BackendError(name, f"could not load the {what} from {source!r}: {exc}") from exc


def load_model(
    name: str, model_or_path: Any, tokenizer: Any, device: str | None, dtype: Any
) -> tuple[Any, Any]:
    """The model and tokenizer for a backend, loaded from paths or hub ids where given as such.

    Args:
        name: the backend's name, for errors.
        model_or_path: a path or hub id, or an already-loaded model.
        tokenizer: a tokenizer, a path or hub id to load one from, or ``None`` (load it from
            ``model_or_path``).
        device: where to put the model; ``None``: CUDA when available for a loaded-here model, and
            no move for a model passed in.
        dtype: a torch dtype or its name, or ``None`` for the device's default.

    Returns:
        ``(model, tokenizer)``, the model in eval mode.

    Raises:
        BackendError: loading failed.
        UsageError: a loaded model came without its tokenizer.
    """
    torch, transformers = import_deps(name)
    if not isinstance(model_or_path, (str, os.PathLike)):
        if tokenizer is None:
            raise UsageError("TransformersBackend: an already-loaded model needs its tokenizer too")
        model = model_or_path
        if device is not None:
            model.to(device)
    else:
        source = os.fspath(model_or_path)
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        model = _load(
            name, transformers.AutoModelForCausalLM, source, dtype=_resolve_dtype(torch, dtype, device)
        )
        # Quantized and device-mapped models are placed by transformers itself; moving them breaks them.
        if not (getattr(model, "is_quantized", False) or getattr(model, "hf_device_map", None)):
            model.to(device)
        if tokenizer is None:
            tokenizer = source
    if isinstance(tokenizer, (str, os.PathLike)):
        tokenizer = _load(name, transformers.AutoTokenizer, os.fspath(tokenizer))
    model.eval()
    return model, tokenizer


def max_positions(model: Any, tokenizer: Any) -> int | None:
    """The longest prompt plus reply the model accepts, when its config or tokenizer says."""
    config = model.config
    if hasattr(config, "get_text_config"):
        config = config.get_text_config()
    for attr in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(config, attr, None)
        if isinstance(value, int) and value > 0:
            return value
    limit = getattr(tokenizer, "model_max_length", None)
    return limit if isinstance(limit, int) and 0 < limit < 1_000_000 else None


def _id_list(value: Any) -> list[int]:
    return [] if value is None else [value] if isinstance(value, int) else [int(v) for v in value]


def special_ids(model: Any, tokenizer: Any) -> tuple[set[int], int]:
    """The end-of-sequence ids (generation config, model config and tokenizer together) and the pad id."""
    eos = set(
        _id_list(getattr(model.generation_config, "eos_token_id", None))
        + _id_list(getattr(model.config, "eos_token_id", None))
        + _id_list(tokenizer.eos_token_id)
    )
    pad = tokenizer.pad_token_id
    if pad is None:
        pad = getattr(model.generation_config, "pad_token_id", None)
    if pad is None:
        pad = min(eos) if eos else 0
    return eos, int(pad)
