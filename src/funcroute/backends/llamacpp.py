"""Run a GGUF model in process with llama-cpp-python.

Needs the ``llamacpp`` extra (``pip install "funcroute-llm[llamacpp]"``); ``llama_cpp`` is imported when a
backend is created, so importing this module is free. Generation is greedy by default and runs
token by token, so stop strings and the request's ``stop_when`` detector end it as soon as they
match, and the reply is cut exactly there. When a request carries a JSON Schema or a format's
grammar (and ``grammar`` is on), decoding is constrained to it: by llguidance where it is installed
(:mod:`funcroute.backends._llama_guided`: the grammar's forced text goes to the model as the
tokenizer's own tokens, in one pass), else by llama.cpp's grammar sampler with
:func:`funcroute.constrain.gbnf.schema_to_gbnf`'s GBNF grammar (``grammar_engine`` chooses).

Replies are always valid UTF-8. llama.cpp's grammar engine decodes UTF-8 leniently (an overlong
``F0 8D 8D 8D`` passes as one character), and byte-level vocabularies let a model emit exactly such
byte sequences; so every step also masks the tokens whose bytes would make the reply invalid UTF-8
(a small per-token table, built on first use). A reply cut by ``max_new_tokens`` in the middle of a
multi-byte character drops the incomplete character.
"""

from __future__ import annotations

import codecs
import os
import pathlib
import threading
import time
from collections.abc import Mapping
from contextlib import closing
from typing import Any, Literal

from funcroute._install import install_hint, require
from funcroute._lru import LRUCache
from funcroute.backends._llama_guided import GuidedDecoder, guidance_for_llama
from funcroute.backends._llama_load import load_llama
from funcroute.backends._stops import stop_index
from funcroute.backends.base import Backend, Completion, Request
from funcroute.constrain.bounds import DecodeBounds
from funcroute.constrain.engine import shared_cache
from funcroute.errors import BackendError, UsageError
from funcroute.testing.guard import check_allowed

__all__ = ["LlamaCppBackend"]

#: UTF-8 decoder states: 0 is "between characters"; the others are (continuation bytes still
#: needed, lowest and highest allowed next byte), following RFC 3629's table of valid sequences.
_UTF8_STATES: list[tuple[int, int, int]] = [
    (0, 0, 0),
    (1, 0x80, 0xBF),
    (2, 0xA0, 0xBF),
    (2, 0x80, 0xBF),
    (2, 0x80, 0x9F),
    (3, 0x90, 0xBF),
    (3, 0x80, 0xBF),
    (3, 0x80, 0x8F),
]
_UTF8_INDEX = {state: i for i, state in enumerate(_UTF8_STATES)}


def _utf8_step(state: int, byte: int) -> int:
    """The decoder state after ``byte``, or -1 when the byte makes the text invalid UTF-8."""
    if state == 0:
        if byte < 0x80:
            return 0
        if 0xC2 <= byte <= 0xDF:
            return 1
        if byte == 0xE0:
            return 2
        if 0xE1 <= byte <= 0xEC or byte in (0xEE, 0xEF):
            return 3
        if byte == 0xED:
            return 4
        if byte == 0xF0:
            return 5
        if 0xF1 <= byte <= 0xF3:
            return 6
        if byte == 0xF4:
            return 7
        return -1
    remaining, low, high = _UTF8_STATES[state]
    if not low <= byte <= high:
        return -1
    return 0 if remaining == 1 else _UTF8_INDEX[(remaining - 1, 0x80, 0xBF)]


def _utf8_table(pieces: list[bytes]) -> Any:
    """``table[state, token]``: the decoder state after the token's bytes, or -1 if invalid.

    An empty piece (a control token such as EOS) is allowed between characters only.
    """
    import numpy as np

    table = np.full((len(_UTF8_STATES), len(pieces)), -1, dtype=np.int8)
    for token, piece in enumerate(pieces):
        first = piece[0] if piece else None
        for start in range(len(_UTF8_STATES)):
            if start and (first is None or not 0x80 <= first <= 0xBF):
                continue  # mid-character, only a continuation byte can follow
            state = start
            for byte in piece:
                state = _utf8_step(state, byte)
                if state < 0:
                    break
            table[start, token] = state
    return table


class LlamaCppBackend(Backend):
    """A GGUF model loaded in this process with llama-cpp-python.

    Generation is greedy unless a request sets ``extra["temperature"]``. Requests are served one at
    a time (a lock guards the model); :meth:`acomplete` runs them in a worker thread.

    Args:
        model_path: the ``.gguf`` file.
        n_ctx: context window in tokens (prompt plus reply).
        seed: sampling seed (only matters when a request asks for a temperature above 0).
        n_threads: CPU threads for generation and prompt processing (``n_threads_batch`` in
            ``kwargs`` overrides the latter); llama-cpp-python's defaults when ``None``.
        grammar: constrain decoding to the request's JSON Schema (or format grammar) when it has one.
        grammar_engine: ``"llguidance"`` (canonical forced tokens, jump-forward; needs the
            ``constrained`` extra), ``"gbnf"`` (llama.cpp's own grammar sampler: the model may spell
            forced text in any tokens, which throws a small model off: see
            :mod:`funcroute.backends._llama_guided`), or ``"auto"`` (default): llguidance when it
            is installed and can read llama.cpp vocabularies, else GBNF.
        decode_bounds: limits that keep a weak model from writing one value forever (llguidance
            engine; see :class:`funcroute.constrain.bounds.DecodeBounds`).
        prefix_cache: keep the KV cache of the previous request and feed only the tokens after
            the longest prefix the next prompt shares with it (llama-cpp-python's own prefix
            matching). ``False`` evaluates every prompt from scratch.
        weight_repacking: let llama.cpp repack the weights for this CPU. ``None`` (default): yes,
            except on CPUs where llama.cpp reports AMX, whose repacked kernels crash the process on
            some machines (llama.cpp#20824); ``True`` forces it on there.
        **kwargs: passed on to ``llama_cpp.Llama`` (e.g. ``n_gpu_layers=-1``); ``verbose`` defaults
            to ``False``.

    Raises:
        BackendError: llama-cpp-python is missing, the file does not exist, or llama.cpp cannot
            load it.

    Example:
        >>> backend = LlamaCppBackend("airoboros-l2-7b.Q4_K_M.gguf", n_ctx=4096)  # doctest: +SKIP
        >>> backend.complete(Request(prompt="USER: hi ASSISTANT:", stop=("USER:",)))  # doctest: +SKIP
    """

    # Real backend: it checks the test guard itself (the pytest plugin need not wrap it).
    __funcroute_checks_requests__ = True

    name = "llamacpp"

    def __init__(
        self,
        model_path: str | os.PathLike[str],
        *,
        n_ctx: int = 4096,
        seed: int = 0,
        n_threads: int | None = None,
        grammar: bool = True,
        grammar_engine: Literal["auto", "llguidance", "gbnf"] = "auto",
        decode_bounds: DecodeBounds | None = None,
        prefix_cache: bool = True,
        weight_repacking: bool | None = None,
        **kwargs: Any,
    ) -> None:
        check_allowed(self, "constructed")
        path = pathlib.Path(model_path)
        label = f"{self.name} ({path})"
        self._llama_cpp: Any = require(
            "llama_cpp", "llamacpp", "llama-cpp-python is not installed", backend="llamacpp"
        )
        if not path.is_file():
            raise BackendError(label, f"model file not found: {path}", retryable=False)
        self.model_path = path
        self.grammar = grammar
        if grammar_engine not in ("auto", "llguidance", "gbnf"):
            raise UsageError(f"grammar_engine must be 'auto', 'llguidance' or 'gbnf', not {grammar_engine!r}")
        if grammar_engine == "llguidance" and not guidance_for_llama():
            raise BackendError(
                label,
                "grammar_engine='llguidance' needs llguidance with llama.cpp support "
                f"({install_hint('constrained')})",
                retryable=False,
            )
        self.grammar_engine = (
            grammar_engine if grammar_engine != "auto" else ("llguidance" if guidance_for_llama() else "gbnf")
        )
        self.decode_bounds = decode_bounds or DecodeBounds()
        self._guided: GuidedDecoder | None = None
        self.prefix_cache = prefix_cache
        self._label = label
        self._lock = threading.Lock()
        self._grammars: LRUCache[Any] = LRUCache(64)
        self._utf8: Any = None
        self._token_bytes: list[bytes] | None = None
        self._seed = seed
        options: dict[str, Any] = {"verbose": False, **kwargs}
        if n_threads is not None:
            options.setdefault("n_threads_batch", n_threads)
        try:
            self._llm: Any = load_llama(
                self._llama_cpp,
                weight_repacking=weight_repacking,
                model_path=str(path),
                n_ctx=n_ctx,
                seed=seed,
                n_threads=n_threads,
                **options,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise BackendError(label, f"cannot load model: {exc}", retryable=False) from exc

    def __repr__(self) -> str:
        return f"LlamaCppBackend({str(self.model_path)!r})"

    @property
    def llm(self) -> Any:
        """The underlying ``llama_cpp.Llama`` (for advanced use)."""
        if self._llm is None:
            raise BackendError(self._label, "backend is closed", retryable=False)
        return self._llm

    def _grammar_for(self, schema: Mapping[str, Any]) -> Any:
        from funcroute.constrain.gbnf import schema_to_gbnf

        return self._compile_gbnf(schema_to_gbnf(schema))

    def _compile_gbnf(self, text: str) -> Any:
        return self._grammars.get_or_build(text, lambda: self._parse_gbnf(text))

    def _parse_gbnf(self, text: str) -> Any:
        # LlamaGrammar only stores the text; llama.cpp parses it when sampling starts and a parse
        # failure there is fatal, so parse it once here and fail cleanly instead.
        llama_cpp = self._llama_cpp
        sampler = llama_cpp.llama_sampler_init_grammar(self.llm._model.vocab, text.encode("utf-8"), b"root")
        if not sampler:
            raise BackendError(self._label, "llama.cpp rejected the schema's grammar", retryable=False)
        llama_cpp.llama_sampler_free(sampler)
        return llama_cpp.LlamaGrammar.from_string(text, verbose=False)

    def _pieces(self) -> list[bytes]:
        """The bytes of every token (read once: the UTF-8 guard and the digit guard need them)."""
        if self._token_bytes is None:
            llm = self.llm
            self._token_bytes = [llm.detokenize([i]) for i in range(llm.n_vocab())]
        return self._token_bytes

    def _utf8_masks(self) -> tuple[Any, Any]:
        """The per-state token table and the boolean masks derived from it (built once)."""
        if self._utf8 is None:
            table = _utf8_table(self._pieces())
            self._utf8 = (table, table >= 0)
        table, masks = self._utf8
        return table, masks

    def _is_end(self, token: int) -> bool:
        llm = self.llm
        is_eog = getattr(self._llama_cpp, "llama_vocab_is_eog", None)
        if is_eog is not None:
            return bool(is_eog(llm._model.vocab, token))
        return bool(token == llm.token_eos())  # pragma: no cover - older llama-cpp-python

    def complete(self, request: Request) -> Completion:
        """Generate the reply for one request.

        Args:
            request: the prompt, stop strings, token budget and optional schema.

        Returns:
            The reply, cut before the first stop string or where ``request.stop_when`` says.

        Raises:
            BackendError: the prompt does not fit in the context window, or generation failed.
        """
        check_allowed(self, "asked for a completion (complete)")
        with self._lock:
            return self._complete(request)

    def _request_grammar(self, request: Request) -> Any:
        """The compiled grammar for the request's reply, or ``None`` when it is unconstrained."""
        if self.grammar and request.grammar is not None:
            from funcroute.constrain.formats import to_gbnf

            return self._compile_gbnf(to_gbnf(request.grammar))
        if self.grammar and request.schema is not None:
            return self._grammar_for(request.schema)
        return None

    def _tokens_and_budget(self, request: Request) -> tuple[list[int], int]:
        """The prompt's tokens (one BOS) and how many may be generated within ``n_ctx``."""
        llm = self.llm
        tokens: list[int] = llm.tokenize(request.prompt.encode("utf-8"), add_bos=True, special=True)
        bos = llm.token_bos()
        if len(tokens) > 1 and tokens[0] == bos and tokens[1] == bos:
            tokens = tokens[1:]  # the prompt already started with the BOS text
        room = llm.n_ctx() - len(tokens)
        if room <= 0:
            raise BackendError(
                self._label,
                f"prompt is {len(tokens)} tokens; the context window (n_ctx) is {llm.n_ctx()}",
                retryable=False,
            )
        return tokens, min(request.max_new_tokens, room)

    def _guided_decoder(self) -> GuidedDecoder:
        if self._guided is None:
            self._guided = GuidedDecoder(
                self.llm,
                self._llama_cpp,
                shared_cache(),
                self.decode_bounds,
                self._pieces(),
                self._utf8_masks(),
                seed=self._seed,
            )
        return self._guided

    def _complete(self, request: Request) -> Completion:
        start = time.perf_counter()
        constrained = request.grammar is not None or request.schema is not None
        if self.grammar and constrained and self.grammar_engine == "llguidance":
            return self._complete_guided(request, start)
        llm = self.llm
        grammar = self._request_grammar(request)
        tokens, budget = self._tokens_and_budget(request)
        temperature = float(request.extra.get("temperature", 0.0))
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        table, masks = self._utf8_masks()
        utf8_state = 0

        def valid_utf8_only(_: Any, scores: Any) -> Any:
            import numpy as np

            return np.where(masks[utf8_state], scores, -np.inf)

        processors = self._llama_cpp.LogitsProcessorList([valid_utf8_only])
        text = ""
        generated = 0
        finish = "length"
        if not self.prefix_cache:
            llm.reset()  # no previous tokens to match: the whole prompt is evaluated
        try:
            stream = llm.generate(
                tokens, temp=temperature, grammar=grammar, reset=True, logits_processor=processors
            )
            with closing(stream):
                for token in stream:
                    if self._is_end(token):
                        finish = "stop"
                        break
                    generated += 1
                    utf8_state = max(int(table[utf8_state, token]), 0)
                    text += decoder.decode(llm.detokenize([token]))
                    cut = stop_index(text, request.stop, request.stop_when)
                    if cut is not None:
                        text, finish = text[:cut], "stop"
                        break
                    if generated >= budget:
                        break
        except BackendError:
            raise
        except Exception as exc:
            raise BackendError(self._label, f"generation failed: {exc}", retryable=False) from exc
        # The decoder is never flushed: an incomplete trailing character is dropped.
        return Completion(
            text=text,
            finish_reason=finish,
            prompt_tokens=len(tokens),
            completion_tokens=generated,
            elapsed_s=time.perf_counter() - start,
        )

    def _complete_guided(self, request: Request, start: float) -> Completion:
        decoder = self._guided_decoder()
        tokens, budget = self._tokens_and_budget(request)
        try:
            result = decoder.generate(
                request,
                tokens,
                budget,
                temperature=float(request.extra.get("temperature", 0.0)),
                reuse_prefix=self.prefix_cache,
                is_end=self._is_end,
                stop_at=lambda text: stop_index(text, request.stop, request.stop_when),
            )
        except BackendError:
            raise
        except Exception as exc:
            raise BackendError(self._label, f"generation failed: {exc}", retryable=False) from exc
        return Completion(
            text=result.text,
            finish_reason=result.finish_reason,
            prompt_tokens=len(tokens),
            completion_tokens=result.tokens,
            elapsed_s=time.perf_counter() - start,
            forward_passes=result.forward_passes,
        )

    def chat_template(self, **variables: Any) -> Any:
        """The model's own chat template from the GGUF metadata, as a ``NativeTemplate``.

        Pass it as ``Router(tools, backend, chat_template=backend.chat_template())`` to prompt the
        model in its own tool format. Raises ``TemplateError`` when the file has none.
        """
        from funcroute.errors import TemplateError
        from funcroute.prompts.native import NativeTemplate

        source = (getattr(self.llm, "metadata", None) or {}).get("tokenizer.chat_template")
        if not source:
            raise TemplateError(f"{self.model_path} has no tokenizer.chat_template metadata")
        llm = self.llm
        bos = llm.detokenize([llm.token_bos()], special=True).decode("utf-8", "replace")
        eos = llm.detokenize([llm.token_eos()], special=True).decode("utf-8", "replace")
        return NativeTemplate(source, bos_token=bos, eos_token=eos, variables=variables)

    def close(self) -> None:
        """Free the model. Safe to call twice."""
        llm, self._llm = self._llm, None
        if llm is not None:
            llm.close()
