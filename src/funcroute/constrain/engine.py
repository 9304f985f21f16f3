"""Compile a reply schema into an llguidance matcher, once per (tokenizer, schema).

Why llguidance: it ships as one small wheel (xgrammar pulls in triton, ~1 GB, even on CPU), it
computes the forced continuation ("fast-forward tokens") that jump-forward decoding needs, and its
JSON strings exclude raw control characters. ``bench/constrained.py`` measures it beside xgrammar.

Settings that matter: at most one space between JSON tokens (``whitespace_pattern: " ?"``): real
models write ``{"a": 1, "b": 2}`` and are pushed off their distribution when the space is forbidden,
while free whitespace runs let a random model write spaces forever; the vocabulary size of the
*model* (its embedding matrix is often padded past the tokenizer's vocabulary; extra ids are always
masked), bounds on open-ended values (:mod:`funcroute.constrain.bounds`) and on digit runs
(:class:`funcroute.constrain.decode.DigitGuard`). The grammar allows one optional leading space, since Llama
tokenizers like the first reply token to carry it (`` {``).
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from typing import Any

from funcroute._install import require
from funcroute._lru import LRUCache
from funcroute.constrain.bounds import DecodeBounds, bound_schema
from funcroute.errors import BackendError, UsageError

__all__ = ["GrammarCache", "GrammarStats", "engine_available", "shared_cache"]


def engine_available() -> bool:
    """Whether the grammar engine (llguidance) can be imported."""
    try:
        import llguidance  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass
class GrammarStats:
    """Counters for tests and benchmarks: how often a grammar was compiled or reused."""

    compiles: int = 0
    hits: int = 0
    tokenizers: int = 0


class GrammarCache:
    """Compiled matchers keyed by (tokenizer, vocabulary size, schema, bounds); LRU-bounded.

    Each :meth:`matcher` call returns a fresh copy of the compiled matcher, so concurrent generations
    never share parser state.
    """

    def __init__(self, max_grammars: int = 64) -> None:
        self.max_grammars = max_grammars
        self.stats = GrammarStats()
        self._lock = threading.Lock()
        self._tokenizers: dict[tuple[int, int], tuple[Any, Any]] = {}
        self._grammars: LRUCache[Any] = LRUCache(max_grammars)
        self._fingerprints: dict[int, tuple[Any, str]] = {}

    def tokenizer(self, hf_tokenizer: Any, n_vocab: int) -> Any:
        """The llguidance view of a Hugging Face fast tokenizer (built once: it costs ~50 ms-1 s).

        An ``llguidance.LLTokenizer`` (the llama.cpp backend builds its own from the GGUF's
        vocabulary) is used as it is.
        """
        key = (id(hf_tokenizer), n_vocab)
        with self._lock:
            found = self._tokenizers.get(key)
            if found is not None and found[0] is hf_tokenizer:
                return found[1]
        llguidance = _import_engine()
        if isinstance(hf_tokenizer, llguidance.LLTokenizer):
            wrapped = hf_tokenizer
        else:
            import llguidance.hf

            try:
                wrapped = llguidance.hf.from_tokenizer(hf_tokenizer, n_vocab=n_vocab)
            except ValueError as exc:
                raise UsageError(f"constrained decoding needs a fast (Rust) tokenizer: {exc}") from exc
        with self._lock:
            # Keep the tokenizer itself alive with its wrapper so its id() cannot be reused.
            self._tokenizers[key] = (hf_tokenizer, wrapped)
            self.stats.tokenizers += 1
        return wrapped

    def _fingerprint(self, schema: dict[str, Any], bounds: DecodeBounds) -> str:
        # Routers pass the same cached schema object each time: remember its hash by identity.
        known = self._fingerprints.get(id(schema))
        if known is not None and known[0] is schema:
            return known[1]
        text = json.dumps([schema, bounds.__dict__], sort_keys=True, default=str)
        digest = hashlib.sha256(text.encode()).hexdigest()
        if len(self._fingerprints) > 4 * self.max_grammars:
            self._fingerprints.clear()
        self._fingerprints[id(schema)] = (schema, digest)
        return digest

    def matcher(self, hf_tokenizer: Any, n_vocab: int, schema: dict[str, Any], bounds: DecodeBounds) -> Any:
        """A fresh matcher for replies matching ``schema`` (compiled on first use, then copied)."""
        llguidance = _import_engine()
        key = f"{id(hf_tokenizer)}:{n_vocab}:{self._fingerprint(schema, bounds)}"
        return self._compiled(
            hf_tokenizer, n_vocab, key, lambda: _grammar_text(llguidance, bound_schema(schema, bounds))
        )

    def lark_matcher(self, hf_tokenizer: Any, n_vocab: int, lark: str) -> Any:
        """A fresh matcher for an llguidance Lark grammar (a format's, from ``constrain.formats``)."""
        llguidance = _import_engine()
        key = f"{id(hf_tokenizer)}:{n_vocab}:{hashlib.sha256(lark.encode()).hexdigest()}"
        return self._compiled(
            hf_tokenizer, n_vocab, key, lambda: str(llguidance.LLMatcher.grammar_from_lark(lark))
        )

    def _compiled(self, hf_tokenizer: Any, n_vocab: int, key: str, grammar_text: Any) -> Any:
        llguidance = _import_engine()
        compiled = self._grammars.get(key)
        if compiled is not None:
            with self._lock:
                self.stats.hits += 1
                return compiled.deep_copy()
        tokenizer = self.tokenizer(hf_tokenizer, n_vocab)
        grammar = grammar_text()
        compiled = llguidance.LLMatcher(tokenizer, grammar, log_level=0)
        if compiled.is_error():
            raise BackendError(
                "constrain", f"the reply schema does not compile to a grammar: {compiled.get_error()}"
            )
        compiled = self._grammars.put(key, compiled)
        with self._lock:
            self.stats.compiles += 1
        return compiled.deep_copy()


def _grammar_text(llguidance: Any, schema: dict[str, Any]) -> str:
    schema = dict(schema)
    schema.pop("$schema", None)
    # One optional space between tokens, never a run of them (see the module docstring).
    schema["x-guidance"] = {"whitespace_flexible": False, "whitespace_pattern": " ?"}
    lark = f'start: " "? call\ncall: %json {json.dumps(schema)}'
    return str(llguidance.LLMatcher.grammar_from_lark(lark))


def _import_engine() -> Any:
    return require("llguidance", "constrained", "constrained decoding needs llguidance", backend="constrain")


_SHARED = GrammarCache()


def shared_cache() -> GrammarCache:
    """The process-wide grammar cache backends use by default."""
    return _SHARED
