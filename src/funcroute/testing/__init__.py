"""Helpers for testing code built on funcroute without downloading real models.

:func:`build_tiny_model` writes a tiny random Llama model and its byte-level BPE tokenizer to a local
directory in a few seconds, so backends, grammars and routers can be exercised end to end offline.
The assertions, cassettes and prompt snapshots are what the pytest plugin (``funcroute.testing.plugin``,
registered automatically) builds on; they work without pytest too.
"""

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
