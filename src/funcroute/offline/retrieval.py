"""Tool retrieval: score every tool of a catalog against a command, dense + lexical.

:class:`ToolIndex` embeds each tool twice with the sentence encoder (``name words: description``, and
the same text followed by its parameters) and keeps a lexical view of the same words. A command is
scored against every tool at once:

* **dense** - the mean cosine similarity of the command with the two tool texts;
* **lexical** - how much of the command the tool's words cover, and how much of the tool's name the
  command mentions (stemmed words, stopwords dropped), plus BM25 for ranking large catalogs.

The relevance score is on a fixed scale, so one threshold means the same thing for a catalog of 1
tool or 10,000. Building the index embeds only texts the encoder has not cached, and an
index over a ToolSet re-syncs itself when tools are added. ``selector`` plugs it into a Router::

    index = ToolIndex(tools)
    router = Router(tools, backend, tool_selector=index.selector(k=5))
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from funcroute.offline.words import content_words, name_words
from funcroute.tools.tool import Tool
from funcroute.tools.toolset import ToolSet

if TYPE_CHECKING:
    from funcroute.offline.encoder import Encoder, Matrix

__all__ = ["Scores", "ToolIndex", "tool_text"]

# Weights measured on BFCL (bench/semantic.py). Whether a tool fits at all: the dense similarity does
# most of the work and the share of the tool's name the command mentions helps. Which of several
# tools fits best: also the share of the command's words the tool covers (it separates near-synonymous
# tools, but as a fit signal it rewards generic overlap). Ranking a large catalog: BM25, normalised
# to the best tool, breaks the many near-ties among similar tools.
_W_NAME_COVER = 0.15
_W_QUERY_COVER = 0.15
_W_BM25 = 0.6
_BM25_K1, _BM25_B = 1.2, 0.75


def _param_lines(schema: dict[str, Any], prefix: str = "") -> Iterable[str]:
    for name, spec in (schema.get("properties") or {}).items():
        if not isinstance(spec, dict):
            continue
        description = " ".join(str(spec.get("description") or "").split())
        label = name_words(prefix + name)
        yield f"{label} ({description})" if description else label
        if isinstance(spec.get("properties"), dict):
            yield from _param_lines(spec, prefix=f"{name} ")


def tool_text(tool: Tool, *, parameters: bool = True) -> str:
    """The text a tool is embedded by: its name as words and its description, then its parameters."""
    text = f"{name_words(tool.name)}: {' '.join(tool.description.split())}"
    params = "; ".join(_param_lines(tool.schema)) if parameters else ""
    return f"{text} Parameters: {params}" if params else text


@dataclass(frozen=True)
class Scores:
    """Every tool's scores for one query, aligned with ``names``.

    Attributes:
        names: tool names, in index order.
        dense: mean cosine similarity with the tool's two texts.
        query_cover: share of the query's content words found in the tool's text.
        name_cover: share of the tool's name words found in the query.
        bm25: BM25 of the query against the tool's text, divided by its maximum over the catalog.
    """

    names: list[str]
    dense: Matrix
    query_cover: Matrix
    name_cover: Matrix
    bm25: Matrix

    @property
    def relevance(self) -> Matrix:
        """How well each tool fits, on a fixed scale (about -0.2 to 1.2): a threshold applies to it."""
        total: Matrix = self.dense + _W_NAME_COVER * self.name_cover
        return total

    @property
    def selection(self) -> Matrix:
        """Relevance plus word coverage of the command: for choosing among the tools that fit."""
        total: Matrix = self.relevance + _W_QUERY_COVER * self.query_cover
        return total

    @property
    def ranking(self) -> Matrix:
        """Dense plus normalised BM25, for ordering the tools of a large catalog (not a threshold)."""
        total: Matrix = self.dense + _W_BM25 * self.bm25
        return total


class ToolIndex:
    """A searchable index of tools, hybrid lexical + dense.

    Args:
        tools: a ToolSet (followed: tools added later are indexed on the next search) or tools.
        encoder: sentence encoder (default: the process-wide shared one).
    """

    def __init__(self, tools: ToolSet | Iterable[Tool] = (), *, encoder: Encoder | None = None) -> None:
        self._encoder = encoder
        self._toolset = tools if isinstance(tools, ToolSet) else None
        self._fingerprint: str | None = None
        self._lock = threading.RLock()
        self._tools: list[Tool] = []
        self._rows: dict[str, int] = {}
        self._matrix: Matrix = np.zeros((0, 384), dtype=np.float32)
        self._vectors: dict[str, Matrix] = {}
        self._name_postings: dict[str, Any] = {}
        self._name_sizes: Matrix = np.zeros(0, dtype=np.float32)
        self._postings: dict[str, tuple[Any, Any]] = {}
        self._idf: dict[str, float] = {}
        self._built = False
        self._pending: list[Tool] = [] if self._toolset is not None else list(tools)

    @property
    def encoder(self) -> Encoder:
        """The sentence encoder (the shared one unless another was given)."""
        if self._encoder is None:
            from funcroute.offline.encoder import shared_encoder

            self._encoder = shared_encoder()
        return self._encoder

    def __len__(self) -> int:
        self._sync()
        return len(self._tools)

    @property
    def names(self) -> list[str]:
        """Indexed tool names, in index order."""
        self._sync()
        return [t.name for t in self._tools]

    def add(self, tools: Iterable[Tool]) -> None:
        """Index more tools (a tool whose name is already indexed replaces the old one)."""
        with self._lock:
            self._pending.extend(tools)
            self._built = False

    def _sync(self) -> None:
        with self._lock:
            if self._toolset is not None and self._toolset.fingerprint != self._fingerprint:
                self._pending = list(self._toolset)
                self._tools, self._rows = [], {}
                self._fingerprint = self._toolset.fingerprint
                self._built = False
            if not self._built:
                self._build()

    def _build(self) -> None:
        for tool in self._pending:
            if tool.name in self._rows:
                self._tools[self._rows[tool.name]] = tool
            else:
                self._rows[tool.name] = len(self._tools)
                self._tools.append(tool)
        self._pending = []
        short = [tool_text(t, parameters=False) for t in self._tools]
        rich = [tool_text(t) for t in self._tools]
        # Only texts this index has not seen go to the encoder (which has its own disk cache), so
        # adding a few tools to a catalog of 10,000 embeds only those.
        fresh = [t for t in dict.fromkeys(short + rich) if t not in self._vectors]
        if fresh:
            self._vectors.update(zip(fresh, self.encoder.encode(fresh), strict=True))
        if self._tools:
            # The plain mean of the two unit vectors (not re-normalised): a tool whose two texts
            # disagree should not score as high as one whose texts both match.
            first = np.stack([self._vectors[t] for t in short])
            second = np.stack([self._vectors[t] for t in rich])
            self._matrix = ((first + second) / 2.0).astype(np.float32)
        else:
            self._matrix = np.zeros((0, 384), dtype=np.float32)
        live = set(short) | set(rich)
        self._vectors = {t: v for t, v in self._vectors.items() if t in live}
        names: dict[str, list[int]] = {}
        sizes = []
        for row, tool in enumerate(self._tools):
            stems = set(content_words(name_words(tool.name)))
            sizes.append(max(len(stems), 1))
            for term in stems:
                names.setdefault(term, []).append(row)
        self._name_postings = {t: np.array(ids) for t, ids in names.items()}
        self._name_sizes = np.array(sizes, dtype=np.float32)
        self._index_bm25(rich)
        self._built = True

    def _index_bm25(self, texts: Sequence[str]) -> None:
        docs = [content_words(t) for t in texts]
        lengths = np.array([len(d) for d in docs], dtype=np.float32)
        avg = float(lengths.mean()) if len(docs) else 1.0
        postings: dict[str, tuple[list[int], list[float]]] = {}
        for row, doc in enumerate(docs):
            norm = _BM25_K1 * (1 - _BM25_B + _BM25_B * lengths[row] / max(avg, 1e-9))
            for term, tf in Counter(doc).items():
                ids, weights = postings.setdefault(term, ([], []))
                ids.append(row)
                weights.append(tf * (_BM25_K1 + 1) / (tf + norm))
        n = len(docs)
        self._postings = {t: (np.array(i), np.array(w, dtype=np.float32)) for t, (i, w) in postings.items()}
        self._idf = {t: math.log(1 + (n - len(i) + 0.5) / (len(i) + 0.5)) for t, (i, _) in postings.items()}

    def scores(self, query: str, *, query_vector: Matrix | None = None) -> Scores:
        """Score every tool against ``query`` (see :class:`Scores`)."""
        vector = self.encoder.encode_query(query) if query_vector is None else query_vector
        with self._lock:  # a concurrent rebuild must not swap the arrays halfway (scoring takes ~1 ms)
            return self._scores(query, vector)

    def _scores(self, query: str, vector: Matrix) -> Scores:
        self._sync()
        n = len(self._tools)
        # einsum runs on this thread; a BLAS matvec this small waits on its helper threads, which on
        # a busy CPU costs milliseconds (measured p50 7.8 ms vs 0.6 ms best case on 2 cores).
        dense = np.einsum("ij,j->i", self._matrix, vector) if n else np.zeros(0, dtype=np.float32)
        terms = set(content_words(query))
        query_cover = np.zeros(n, dtype=np.float32)
        bm25 = np.zeros(n, dtype=np.float32)
        for term in terms:
            posting = self._postings.get(term)
            if posting is not None:
                ids, weights = posting
                query_cover[ids] += 1.0
                bm25[ids] += self._idf[term] * weights
        query_cover /= max(len(terms), 1)
        top = float(bm25.max()) if n else 0.0
        if top > 0:
            bm25 /= top
        name_cover = np.zeros(n, dtype=np.float32)
        for term in terms:
            ids = self._name_postings.get(term)
            if ids is not None:
                name_cover[ids] += 1.0
        name_cover /= self._name_sizes
        return Scores([t.name for t in self._tools], dense, query_cover, name_cover, bm25)

    def search(
        self, query: str, k: int = 5, *, query_vector: Matrix | None = None
    ) -> list[tuple[str, float]]:
        """The ``k`` best tools for ``query`` as ``(name, score)``, best first.

        Args:
            query: the command.
            k: how many tools.
            query_vector: the query's embedding, if already computed.
        """
        scores = self.scores(query, query_vector=query_vector)
        ranking = scores.ranking
        k = min(k, len(ranking))
        if k <= 0:
            return []
        top = np.argpartition(-ranking, k - 1)[:k] if k < len(ranking) else np.arange(len(ranking))
        top = top[np.argsort(-ranking[top], kind="stable")]
        return [(scores.names[i], float(ranking[i])) for i in top]

    def selector(
        self,
        k: int | None = 5,
        *,
        max_tokens: int | None = None,
        count_tokens: Callable[[str], int] | None = None,
    ) -> Callable[[str], list[str]]:
        """A ``tool_selector`` for :class:`~funcroute.routing.router.Router`: the best tools for a command.

        Args:
            k: at most this many tools (``None``: no count limit).
            max_tokens: also stop before the rendered tool blocks exceed this many tokens (needs
                an index over a ToolSet, whose rendering is measured).
            count_tokens: tokens in a text (default: characters / 4, a fair estimate for English).
        """
        if k is None and max_tokens is None:
            raise ValueError("give k, max_tokens or both")
        if max_tokens is not None and self._toolset is None:
            raise ValueError("max_tokens needs an index built over a ToolSet (to measure rendered tools)")
        counter = count_tokens or (lambda text: len(text) // 4 + 1)

        def select(command: str) -> list[str]:
            ranked = [name for name, _ in self.search(command, k if k is not None else len(self))]
            if max_tokens is None or self._toolset is None:
                return ranked
            chosen: list[str] = []
            used = 0
            for name in ranked:
                cost = counter(self._toolset.render_tools([name]))
                if chosen and used + cost > max_tokens:
                    break
                chosen.append(name)
                used += cost
            return chosen

        return select
