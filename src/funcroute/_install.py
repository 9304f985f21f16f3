"""The distribution's name, the install hint, and the one import guard for optional extras.

The import package and the command are ``funcroute``, but the PyPI name ``funcroute`` belongs to an
unrelated project, so users install ``funcroute-llm``. Every hint is built here, so the name is
written once, and every optional dependency is imported through :func:`require`, so a missing one
always fails the same way: a funcroute error naming what needed it and the command that installs it.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from funcroute.errors import BackendError, UsageError

__all__ = ["DISTRIBUTION", "install_hint", "require"]

DISTRIBUTION = "funcroute-llm"


def install_hint(extra: str) -> str:
    """The shell command that installs ``extra``, e.g. ``pip install "funcroute-llm[semantic]"``."""
    return f'pip install "{DISTRIBUTION}[{extra}]"'


def require(module: str, extra: str, what: str, *, backend: str | None = None) -> ModuleType:
    """Import an optional dependency, or fail with the command that installs it.

    Typed libraries can be guarded first and then imported as usual, so mypy still sees them:
    ``require("jinja2", "templates", ...)`` followed by ``from jinja2.sandbox import ...``.

    Args:
        module: the (dotted) module to import, e.g. ``"llama_cpp"`` or ``"jinja2.sandbox"``.
        extra: the optional extra that installs it, e.g. ``"llamacpp"``.
        what: what needs it, the start of the message, e.g. ``"constrained decoding needs llguidance"``.
        backend: the backend that needs it; the failure is then that backend's (not retryable).

    Returns:
        The imported module.

    Raises:
        BackendError: the import failed and ``backend`` is given.
        UsageError: the import failed and no ``backend`` is given.

    Example:
        >>> require("json", "core", "parsing needs json").__name__
        'json'
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        # The original message stays: it names the module that is really missing, which is not
        # always the one asked for (a half-installed extra, a missing transitive dependency).
        message = f"{what}: {install_hint(extra)} ({exc})"
        if backend is not None:
            raise BackendError(backend, message, retryable=False) from exc
        raise UsageError(message) from exc
