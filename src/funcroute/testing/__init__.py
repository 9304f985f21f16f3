"""Helpers for testing code built on funcroute without downloading real models.

:func:`build_tiny_model` writes a tiny random Llama model and its byte-level BPE tokenizer to a local
directory in a few seconds, so backends, grammars and routers can be exercised end to end offline.
The assertions, cassettes and prompt snapshots are what the pytest plugin (``funcroute.testing.plugin``,
registered automatically) builds on; they work without pytest too.

The names below load on first use (PEP 562): backends import :mod:`funcroute.testing.guard`, and an
eager import of the helpers here would make that an import circle (the helpers import backends).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from funcroute.testing.assertions import (
        ABSENT,
        ANY,
        assert_calls,
        assert_parallel_calls,
        assert_valid_call,
        one_of,
    )
    from funcroute.testing.cassette import Cassette
    from funcroute.testing.snapshot import PromptSnapshot, assert_snapshot
    from funcroute.testing.tiny_model import build_tiny_model

_HOMES = {
    "ABSENT": "assertions",
    "ANY": "assertions",
    "Cassette": "cassette",
    "PromptSnapshot": "snapshot",
    "assert_calls": "assertions",
    "assert_parallel_calls": "assertions",
    "assert_snapshot": "snapshot",
    "assert_valid_call": "assertions",
    "build_tiny_model": "tiny_model",
    "one_of": "assertions",
}

__all__ = [
    "ABSENT",
    "ANY",
    "Cassette",
    "PromptSnapshot",
    "assert_calls",
    "assert_parallel_calls",
    "assert_snapshot",
    "assert_valid_call",
    "build_tiny_model",
    "one_of",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
