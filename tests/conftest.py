"""Shared fixtures. Heavy imports (torch, transformers) happen inside fixtures, only when used."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from funcroute.backends.transformers import TransformersBackend


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Llama model + byte-level BPE tokenizer, built once per test session."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from funcroute.testing import build_tiny_model

    # The tiny model gains nothing from threads; on a busy CI box OpenMP spin-waits make it 5x slower.
    torch.set_num_threads(1)

    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="session")
def tiny_backend(tiny_model_dir: Path) -> TransformersBackend:
    """A greedy CPU TransformersBackend over the tiny model. Shared: do not mutate it."""
    from funcroute.backends.transformers import TransformersBackend

    return TransformersBackend(tiny_model_dir, device="cpu")
