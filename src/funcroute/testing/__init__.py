"""Helpers for testing code built on funcroute without downloading real models.

:func:`build_tiny_model` writes a tiny random Llama model and its byte-level BPE tokenizer to a local
directory in a few seconds, so backends, grammars and routers can be exercised end to end offline.
"""

from funcroute.testing.tiny_model import build_tiny_model

__all__ = ["build_tiny_model"]
