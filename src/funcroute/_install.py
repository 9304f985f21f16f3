"""The distribution's name and the install hint every optional-extra import guard prints.

The import package and the command are ``funcroute``, but the PyPI name ``funcroute`` belongs to an
unrelated project, so users install ``funcroute-llm``. Every hint is built here, so the name is
written once.
"""

from __future__ import annotations

__all__ = ["DISTRIBUTION", "install_hint"]

DISTRIBUTION = "funcroute-llm"


def install_hint(extra: str) -> str:
    """The shell command that installs ``extra``, e.g. ``pip install "funcroute-llm[semantic]"``."""
    return f'pip install "{DISTRIBUTION}[{extra}]"'
